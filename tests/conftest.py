import json
import os

import numpy as np
import pytest
import torch

# Tests never reach a model hub: a missing download must fail at once.
os.environ.setdefault('HF_HUB_OFFLINE', '1')

TINY_NAME = 'mmbeamclip-tiny-test'
TINY_CFG = dict(
    embed_dim=32,
    vision_cfg=dict(
        image_size=32, layers=2, width=64, patch_size=8, head_width=32),
    text_cfg=dict(
        context_length=16, vocab_size=49408, width=32, heads=2, layers=1))


def write_tiny_clip_dir(folder, seed=0, cfg=TINY_CFG):
    """A ``local-dir:`` open_clip model with random weights (asked for here).

    Everything downstream loads it through the same path as staged real
    CLIP weights. ``folder`` must not exist yet.
    """
    import open_clip
    from open_clip.model import CLIP

    from mmbeamclip.utils.local_dir import write_local_dir
    torch.manual_seed(seed)
    model = CLIP(**cfg)
    write_local_dir(
        folder,
        cfg,
        model.state_dict(),
        preprocess_cfg=dict(
            mean=list(open_clip.OPENAI_DATASET_MEAN),
            std=list(open_clip.OPENAI_DATASET_STD)))
    return folder


@pytest.fixture(scope='session')
def tiny_clip_dir(tmp_path_factory):
    return write_tiny_clip_dir(
        str(tmp_path_factory.mktemp('tiny_clip') / 'model'))


@pytest.fixture(scope='session')
def tiny_teacher_cfg(tiny_clip_dir):
    return dict(
        type='OpenCLIPTeacher',
        model_name=TINY_NAME,
        pretrained=f'local-dir:{tiny_clip_dir}')


def tiny_model_cfg(teacher_cfg, out_channels=32):
    """A BeamCLIP config with a ResNet-18 student and a small neck."""
    return dict(
        type='BeamCLIP',
        data_preprocessor=dict(
            type='SelfSupDataPreprocessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            to_rgb=True),
        backbone=dict(type='ResNet', depth=18, out_indices=(3, )),
        neck=dict(
            type='NonLinearNeck',
            in_channels=512,
            hid_channels=64,
            out_channels=out_channels,
            num_layers=2,
            with_last_bn=False,
            norm_cfg=dict(type='BN1d')),
        head=dict(type='CSMHead'),
        target_generator=teacher_cfg)


@pytest.fixture
def registered_tiny_model(tmp_path, monkeypatch):
    """Register the tiny config by name in an isolated open_clip registry."""
    from open_clip import factory
    monkeypatch.setattr(factory, '_MODEL_CONFIGS',
                        dict(factory._MODEL_CONFIGS))
    monkeypatch.setattr(factory, '_MODEL_CONFIG_PATHS',
                        list(factory._MODEL_CONFIG_PATHS))
    with open(tmp_path / f'{TINY_NAME}.json', 'w') as f:
        json.dump(TINY_CFG, f)
    factory.add_model_config(tmp_path)
    return TINY_NAME


def write_image_folder(root, classes=('n01440764', 'n02102040'), n_train=8,
                       n_val=4, size=40):
    """An ImageNet-layout folder of generated images, wnid class folders."""
    from PIL import Image
    rng = np.random.default_rng(0)
    for split, n in (('train', n_train), ('val', n_val)):
        for c, wnid in enumerate(classes):
            d = os.path.join(root, split, wnid)
            os.makedirs(d)
            for i in range(n):
                base = np.full((size, size, 3), 60 + 120 * c, np.uint8)
                noise = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
                Image.fromarray(base + noise).save(
                    os.path.join(d, f'{i}.JPEG'))
    return str(root)


@pytest.fixture
def image_folder(tmp_path):
    return write_image_folder(tmp_path / 'images')
