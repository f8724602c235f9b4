"""Bad-input rows: checkpoints, export and tools (issue #10 items 8, 11, 12).

The same inputs go through the stock tools in subprocesses in
``tests/test_utils/test_checkpoint_security.py``,
``tests/test_tools/test_extract_student.py`` and
``tests/test_engine/test_hooks/test_check_finite_hook.py``.
"""
import os
import os.path as osp
import pickle
import subprocess
from types import SimpleNamespace

import torch
from case import Case
from tool_loader import load_tool


class _RunsCommand:

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _crafted(ctx, fn, *args):
    path = str(ctx.tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'meta': {'x': _RunsCommand(fn, *args)}},
               path)
    return path


def _mmengine_loader(ctx):
    """What load_from, --resume, tools/test.py and Pretrained init call."""
    from mmengine.runner.checkpoint import CheckpointLoader

    import mmbeamclip  # noqa: F401
    marker = ctx.tmp_path / 'MARKER'
    path = _crafted(ctx, subprocess.call, ['touch', str(marker)])
    try:
        CheckpointLoader.load_checkpoint(path, map_location='cpu')
    finally:
        assert not marker.exists(), 'the crafted checkpoint ran its command'


def _getattr_walk(ctx):
    from mmengine.logging import HistoryBuffer

    from mmbeamclip.utils.checkpoint import load_checkpoint
    path = str(ctx.tmp_path / 'walk.pth')
    torch.save({'x': _RunsCommand(getattr, HistoryBuffer, '__init__')}, path)
    load_checkpoint(path)


def _load_file(content):

    def run(ctx):
        from mmbeamclip.utils.checkpoint import load_checkpoint
        path = ctx.tmp_path / 'model.pth'
        path.write_bytes(content)
        load_checkpoint(str(path))

    return run


def _extract(make_out, content=None):

    def run(ctx):
        ckpt = ctx.tmp_path / 'epoch_1.pth'
        torch.save(content or {'state_dict': {'backbone.w': torch.ones(2)}},
                   str(ckpt))
        size = osp.getsize(ckpt)
        try:
            load_tool('extract_student').main([str(ckpt), make_out(ctx, ckpt)])
        finally:
            assert osp.getsize(ckpt) == size, 'the input was overwritten'

    return run


def _symlink(ctx, ckpt):
    out = ctx.tmp_path / 'student.pth'
    out.symlink_to(ckpt)
    return str(out)


def _diverged_save(ctx):
    from mmbeamclip.engine.hooks import CheckFiniteHook
    state = {'backbone.bn1.running_var': torch.tensor([1., float('inf')])}
    CheckFiniteHook().before_save_checkpoint(
        SimpleNamespace(iter=8, model=None), dict(state_dict=state))


def _knn_class_mismatch(ctx):
    from PIL import Image
    for split, cls in (('train', 'a'), ('train', 'b'), ('val', 'a'),
                       ('val', 'c')):
        os.makedirs(ctx.tmp_path / 'data' / split / cls, exist_ok=True)
        Image.new('RGB', (8, 8)).save(
            ctx.tmp_path / 'data' / split / cls / '0.png')
    ckpt = str(ctx.tmp_path / 'student.pth')
    torch.save({'state_dict': {'backbone.w': torch.ones(1)}}, ckpt)
    load_tool('knn_eval').main(
        [ckpt, '--data-root', str(ctx.tmp_path / 'data'), '--workers', '0'])


def _knn_k0(ctx):
    from mmbeamclip.evaluation import knn_scores
    knn_scores(torch.ones(1, 2), torch.ones(3, 2), torch.zeros(3), 1, k=0)


CASES = [
    Case('crafted-checkpoint', 'security', _mmengine_loader,
         pickle.UnpicklingError, ('refused to load', 'evil.pth', 'call'),
         'a `load_from` / `--resume` / `tools/test.py` / `Pretrained` file '
         'whose unpickling runs a command: refused (weights-only loading '
         'with an allow-list), the command never runs, the file and the '
         'offending global are named'),
    Case('crafted-checkpoint-getattr', 'security', _getattr_walk,
         pickle.UnpicklingError, ('getattr', '__init__'),
         'a checkpoint that uses `getattr` beyond the HistoryBuffer '
         'statistics mmengine pickles: refused'),
    Case('checkpoint-text-file', 'traceback', _load_file(b'epoch 1\n'),
         ValueError, ('model.pth', 'not a torch checkpoint'),
         'a text file given as a checkpoint: clear error naming it'),
    Case('checkpoint-empty-file', 'traceback', _load_file(b''), ValueError,
         ('model.pth', 'not a torch checkpoint'),
         'a zero-byte checkpoint (interrupted copy): clear error naming it'),
    Case('checkpoint-truncated', 'traceback', _load_file(b'PK\x03\x04abc'),
         ValueError, ('model.pth', 'truncated'),
         'a truncated checkpoint: clear error naming it'),
    Case('extract-onto-input', 'data-loss',
         _extract(lambda ctx, ckpt: str(ckpt)), ValueError,
         ('epoch_1.pth', 'input checkpoint'),
         '`extract_student.py CKPT CKPT`: refused, the training checkpoint '
         'is untouched (the output is written atomically otherwise)'),
    Case('extract-onto-input-symlink', 'data-loss', _extract(_symlink),
         ValueError, ('student.pth', 'input checkpoint'),
         '`extract_student.py CKPT LINK` where LINK points at CKPT (or a '
         'hard link, or another spelling of the path): refused '
         '(`os.path.samefile`)'),
    Case('extract-no-backbone', 'traceback',
         _extract(lambda ctx, ckpt: str(ctx.tmp_path / 'out.pth'),
                  {'state_dict': {'head.fc.weight': torch.ones(2)}}),
         ValueError, ('epoch_1.pth', 'backbone.'),
         '`extract_student.py` on a state dict without `backbone.` keys: '
         'clear error naming the file'),
    Case('diverged-weights', 'silent', _diverged_save, RuntimeError,
         ('diverged', 'backbone.bn1.running_var', 'not finite'),
         '`CheckFiniteHook`: non-finite or huge (> 1e6) weights or '
         'BatchNorm statistics (lr = 1e6): training stops naming the '
         'tensor before the checkpoint is written'),
    Case('knn-class-mismatch', 'clear-error', _knn_class_mismatch,
         ValueError, ('train/', 'val/', 'class'),
         '`tools/knn_eval.py` on a folder whose train/ and val/ classes '
         'differ: refused instead of scoring against the wrong labels'),
    Case('knn-k-zero', 'clear-error', _knn_k0, ValueError, ('k must be', ),
         '`knn_eval.py --k 0`: clear error'),
]
