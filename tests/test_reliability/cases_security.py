"""Bad-input rows: code execution and overwritten inputs (issue 19).

A checkpoint's stored config is read as data, never executed; no tool
writes over one of its inputs; deeply nested JSON is one line. The same
inputs go through the tools in subprocesses in
``tests/test_utils/test_checkpoint_security.py`` and
``tests/test_tools/test_output_not_input.py``.
"""
import pickle

import numpy as np
import torch
from case import Case
from tool_loader import load_tool


class _Calls:
    """Unpickling calls ``fn(*args)``: what a crafted pickle does."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _stored_config(cfg_text):
    """``training_config`` of a checkpoint storing ``cfg_text``; the text
    may write ``{marker}``, which must never appear."""

    def run(ctx):
        from mmbeamclip.utils.student_extraction import training_config
        marker = ctx.tmp_path / 'MARKER'
        ckpt = dict(meta=dict(cfg=cfg_text.format(marker=marker)))
        try:
            training_config(ckpt, source='epoch_1.pth')
        finally:
            assert not marker.exists(), 'the stored config was executed'

    return run


def _extract_crafted_config(ctx):
    marker, out = ctx.tmp_path / 'MARKER', ctx.tmp_path / 'student.pth'
    ckpt = str(ctx.tmp_path / 'epoch_1.pth')
    torch.save(
        dict(
            meta=dict(cfg=f"_x = __import__('os').system('touch {marker}')"),
            state_dict={'backbone.w': torch.ones(2)}), ckpt)
    try:
        load_tool('extract_student').main([ckpt, str(out)])
    finally:
        assert not marker.exists() and not out.exists()


def _onto_input(tool, make_args):
    """``tools/<tool>.py`` given an output that is one of its inputs; the
    input keeps its bytes."""

    def run(ctx):
        path = ctx.tmp_path / 'input.pth'
        torch.save({'state_dict': {'backbone.w': torch.ones(2)}}, str(path))
        before = path.read_bytes()
        try:
            module = load_tool(tool)
            module.main(make_args(ctx, str(path)))
        finally:
            assert path.read_bytes() == before, 'the input was overwritten'

    return run


def _stock_tool(name, make_args):

    def run(ctx):
        from mmbeamclip.utils.stock_tools import check_stock_tool_outputs
        check_stock_tool_outputs(name, make_args(ctx))

    return run


def _train_work_dir(ctx):
    cfg = ctx.tmp_path / 'exp.py'
    cfg.write_text("_base_ = ['../base.py']\n")
    return [str(cfg), '--work-dir', str(ctx.tmp_path)]


def _empty_arrays_load(ctx):
    from mmbeamclip.utils.checkpoint import load_checkpoint
    path = str(ctx.tmp_path / 'ckpt.pth')
    torch.save(dict(meta=dict(counts=np.zeros((0, 2), np.int64))), path)
    assert load_checkpoint(path)['meta']['counts'].shape == (0, 2)
    torch.save(dict(meta=dict(x=_Calls(bytes, 10**6))), path)
    load_checkpoint(path)


def _deep_json(ctx):
    from mmbeamclip.prompts.contexts import JSONContexts
    path = ctx.tmp_path / 'contexts.json'
    path.write_text('{"cat": ' + '[' * 100000 + ']' * 100000 + '}')
    JSONContexts(str(path))


def _benchmark_probe(ctx):
    from beamclip_bench.probes import load_backbone
    marker, path = ctx.tmp_path / 'MARKER', str(ctx.tmp_path / 'evil.pth')
    torch.save({'state_dict': _Calls(eval, f"open('{marker}', 'w')")}, path)
    try:
        load_backbone(path)
    finally:
        assert not marker.exists()


CASES = [
    Case('stored-config-exec', 'security',
         _stored_config("_x = __import__('os').system('touch {marker}')"),
         ValueError, ('epoch_1.pth', 'not plain data', '--config'),
         'a checkpoint whose stored config (`meta["cfg"]`) runs a command: '
         '`knn_eval.py` and `extract_student.py` read it as data (`ast`, '
         'literals and `dict(...)` only) and refuse it, naming the file, the '
         'line and `--config`; the command never runs'),
    Case('stored-config-exec-in-value', 'security',
         _stored_config("model = dict(backbone=dict(depth=__import__('os')"
                        ".system('touch {marker}')))"), ValueError,
         ('epoch_1.pth', 'line 1', '__import__'),
         'the same command hidden inside a config value: refused'),
    Case('stored-config-import', 'security',
         _stored_config('import os\nmodel = dict()'), ValueError,
         ('epoch_1.pth', 'import os'),
         'a stored config with an `import` statement: refused'),
    Case('stored-config-deeply-nested', 'traceback',
         _stored_config('model = ' + '[' * 5000 + ']' * 5000), ValueError,
         ('epoch_1.pth', 'not a readable config', '--config'),
         'a stored config nested 5000 deep: one line, not a parser error'),
    Case('extract-carries-stored-config', 'security',
         _extract_crafted_config, ValueError,
         ('epoch_1.pth', 'not plain data'),
         '`extract_student.py CKPT student.pth` (plain `.pth`) of a '
         'checkpoint with a crafted stored config: refused, so no '
         '`student.pth` carries the payload to the next tool'),
    Case('knn-out-onto-checkpoint', 'data-loss',
         _onto_input('knn_eval', lambda ctx, p: [
             p, '--data-root', str(ctx.tmp_path), '--out', p]),
         ValueError, ('input.pth', 'input checkpoint', 'another output'),
         '`knn_eval.py CKPT --out CKPT` (or a link to it): refused before '
         'anything runs (replaced a 94 MB checkpoint with JSON)'),
    Case('knn-out-onto-data-root', 'clear-error',
         _onto_input('knn_eval', lambda ctx, p: [
             p, '--data-root', str(ctx.tmp_path), '--out',
             str(ctx.tmp_path)]),
         ValueError, ('input data_root', ),
         '`knn_eval.py --out DATA_ROOT`: refused up front (was "Is a '
         'directory" after the whole evaluation)'),
    Case('extract-onto-config', 'data-loss',
         _onto_input('extract_student', lambda ctx, p: [
             p, str(ctx.tmp_path / 'exp.py'), '--config',
             str(ctx.tmp_path / 'exp.py')]),
         ValueError, ('exp.py', 'input config'),
         '`extract_student.py CKPT CFG --config CFG`: refused (wrote the '
         'student over the config)'),
    Case('train-work-dir-dumps-over-config', 'data-loss',
         _stock_tool('train.py', _train_work_dir), ValueError,
         ('--work-dir', 'exp.py', 'another --work-dir'),
         '`tools/train.py DIR/exp.py --work-dir DIR`: refused (mmengine dumps '
         'the config to `WORK_DIR/exp.py`, replacing the user\'s config, its '
         '`_base_` and comments, by the flattened dump)'),
    Case('test-out-onto-checkpoint', 'traceback',
         _stock_tool('test.py', lambda ctx: [
             'exp.py', 'epoch_1.pth', '--out', 'epoch_1.pth']),
         ValueError, ('epoch_1.pth', 'input checkpoint'),
         '`tools/test.py CFG CKPT --out CKPT`: refused in one line before '
         'the model is built (mmpretrain stopped with a "must be a pkl '
         'file" traceback; a checkpoint named `.pkl` would be overwritten '
         'by the results dump)'),
    Case('checkpoint-empty-numpy-array', 'clear-error', _empty_arrays_load,
         pickle.UnpicklingError, ('bytes(1000000', ),
         'a real checkpoint holding an empty numpy array loads (was refused: '
         '`builtins.bytes` not allowed); only `bytes()` is allowed, a '
         'crafted `bytes(n)` (n bytes of memory) stays refused'),
    Case('json-deeply-nested', 'traceback', _deep_json, ValueError,
         ('contexts.json', 'nested too deeply'),
         'a JSON file (contexts, class list, cache manifest, `local-dir:` '
         'config, `--contexts` value) nested 100000 deep: one line naming '
         'it, not a `RecursionError` traceback'),
    Case('benchmark-probe-crafted-checkpoint', 'security', _benchmark_probe,
         pickle.UnpicklingError, ('refused to load', 'evil.pth'),
         'the benchmark\'s probe loaded checkpoints with '
         '`weights_only=False`: a crafted one is refused, the command never '
         'runs'),
]
