"""CheckFiniteHook: a diverged run stops before writing a checkpoint."""
import os
import os.path as osp
import sys
from types import SimpleNamespace

import pytest
import torch
from conftest import write_image_folder
from tool_process import run_tool

from mmbeamclip.engine.hooks import CheckFiniteHook
from mmbeamclip.engine.hooks.check_finite_hook import first_bad_tensor

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
CONFIG = osp.join(
    ROOT, 'configs/beamclip/'
    'beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py')


def test_first_bad_tensor():
    good = [('a', torch.ones(3)), ('steps', torch.tensor(10**9))]
    assert first_bad_tensor(good, 1e6) is None
    for bad, expect in ((float('nan'), 'nan'), (float('inf'), 'inf'),
                        (-2e6, 2e6)):
        t = torch.zeros(4)
        t[2] = bad
        name, peak = first_bad_tensor(good + [('b', t), ('c', t)], 1e6)
        assert name == 'b'
        assert str(peak) == expect if isinstance(expect, str) else \
            peak == expect


def fake_runner(model, it=0):
    return SimpleNamespace(model=model, iter=it)


def test_running_var_is_bounded_as_a_standard_deviation():
    # An unnormalised first layer: variance 4e6 is a std of 2e3, not
    # divergence (MobileNetV2's stem reached it in two steps).
    var = torch.full((4, ), 4e6)
    assert first_bad_tensor([('bn.running_var', var)], 1e6) is None
    name, peak = first_bad_tensor([('bn.running_var', var * 1e6)], 1e6)
    assert name == 'bn.running_var' and peak == pytest.approx(2e6)
    # Everything else is bounded by its own magnitude.
    assert first_bad_tensor([('bn.running_mean', var)], 1e6)[0] == (
        'bn.running_mean')


def test_hook_checks_buffers_and_skips_teacher():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    model.target_generator = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.target_generator.weight.fill_(float('nan'))
    hook = CheckFiniteHook(interval=2)
    hook.after_train_iter(fake_runner(model, it=1), 0)
    assert hook.last_ok_iter == 2  # teacher skipped, the rest is fine
    model[1].running_var.fill_(float('inf'))
    hook.after_train_iter(fake_runner(model, it=2), 0)  # not a check iter
    with pytest.raises(RuntimeError, match=r'1\.running_var is not finite'):
        hook.after_train_iter(fake_runner(model, it=3), 0)
    with pytest.raises(RuntimeError, match='before saving a checkpoint'):
        hook.before_save_checkpoint(
            fake_runner(model, it=4),
            dict(state_dict=dict(model.state_dict())))


def test_hook_checks_logged_losses():
    model = torch.nn.Linear(2, 2)
    hook = CheckFiniteHook(interval=1)
    with pytest.raises(RuntimeError, match='loss_csm is not finite'):
        hook.after_train_iter(
            fake_runner(model), 0,
            outputs=dict(loss_csm=torch.tensor(float('nan'))))


@pytest.mark.parametrize('kwargs', [dict(interval=0), dict(max_abs=0)])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        CheckFiniteHook(**kwargs)


def test_diverged_run_stops_without_checkpoint(tmp_path, tiny_clip_dir):
    """lr=1e6 through the stock tools/train.py: rc != 0, no checkpoint."""
    config = tmp_path / 'diverge.py'
    # The shipped config's hooks plus the check, as users add it.
    config.write_text(
        f'_base_ = [{CONFIG!r}]\n'
        'custom_hooks = [\n'
        "    dict(type='PromptBankHook', classnames='dataset',\n"
        "         templates='simple_imagenet'),\n"
        "    dict(type='CheckFiniteHook', interval=50),\n"
        ']\n')
    work_dir = tmp_path / 'work'
    env = dict(
        os.environ,
        DATA_ROOT=write_image_folder(tmp_path / 'images'),
        HF_HUB_OFFLINE='1',
        MMBEAMCLIP_CACHE=str(tmp_path / 'cache'),
        PYTHONPATH=os.pathsep.join([ROOT, os.environ.get('PYTHONPATH', '')]))
    proc = run_tool(
        [
            sys.executable, 'tools/train.py',
            str(config), '--work-dir',
            str(work_dir), '--cfg-options',
            'model.target_generator.model_name=tiny',
            f'model.target_generator.pretrained=local-dir:{tiny_clip_dir}',
            'model.neck.out_channels=32', 'train_dataloader.batch_size=4',
            'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
            'optim_wrapper.optimizer.lr=1e6'
        ],
        cwd=ROOT,
        env=env,
        timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0, log[-3000:]
    assert 'Training diverged: backbone.' in log, log[-3000:]
    assert 'before saving a checkpoint' in log
    assert not list(work_dir.glob('*.pth'))
