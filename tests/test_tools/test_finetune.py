"""Full fine-tuning of a trained student with a stock ImageClassifier."""
import os
import os.path as osp
import sys

import torch
from conftest import write_image_folder
from tool_process import run_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TRAIN_CFG = ('configs/beamclip/'
             'beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py')
FT_CFG = ('configs/beamclip/benchmarks/'
          'resnet18_1xb32-ft-steplr-2e_imagefolder.py')
CPU = [
    'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
    'val_dataloader.batch_size=4', 'val_dataloader.num_workers=0',
    'train_cfg.max_epochs=1'
]


def train(cfg, work_dir, env, *options):
    proc = run_tool(
        [sys.executable, 'tools/train.py', cfg, '--work-dir', work_dir,
         '--cfg-options', *CPU, *options],
        cwd=ROOT, env=env, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    return log


def backbone_of(path):
    state = torch.load(path, map_location='cpu',
                       weights_only=False)['state_dict']
    return {k: v for k, v in state.items() if k.startswith('backbone.')}


def test_finetune_starts_from_the_student(tmp_path, tiny_clip_dir):
    data = write_image_folder(tmp_path / 'images')
    env = dict(
        os.environ, DATA_ROOT=data, NUM_CLASSES='2', HF_HUB_OFFLINE='1',
        MMBEAMCLIP_CACHE=str(tmp_path / 'cache'),
        PYTHONPATH=os.pathsep.join([ROOT, os.environ.get('PYTHONPATH', '')]))
    distil = str(tmp_path / 'distil')
    train(TRAIN_CFG, distil, env, 'model.target_generator.model_name=tiny',
          f'model.target_generator.pretrained=local-dir:{tiny_clip_dir}',
          'model.neck.out_channels=32')
    ckpt = osp.join(distil, 'epoch_1.pth')
    student = backbone_of(ckpt)

    ft = str(tmp_path / 'ft')
    log = train(FT_CFG, ft, env,
                f'model.backbone.init_cfg.checkpoint={ckpt}')
    assert 'Epoch(train) [1][4/4]' in log and 'accuracy/top1' in log
    tuned = backbone_of(osp.join(ft, 'epoch_1.pth'))
    assert set(tuned) == set(student)
    # Four SGD steps at lr 0.0125 move the residual convs by a little; a
    # fresh init would be ~1.4 (relative) away from the student.
    convs = [k for k in student if k.startswith('backbone.layer')
             and 'conv' in k]
    assert len(convs) == 16
    for key in convs:
        assert (tuned[key] - student[key]).norm() / student[key].norm() \
            < 0.05, key
    assert not all(torch.equal(tuned[k], student[k]) for k in convs)
