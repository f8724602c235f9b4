import pytest
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from teacher_cache_helpers import cached_config

import mmbeamclip  # noqa: F401
from mmbeamclip.datasets.transforms import find_transforms
from mmbeamclip.teacher_cache import (CacheMismatchError,
                                      build_teacher_cache_from_config)


def _runner_cfg(cfg, work_dir):
    cfg.work_dir = str(work_dir)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2,
                         val_interval=100)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=100, save_last=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.log_level = 'WARNING'
    return cfg


@pytest.fixture
def cfg(monkeypatch, image_folder, tmp_path, tiny_teacher_cfg):
    monkeypatch.setenv('MMBEAMCLIP_CACHE', str(tmp_path / 'mmbeamclip'))
    cfg = cached_config(monkeypatch, image_folder, tmp_path / 'cache',
                        tiny_teacher_cfg)
    build_teacher_cache_from_config(cfg, progress=False)
    return _runner_cfg(cfg, tmp_path / 'work')


def test_train_from_cache(cfg, tiny_teacher_cfg):
    runner = Runner.from_cfg(cfg)
    seen = []
    model = runner.model
    forward = model.target_generator.forward

    def spy(inputs, data_samples):
        seen.extend((runner.epoch, int(s.sample_idx), int(s.cache_view))
                    for s in data_samples)
        return forward(inputs, data_samples)

    model.target_generator.forward = spy
    runner.train()
    # Every sample once per epoch, view (epoch + sample_idx) % N.
    assert len(seen) == 2 * 16
    assert all(view == (epoch + idx) % 2 for epoch, idx, view in seen)
    state = model.state_dict()
    assert not any(k.startswith('target_generator.') for k in state)
    assert model.head.has_bank
    # Same teacher id as the online teacher, hence the same prompt-bank key.
    online = MODELS.build(tiny_teacher_cfg)
    assert model.target_generator.teacher_id == online.teacher_id
    # No cached bank yet: the text side built the online teacher, outside
    # the module tree (not saved, not wrapped).
    assert '_online' in model.target_generator.__dict__
    assert not any('_online' in name for name, _ in model.named_modules())
    # ...and without its image tower: a cached run never holds it.
    online = model.target_generator.__dict__['_online']
    assert online.text_only and online.model.visual is None
    transform = find_transforms(runner.train_dataloader.dataset)[0]
    assert int(transform._epoch) == 1
    # The folder came from the teacher alone, with its verified cache.
    assert transform.cache_dir == model.target_generator.cache_dir
    assert transform.cache is model.target_generator.cache


def test_other_folder_in_the_pipeline_is_refused(cfg, tmp_path):
    cfg.train_dataloader.dataset.pipeline[1]['cache_dir'] = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(CacheMismatchError,
                       match='Name the teacher-target cache once'):
        runner.train()


def test_other_dataset_is_refused(cfg):
    cfg.train_dataloader.dataset.data_prefix = 'val'
    runner = Runner.from_cfg(cfg)
    with pytest.raises(CacheMismatchError, match='dataset'):
        runner.train()


@pytest.mark.parametrize('view_sampling', ['epoch', 'random'])
def test_training_without_the_hook_is_refused(cfg, view_sampling):
    cfg.custom_hooks = [
        h for h in cfg.custom_hooks if h['type'] != 'CachedViewHook'
    ]
    cfg.train_dataloader.dataset.pipeline[1]['view_sampling'] = view_sampling
    runner = Runner.from_cfg(cfg)
    with pytest.raises(RuntimeError, match='CachedViewHook'):
        runner.train()
