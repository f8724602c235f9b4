"""A 1000-anchor bank scored on a 10-class folder, through the stock tools.

CSM trains against the ImageNet-1k anchors while the folder has 10 classes
(WordNet-id folder names, labels in folder order). Zero-shot must score the
10 classes through their anchors: the metric ``tools/test.py`` logs is
recomputed here from the checkpoint with numpy.
"""
import os
import os.path as osp
import re
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmpretrain.registry import DATASETS, MODELS
from PIL import Image
from tool_process import run_tool

import mmbeamclip  # noqa: F401
from mmbeamclip.prompts import imagenet_wnids

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(
    ROOT, 'configs/beamclip',
    'beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py')
WNIDS = sorted(imagenet_wnids()[::100])  # 10 classes


def write_folder(root):
    rng = np.random.default_rng(0)
    for split in ('train', 'val'):
        for c, wnid in enumerate(WNIDS):
            os.makedirs(osp.join(root, split, wnid))
            for i in range(2):
                colour = rng.integers(0, 256, 3, dtype=np.uint8)
                img = np.broadcast_to(colour, (40, 40, 3)) + rng.integers(
                    0, 30, (40, 40, 3), dtype=np.uint8)
                Image.fromarray(img.astype(np.uint8)).save(
                    osp.join(root, split, wnid, f'{i}.JPEG'))
    return root


def options(tiny_clip_dir):
    return [
        '--cfg-options', 'model.target_generator.model_name=tiny',
        f'model.target_generator.pretrained=local-dir:{tiny_clip_dir}',
        'model.neck.out_channels=32', 'model.neck.hid_channels=64',
        'train_dataloader.batch_size=4', 'val_dataloader.batch_size=4',
        'test_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
        'val_dataloader.num_workers=0', 'test_dataloader.num_workers=0',
        'train_cfg.max_epochs=1', 'custom_hooks.0.classnames=imagenet',
        'custom_hooks.0.templates=vanilla'
    ]


def run(args, env):
    proc = run_tool(
        args, cwd=ROOT, env=env,
        timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    return log


@pytest.fixture(scope='module')
def trained(tmp_path_factory, tiny_clip_dir):
    data = write_folder(str(tmp_path_factory.mktemp('data') / 'images'))
    env = dict(
        os.environ,
        DATA_ROOT=data,
        HF_HUB_OFFLINE='1',
        MMBEAMCLIP_CACHE=str(tmp_path_factory.mktemp('cache')),
        PYTHONPATH=os.pathsep.join([ROOT, os.environ.get('PYTHONPATH', '')]))
    work = str(tmp_path_factory.mktemp('work'))
    log = run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', work] +
              options(tiny_clip_dir), env)
    return data, env, work, log


def recompute_top1(ckpt, data, tiny_clip_dir):
    """Top-1 from the checkpoint: argmax over the 10 classes' anchors."""
    cfg = Config.fromfile(CONFIG)
    cfg.model.target_generator.update(
        model_name='tiny', pretrained=f'local-dir:{tiny_clip_dir}')
    cfg.model.neck.update(out_channels=32, hid_channels=64)
    model = MODELS.build(cfg.model).eval()
    state = torch.load(ckpt, map_location='cpu', weights_only=False)
    model.load_state_dict(state['state_dict'], strict=False)
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_cfg.data_root = data
    dataset = DATASETS.build(dataset_cfg)
    batch = default_collate([dataset[i] for i in range(len(dataset))])
    with torch.no_grad():
        inputs = model.data_preprocessor(batch)['inputs']
        embed = model.embed(inputs).numpy()
    bank = state['state_dict']['head.prompt_bank'].numpy()
    rows = [imagenet_wnids().index(w) for w in dataset.metainfo['classes']]
    pred = (embed @ bank[rows].T).argmax(1)
    labels = np.array([s.gt_label.item() for s in batch['data_samples']])
    return 100 * (pred == labels).mean()


def test_train_and_test_score_the_dataset_classes(trained, tiny_clip_dir):
    data, env, work, log = trained
    assert 'Building the prompt bank: 1000 classes, 1000 prompts' in log
    assert 'the 10 dataset classes are scored through their anchors ' \
        'among the 1000 vocabulary classes' in log
    ckpt = osp.join(work, 'epoch_1.pth')
    log = run([
        sys.executable, 'tools/test.py', CONFIG, ckpt, '--work-dir', work
    ] + options(tiny_clip_dir), env)
    assert 'Building the prompt bank' not in log  # from the checkpoint
    top1 = float(re.findall(r'accuracy/top1: ([\d.]+)', log)[-1])
    assert top1 == pytest.approx(recompute_top1(ckpt, data, tiny_clip_dir))
