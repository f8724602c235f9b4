import json
import os

import numpy as np
import pytest
# One tiny teacher for the tests and the throughput benchmark.
from beamclip_bench.tiny_clip import TINY_CLIP_CFG as TINY_CFG
from beamclip_bench.tiny_clip import write_tiny_clip as write_tiny_clip_dir
from mmengine.config import Config

# Tests never reach a model hub: a missing download must fail at once.
os.environ.setdefault('HF_HUB_OFFLINE', '1')

TINY_NAME = 'mmbeamclip-tiny-test'
MODEL_BASE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'configs',
    '_base_', 'models', 'beamclip_resnet18.py')


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


def tiny_model_cfg(teacher_cfg, out_channels=32, **backbone):
    """The shipped BeamCLIP model (``configs/_base_/models/
    beamclip_resnet18.py``) on ``teacher_cfg``, sized for one CPU process.

    The neck is narrowed (64 hidden, ``out_channels`` out), SyncBN becomes
    BN, and ``backbone`` updates the ResNet-18 (e.g. ``base_channels``).
    """
    model = Config.fromfile(MODEL_BASE).model.to_dict()
    model['backbone'].update(norm_cfg=dict(type='BN'), **backbone)
    model['neck'].update(
        hid_channels=64, out_channels=out_channels,
        norm_cfg=dict(type='BN1d'))
    model['target_generator'] = teacher_cfg
    return model


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


def tool_env(tmp_path_factory, **extra):
    """The environment of a tool run: offline, a fresh prompt-bank cache,
    this checkout first on ``PYTHONPATH``, plus ``extra`` variables."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return dict(
        os.environ,
        HF_HUB_OFFLINE='1',
        MMBEAMCLIP_CACHE=str(tmp_path_factory.mktemp('cache')),
        PYTHONPATH=os.pathsep.join([root, os.environ.get('PYTHONPATH', '')]),
        **extra)


def probe_options(data):
    """``--cfg-options`` of a stock ImageNet linear probe config that read
    the two-class image folder ``data``: CPU-sized, one epoch."""
    opts = []
    for loader in ('train_dataloader', 'val_dataloader'):
        opts += [
            f'{loader}.batch_size=4', f'{loader}.num_workers=0',
            f'{loader}.persistent_workers=False',
            f'{loader}.dataset.data_root={data}',
            f'{loader}.dataset.metainfo.classes=[n01440764,n02102040]'
        ]
    return opts + [
        'test_dataloader=None', 'test_evaluator=None', 'test_cfg=None',
        'model.head.num_classes=2', 'val_evaluator.topk=[1]',
        'model.head.topk=[1]', 'train_cfg.max_epochs=1'
    ]


@pytest.fixture
def image_folder(tmp_path):
    return write_image_folder(tmp_path / 'images')


def pytest_collection_modifyitems(items):
    """Modules that run tools in processes first (a stable sort).

    ``pytest -n auto --dist loadfile`` hands whole modules to the workers
    in collection order: starting the long ones first keeps a worker from
    picking one up while the other has nothing left to do.
    """
    items.sort(key=lambda item: 'run_tool' not in vars(item.module))
