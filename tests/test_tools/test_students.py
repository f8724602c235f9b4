"""Students beyond ResNet, each trained through the stock tools/train.py.

One parametrised run per student on a tiny image folder with the tiny
teacher (1 epoch, 2 iterations at 32 px), then the shipped probe config of
that student loads the checkpoint bit-exact and trains only its head, and
the TorchScript export of the student matches the mmpretrain backbone.
"""
import os
import os.path as osp
import sys

import pytest
import torch
from conftest import write_image_folder
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from tool_process import run_tool

import mmbeamclip  # noqa: F401  (checkpoint-loader fix for the probe build)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STUDENTS = ['mobilenet-v2', 'mobilenet-v3-large', 'efficientnet-b0',
            'convnext-atto']


def train_config(student):
    return osp.join(ROOT, 'configs', 'beamclip',
                    f'beamclip_{student}_vit-b32-openai_1xb32-2e_'
                    'imagefolder.py')


def probe_config(student):
    return osp.join(ROOT, 'configs', 'beamclip', 'benchmarks',
                    f'{student}_8xb512-linear-coslr-90e_in1k.py')


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return write_image_folder(
        tmp_path_factory.mktemp('data') / 'images', n_train=4, n_val=2,
        size=32)


@pytest.mark.parametrize('student', STUDENTS)
def test_student_trains_and_probes(student, data, tiny_clip_dir, tmp_path):
    work_dir = str(tmp_path / 'work')
    env = dict(
        os.environ,
        DATA_ROOT=data,
        HF_HUB_OFFLINE='1',
        MMBEAMCLIP_CACHE=str(tmp_path / 'cache'),
        PYTHONPATH=os.pathsep.join([ROOT, os.environ.get('PYTHONPATH', '')]))
    proc = run_tool([
        sys.executable, 'tools/train.py',
        train_config(student), '--work-dir', work_dir, '--cfg-options',
        'model.target_generator.model_name=tiny',
        f'model.target_generator.pretrained=local-dir:{tiny_clip_dir}',
        'model.neck.out_channels=32', 'model.neck.hid_channels=64',
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
        'val_dataloader.batch_size=4', 'val_dataloader.num_workers=0',
        'train_cfg.max_epochs=1', 'default_hooks.logger.interval=1',
        'img_size=32', 'train_dataloader.dataset.pipeline.1.scale=32',
        'val_dataloader.dataset.pipeline.1.scale=32',
        'val_dataloader.dataset.pipeline.2.crop_size=32'
    ],
                          cwd=ROOT,
                          env=env,
                          timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    # 8 images, batch 4: the BeamCLIP step ran twice, then zero-shot val
    # through the prompt bank.
    assert 'Epoch(train) [1][2/2]' in log and 'loss_csm' in log
    assert 'Building the prompt bank: 2 classes' in log
    assert 'accuracy/top1' in log
    ckpt = osp.join(work_dir, 'epoch_1.pth')
    state = torch.load(ckpt, map_location='cpu',
                       weights_only=False)['state_dict']
    assert state['head.prompt_bank'].shape == (2, 32)
    assert not any(k.startswith('target_generator.') for k in state)

    # The shipped probe config of this student: loads the student bit-exact
    # and one optimizer step leaves the whole backbone as it was.
    cfg = Config.fromfile(probe_config(student))
    init_default_scope('mmpretrain')
    cfg.model.backbone.init_cfg.checkpoint = ckpt
    cfg.model.head.num_classes = 2
    probe = MODELS.build(cfg.model)
    probe.init_weights()
    backbone = {
        'backbone.' + k: v.clone()
        for k, v in probe.backbone.state_dict().items()
    }
    assert set(backbone) == {k for k in state if k.startswith('backbone.')}
    for key, value in backbone.items():
        assert torch.equal(value, state[key]), key
    probe.train()
    head_before = probe.head.fc.weight.detach().clone()
    optim = build_optim_wrapper(probe, cfg.optim_wrapper)
    samples = [DataSample().set_gt_label(i % 2) for i in range(4)]
    optim.update_params(
        probe(torch.randn(4, 3, 32, 32), samples, mode='loss')['loss'])
    for key, value in probe.backbone.state_dict().items():
        assert torch.equal(value, backbone['backbone.' + key]), key
    assert not torch.equal(probe.head.fc.weight.detach(), head_before)

    # The one-line deployment export of this student: the TorchScript file
    # written by tools/extract_student.py gives the mmpretrain backbone's
    # features.
    exported = str(tmp_path / 'student.pt')
    proc = run_tool([
        sys.executable, 'tools/extract_student.py', ckpt, exported,
        '--format', 'torchscript', '--input-size', '32'
    ],
                          cwd=ROOT,
                          env=env,
                          timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    scripted = torch.jit.load(exported)
    x = torch.randn(2, 3, 32, 32)
    probe.backbone.load_state_dict(
        {k[len('backbone.'):]: v for k, v in backbone.items()})
    probe.backbone.eval()
    with torch.no_grad():
        want, got = probe.backbone(x), scripted(x)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)
