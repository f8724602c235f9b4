"""Shared set-up of the teacher-cache tests: the cached CPU config pointed at
the generated image folder, the tiny teacher and a temp cache folder."""
import os.path as osp

from mmengine.config import Config

CONFIG = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', 'beamclip',
    'beamclip_resnet18_vit-b32-openai-cached_1xb32-2e_imagefolder.py')


def cached_config(monkeypatch, image_folder, cache_dir, teacher_cfg,
                  **cache_settings):
    monkeypatch.setenv('DATA_ROOT', image_folder)
    monkeypatch.setenv('TEACHER_CACHE', str(cache_dir))
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({
        'model.target_generator.teacher': dict(teacher_cfg),
        'model.neck.out_channels': 32,
        'model.neck.hid_channels': 64,
        'train_dataloader.num_workers': 0,
        'train_dataloader.batch_size': 4,
        'val_dataloader.num_workers': 0,
        'test_dataloader.num_workers': 0,
    })
    settings = dict(num_views=2, seed=0, shard_size=5, batch_size=3,
                    num_workers=0)
    settings.update(cache_settings)
    cfg.teacher_cache = settings
    return cfg
