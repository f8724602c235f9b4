"""A checkpoint's stored config is read as data: what mmengine writes
parses to the same config, anything that is not a literal is refused."""
import os.path as osp

import pytest
from mmengine.config import Config

from mmbeamclip.utils.stored_config import parse_stored_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.mark.parametrize('config', [
    'configs/beamclip/'
    'beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py',
    'configs/simclr/simclr_resnet18_1xb32-2e_imagefolder.py',
])
def test_what_mmengine_saves_reads_back(config):
    """``meta['cfg']`` is ``Config.pretty_text`` (the SimCLR config has
    ``dict({'a.b': ...})`` keys that are not names)."""
    text = Config.fromfile(osp.join(ROOT, config)).pretty_text
    parsed = parse_stored_config(text, 'ckpt.pth')
    assert parsed.to_dict() == Config.fromstring(text, '.py').to_dict()


def test_literals():
    cfg = parse_stored_config(
        "a = dict(x=-1, y=(1, 2.5), z=[None, True], w={'k.v': {3}})\n"
        "b = c = dict({'a.b': 1}, d=+2)\n", 'ckpt.pth')
    assert cfg.a == dict(x=-1, y=(1, 2.5), z=[None, True], w={'k.v': {3}})
    assert cfg.b == cfg.c == {'a.b': 1, 'd': 2}
    assert parse_stored_config('', 'ckpt.pth') is None
    assert parse_stored_config(dict(a=1), 'ckpt.pth').a == 1


@pytest.mark.parametrize('text', [
    "_x = __import__('os').system('touch MARKER')",
    'import os',
    'from os import system',
    "a = open('x')",
    'a = os.environ',
    'a = b',
    'a = [i for i in range(3)]',
    'a = lambda: 0',
    "a = f'{1}'",
    'a = dict(**b)',
    'a = {**b}',
    'a = dict([1, 2])',
    'a = 1 + 2',
    'a = -b',
    'a.b = 1',
    'a[0] = 1',
    'a: int = 1',
    'if True:\n    a = 1',
    "exec('a = 1')",
    'a = not 1',
])
def test_anything_but_literals_is_refused(text):
    with pytest.raises(ValueError) as info:
        parse_stored_config(text, 'ckpt.pth')
    message = str(info.value)
    assert '\n' not in message
    assert 'ckpt.pth' in message and '--config CONFIG' in message


@pytest.mark.parametrize('text', ['a = (', 'a = ' + '[' * 5000 + ']' * 5000,
                                  42])
def test_unreadable_is_one_line(text):
    with pytest.raises(ValueError, match='ckpt.pth') as info:
        parse_stored_config(text, 'ckpt.pth')
    assert '\n' not in str(info.value)
