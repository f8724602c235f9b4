import json

import pytest

from mmbeamclip.prompts import (imagenet_classnames, imagenet_wnids,
                                resolve_classnames, resolve_templates)


def test_template_presets():
    openai = resolve_templates('openai_imagenet')
    assert len(openai) == 80 and len(set(openai)) == 80
    assert 'a bad photo of a {}.' in openai
    assert len(resolve_templates('simple_imagenet')) == 7
    assert resolve_templates('vanilla') == ['a photo of a {}.']


def test_imagenet_lists_agree():
    names, wnids = imagenet_classnames(), imagenet_wnids()
    assert len(names) == len(wnids) == 1000
    assert wnids[0] == 'n01440764' and names[0] == 'tench'
    assert resolve_classnames(['n03888257', 'n02102040']) == [
        'parachute', 'English Springer Spaniel'
    ]


def test_lists_and_files(tmp_path):
    txt = tmp_path / 'c.txt'
    txt.write_text('cat\n\ndog\n')
    js = tmp_path / 't.json'
    js.write_text(json.dumps(['a {}.', 'the {}!']))
    assert resolve_classnames(str(txt)) == ['cat', 'dog']
    assert resolve_templates(str(js)) == ['a {}.', 'the {}!']
    assert resolve_classnames(('x', 'y')) == ['x', 'y']


@pytest.mark.parametrize('bad,match', [
    (['a photo of a cat.'], 'exactly one'),
    (['{} and {}'], 'exactly one'),
    ([], 'empty'),
    ('no_such_preset', 'neither a preset'),
])
def test_bad_templates(bad, match):
    with pytest.raises(ValueError, match=match):
        resolve_templates(bad)


def test_bad_classnames():
    with pytest.raises(ValueError, match='empty'):
        resolve_classnames([])
    with pytest.raises(ValueError, match='outside ImageNet-1k'):
        resolve_classnames(['n99999999'])
