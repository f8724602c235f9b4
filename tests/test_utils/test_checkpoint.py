"""Safe checkpoint loading: mmengine checkpoints load, crafted pickles don't.

In-process checks of :func:`mmbeamclip.utils.checkpoint.load_checkpoint`;
``test_checkpoint_security.py`` feeds the same files to the stock tools.
"""
import os
import pickle
import subprocess

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import CheckpointLoader

from mmbeamclip.utils.checkpoint import load_checkpoint
from mmbeamclip.utils.student_extraction import (extract_student,
                                                 training_config)


class RunsCommand:
    """Unpickling calls ``fn(*args)``: what a crafted checkpoint does."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def mmengine_like_checkpoint():
    """What mmengine's runner saves: message hub buffers with numpy data."""
    hub = MessageHub('test-checkpoint-hub')
    for i in range(3):
        hub.update_scalar('train/loss', np.float64(1.5 - i / 4))
        hub.update_scalar('train/lr', 0.1 / (i + 1))
    hub.update_info('iter', 3)
    hub.update_info('counts', np.arange(4, dtype=np.int64))
    return dict(
        meta=dict(epoch=1, iter=3, cfg="model = dict(backbone=dict("
                  "type='ResNet', depth=18))", seed=0),
        state_dict={'backbone.w': torch.arange(6.).view(2, 3),
                    'head.bank': torch.ones(2)},
        message_hub=hub.state_dict(),
        optimizer=dict(state={}, param_groups=[dict(lr=0.1, params=[0])]))


def test_mmengine_checkpoint_round_trips(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    ckpt = mmengine_like_checkpoint()
    torch.save(ckpt, path)
    # plain weights-only loading refuses it: the allow-list is needed
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    loaded = load_checkpoint(path)
    buf = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer)
    assert buf.mean() == pytest.approx(np.mean([1.5, 1.25, 1.0]))
    assert buf.statistics('current') == pytest.approx(1.0)
    np.testing.assert_array_equal(
        loaded['message_hub']['runtime_info']['counts'], np.arange(4))
    torch.testing.assert_close(loaded['state_dict']['backbone.w'],
                               ckpt['state_dict']['backbone.w'])
    # mmengine's own loader (load_from, resume, Pretrained) uses it
    via_mmengine = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert via_mmengine['meta']['iter'] == 3


@pytest.mark.parametrize('payload', [
    RunsCommand(os.system, 'touch {marker}'),
    RunsCommand(subprocess.call, ['touch', '{marker}']),
    RunsCommand(eval, "open('{marker}', 'w')"),
],
                         ids=['os.system', 'subprocess.call', 'eval'])
def test_crafted_pickle_is_refused(payload, tmp_path):
    marker = tmp_path / 'MARKER'
    payload.args = tuple(
        a.format(marker=marker) if isinstance(a, str) else
        [x.format(marker=marker) for x in a] for a in payload.args)
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'meta': {'x': payload}}, path)
    for load in (load_checkpoint, lambda p: CheckpointLoader.load_checkpoint(
            p, map_location='cpu')):
        with pytest.raises(pickle.UnpicklingError, match='Refused to load'):
            load(path)
    assert not marker.exists()


def test_getattr_is_limited_to_history_buffer_statistics(tmp_path):
    path = str(tmp_path / 'getattr.pth')
    torch.save({'x': RunsCommand(getattr, HistoryBuffer, '__init__')}, path)
    with pytest.raises(pickle.UnpicklingError, match='getattr'):
        load_checkpoint(path)
    torch.save({'x': RunsCommand(getattr, HistoryBuffer, 'mean')}, path)
    assert load_checkpoint(path)['x'] is HistoryBuffer.mean


def test_empty_numpy_arrays_load(tmp_path):
    # protocol 2 pickles the empty data of an empty array as bytes()
    path = str(tmp_path / 'empty.pth')
    empty = dict(a=np.zeros(0), b=np.zeros((0, 3), np.int64), c=b'')
    torch.save(empty, path)
    loaded = load_checkpoint(path)
    assert loaded['b'].shape == (0, 3) and loaded['b'].dtype == np.int64
    assert loaded['a'].size == 0 and loaded['c'] == b''
    # but bytes(n) is refused: it would allocate n bytes of the file's choice
    torch.save({'x': RunsCommand(bytes, 10**6)}, path)
    with pytest.raises(pickle.UnpicklingError, match=r'bytes\(1000000'):
        load_checkpoint(path)


@pytest.mark.parametrize('content', [b'', b'hello world\n', 'truncated'],
                         ids=['empty', 'text', 'truncated'])
def test_not_a_checkpoint_names_the_file(content, tmp_path):
    path = tmp_path / 'bad.pth'
    if content == 'truncated':
        torch.save({'w': torch.zeros(1000)}, str(path))
        content = path.read_bytes()[:200]
    path.write_bytes(content)
    with pytest.raises(ValueError, match='not a torch checkpoint') as info:
        load_checkpoint(str(path))
    assert str(path) in str(info.value)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        load_checkpoint('/nowhere/nowhere.pth')


def test_extract_student_keeps_backbone_and_provenance():
    ckpt = mmengine_like_checkpoint()
    student = extract_student(ckpt)
    assert list(student['state_dict']) == ['backbone.w']
    assert 'message_hub' not in student['meta']
    assert student['meta']['cfg'] == ckpt['meta']['cfg']
    # Plain torchvision keys only for a student torchvision can load.
    with pytest.raises(ValueError, match='not a ResNet torchvision has'):
        extract_student(ckpt, torchvision=True)
    assert training_config(student).model.backbone.depth == 18
    with pytest.raises(ValueError, match='backbone'):
        extract_student({'state_dict': {'head.w': torch.zeros(1)}})
