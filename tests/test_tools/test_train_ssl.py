"""The SSL recipes end to end through the stock ``tools/train.py``."""
import glob
import json
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS
from tool_process import run_tool

import mmbeamclip  # noqa: F401  (registers BeamCLIP, checkpoint loader fix)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STAGE1_CFG = 'configs/simclr/simclr_resnet18_1xb32-2e_imagefolder.py'
STAGE2_CFG = ('configs/beamclip/'
              'beamclip_resnet18-simclr-init_vit-b32-openai_1xb32-2e_'
              'imagefolder.py')
JOINT_CFG = ('configs/beamclip/'
             'beamclip-simclr_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py')
TINY = [
    'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
    'train_cfg.max_epochs=1', 'default_hooks.logger.interval=1'
]


def teacher_options(clip_dir):
    return [
        'model.target_generator.model_name=tiny',
        f'model.target_generator.pretrained=local-dir:{clip_dir}',
        'model.neck.out_channels=32', 'val_dataloader.batch_size=4',
        'val_dataloader.num_workers=0'
    ]


def train(cfg, work_dir, image_folder, cache, *options, args=()):
    env = dict(
        os.environ,
        DATA_ROOT=image_folder,
        MMBEAMCLIP_CACHE=cache,
        HF_HUB_OFFLINE='1',
        PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    cmd = [
        sys.executable, 'tools/train.py', cfg, '--work-dir', work_dir, *args,
        '--cfg-options', *TINY, *options
    ]
    proc = run_tool(
        cmd, cwd=REPO, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc.stdout + proc.stderr


def scalars(work_dir):
    path, = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    with open(path) as f:
        return [json.loads(line) for line in f]


def with_prefix(state_dict, prefix):
    return {
        k[len(prefix):]: v
        for k, v in state_dict.items() if k.startswith(prefix)
    }


def test_two_stage_simclr_then_beamclip(image_folder, tiny_clip_dir,
                                        tiny_teacher_cfg, tmp_path):
    # Stage 1: stock mmpretrain SimCLR, ResNet-18, its lr scaled from the
    # config's batch of 32 to the 4 used here (--auto-scale-lr).
    stage1 = str(tmp_path / 'stage1')
    train(STAGE1_CFG, stage1, image_folder, str(tmp_path / 'cache'),
          args=['--auto-scale-lr'])
    first = min((s for s in scalars(stage1) if 'lr' in s),
                key=lambda s: s['step'])
    assert abs(first['lr'] - 0.0375 * 4 / 32) < 1e-9
    ckpt = osp.join(stage1, 'epoch_1.pth')
    simclr = torch.load(ckpt, weights_only=False)['state_dict']
    ssl_backbone = with_prefix(simclr, 'backbone.')
    assert ssl_backbone and with_prefix(simclr, 'neck.')

    # The stage-2 config loads exactly the SimCLR backbone, and nothing else.
    cfg = Config.fromfile(osp.join(REPO, STAGE2_CFG))
    cfg.model.target_generator = tiny_teacher_cfg
    cfg.model.neck.out_channels = 32
    cfg.model.backbone.init_cfg.checkpoint = ckpt
    model = MODELS.build(cfg.model)
    teacher_before = {
        k: v.clone()
        for k, v in model.target_generator.model.state_dict().items()
    }
    model.init_weights()
    student = model.backbone.state_dict()
    assert set(student) == set(ssl_backbone)
    for key, value in ssl_backbone.items():
        torch.testing.assert_close(student[key], value, msg=key)
    # Same shapes, but SimCLR's projection is not BeamCLIP's neck.
    assert model.neck.fc0.weight.shape == simclr['neck.fc0.weight'].shape
    assert not torch.equal(model.neck.fc0.weight, simclr['neck.fc0.weight'])
    for key, value in model.target_generator.model.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key

    # Stage 2 through the stock trainer, with another seed so that a student
    # that was not warm-started could not end up near the SimCLR weights.
    stage2 = str(tmp_path / 'stage2')
    log = train(STAGE2_CFG, stage2, image_folder, str(tmp_path / 'cache'),
                *teacher_options(tiny_clip_dir), 'randomness.seed=1',
                f'model.backbone.init_cfg.checkpoint={ckpt}')
    assert ckpt in log
    assert any('loss_csm' in s for s in scalars(stage2))
    trained = with_prefix(
        torch.load(osp.join(stage2, 'epoch_1.pth'),
                   weights_only=False)['state_dict'], 'backbone.')
    # A few SGD steps move the residual stages' convs a little; a fresh init
    # would be ~1.4 (relative) away. The stem conv is left out: it sits
    # before BN, so its norm grows fast on these flat synthetic images.
    convs = [k for k in ssl_backbone if k.startswith('layer') and 'conv' in k]
    assert len(convs) == 16
    for key in convs:
        w0 = ssl_backbone[key]
        assert (trained[key] - w0).norm() / w0.norm() < 0.2, key
    assert not all(torch.equal(trained[k], ssl_backbone[k]) for k in convs)


def test_joint_config_logs_each_term(image_folder, tiny_clip_dir, tmp_path):
    work_dir = str(tmp_path / 'joint')
    train(JOINT_CFG, work_dir, image_folder, str(tmp_path / 'cache'),
          *teacher_options(tiny_clip_dir), 'model.ssl_weight=0.5')
    logged = [s for s in scalars(work_dir) if 'loss_ssl' in s]
    assert logged
    for s in logged:
        # The total is the CSM term plus the weighted SSL term (all 'loss'
        # keys are smoothed over the same window, so this holds every line).
        assert abs(s['loss'] - s['loss_csm'] - s['loss_ssl']) < 2e-3
        assert 0 <= s['ssl_top1'] <= 1
    # Keys without 'loss' are logged unsmoothed: compare at the first step.
    first = min(logged, key=lambda s: s['step'])
    assert first['step'] == 1
    assert abs(first['loss_ssl'] - 0.5 * first['ssl_nce']) < 2e-3
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
