"""No tool writes over one of its inputs (issue 19).

Every tool of ``tools/`` and ``benchmarks/`` that writes a file checks its
outputs with :func:`mmbeamclip.utils.check_not_input` before it does any
work: the same path, another spelling, a symlink or a hard link of an input
is refused with one line naming both. ``build_vocabulary.py`` reads no
file; ``build_prompt_bank.py`` and ``cache_teacher_targets.py`` write into
cache folders named by the config's hash, never a user's path.
"""
import importlib.util
import os
import os.path as osp
import sys

import pytest
import torch
from tool_loader import load_tool
from tool_process import run_tool

from mmbeamclip.utils import check_not_input
from mmbeamclip.utils.stock_tools import check_stock_tool_outputs

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _benchmark_script(name):
    spec = importlib.util.spec_from_file_location(
        f'bench_{name}', osp.join(ROOT, 'benchmarks', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def inputs(tmp_path):
    ckpt = tmp_path / 'epoch_1.pth'
    torch.save({'state_dict': {'backbone.w': torch.ones(2)}}, str(ckpt))
    folder = tmp_path / 'data'
    folder.mkdir()
    return str(ckpt), str(folder), ckpt.read_bytes()


@pytest.mark.parametrize('spelling', ['same', 'dotted', 'symlink', 'hardlink'])
def test_check_not_input_sees_every_spelling(tmp_path, spelling):
    src = tmp_path / 'in.pth'
    src.write_bytes(b'weights')
    out = {
        'same': str(src),
        'dotted': str(tmp_path / '.' / 'sub' / '..' / 'in.pth'),
        'symlink': str(tmp_path / 'link.pth'),
        'hardlink': str(tmp_path / 'hard.pth'),
    }[spelling]
    if spelling == 'symlink':
        os.symlink(src, out)
    elif spelling == 'hardlink':
        os.link(src, out)
    with pytest.raises(ValueError) as info:
        check_not_input(out, dict(checkpoint=str(src), config=None))
    assert str(info.value).count('\n') == 0
    assert 'input checkpoint' in str(info.value) and out in str(info.value)


def test_check_not_input_accepts_other_paths(tmp_path):
    (tmp_path / 'in.pth').write_bytes(b'x')
    check_not_input(str(tmp_path / 'new.json'),
                    dict(checkpoint=str(tmp_path / 'in.pth'), config=None))
    check_not_input(None, dict(checkpoint=str(tmp_path / 'in.pth')))


def _main(tool, argv):
    return lambda: load_tool(tool).main(argv)


def _parse(tool, argv):
    return lambda: load_tool(tool).parse_args(argv)


def _sys_argv(load, argv):

    def run(monkeypatch):
        monkeypatch.setattr(sys, 'argv', argv)
        load().parse_args()

    return run


def _tool_calls(ckpt, folder):
    """(tool, call) for every tool that writes a file, each given an output
    that is one of its inputs."""
    return {
        'knn_eval': _main('knn_eval',
                          [ckpt, '--data-root', folder, '--out', ckpt]),
        'extract_student': _main('extract_student', [ckpt, ckpt]),
        'ambiguity_report': _parse('ambiguity_report', [
            '--model', 'RN50', '--pretrained', ckpt, '--out', ckpt]),
        'generate_contexts': _parse('generate_contexts',
                                    [ckpt, '--out', ckpt]),
        'stage_teacher': _sys_argv(
            lambda: load_tool('stage_teacher'),
            ['stage_teacher.py', 'RN50', ckpt, '--out', ckpt]),
        'demo': _sys_argv(
            lambda: load_tool('demo'),
            ['demo.py', '--data-root', folder, '--work-dir', folder]),
        'build_proxy_teacher': _sys_argv(
            lambda: _benchmark_script('build_proxy_teacher'),
            ['build_proxy_teacher.py', '--out', folder, '--images', folder]),
        'throughput': lambda: _benchmark_script('throughput').parse_args(
            ['--teacher-pretrained', ckpt, '--json', ckpt]),
        'quality': lambda: _benchmark_script('quality').parse_args(
            ['--data-root', folder, '--work-dir', folder]),
        'train.py': lambda: check_stock_tool_outputs(
            'train.py', [osp.join(folder, 'exp.py'), '--work-dir', folder]),
        'test.py': lambda: check_stock_tool_outputs(
            'test.py', ['exp.py', ckpt, '--out', ckpt, '--cfg-options',
                        'a=1']),
    }


TOOLS = sorted(_tool_calls('', ''))


@pytest.mark.parametrize('tool', TOOLS)
def test_every_tool_refuses_input_as_output(tool, inputs, monkeypatch,
                                            capsys):
    ckpt, folder, content = inputs
    call = _tool_calls(ckpt, folder)[tool]
    with pytest.raises((ValueError, SystemExit)) as info:
        if tool in ('stage_teacher', 'demo', 'build_proxy_teacher'):
            call(monkeypatch)
        else:
            call()
    if info.type is SystemExit:
        assert info.value.code == 2
        message = capsys.readouterr().err
    else:
        message = str(info.value)
    assert message.strip().count('\n') == 0, message
    assert 'input' in message and ('destroy' in message
                                   or 'overwrite' in message), message
    with open(ckpt, 'rb') as f:
        assert f.read() == content


def test_knn_eval_out_onto_checkpoint_subprocess(inputs):
    """The reported case: the 94 MB checkpoint was replaced with JSON."""
    ckpt, folder, content = inputs
    proc = run_tool([
        sys.executable, 'tools/knn_eval.py', ckpt, '--data-root', folder,
        '--out', ckpt
    ], cwd=ROOT, timeout=120)
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert f'knn_eval.py: error: {ckpt} is the input checkpoint' in \
        proc.stdout
    assert 'Traceback' not in proc.stdout
    with open(ckpt, 'rb') as f:
        assert f.read() == content


def test_train_work_dir_of_the_config_subprocess(tmp_path):
    """mmengine would dump the flattened config over the user's own."""
    cfg = tmp_path / 'exp.py'
    text = "_base_ = ['../base.py']  # my notes\n"
    cfg.write_text(text)
    proc = run_tool([
        sys.executable, 'tools/train.py', str(cfg), '--work-dir',
        str(tmp_path)
    ], cwd=ROOT, timeout=120)
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert 'train.py: error: --work-dir' in proc.stdout
    assert 'Traceback' not in proc.stdout
    assert cfg.read_text() == text


def test_a_config_dump_may_be_rerun_in_its_work_dir(tmp_path):
    """Re-running ``WORK_DIR/exp.py`` (mmengine's own dump, as the benchmark
    does) there rewrites nothing of the user's; a comment or a ``_base_``
    would be lost, so those are refused."""
    cfg = tmp_path / 'exp.py'
    cfg.write_text("model = dict(type='BeamCLIP')\nseed = 0\n")
    argv = [str(cfg), '--work-dir', str(tmp_path)]
    check_stock_tool_outputs('train.py', argv)
    cfg.write_text("model = dict(type='BeamCLIP')  # mine\n")
    with pytest.raises(ValueError, match='--work-dir'):
        check_stock_tool_outputs('train.py', argv)
    cfg.write_text("_base_ = ['base.py']\n")
    with pytest.raises(ValueError, match='--work-dir'):
        check_stock_tool_outputs('train.py', argv)
