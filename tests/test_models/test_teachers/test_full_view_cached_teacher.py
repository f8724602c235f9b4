import glob
import os

import pytest
import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from beamclip_bench.runner import build_teacher_cache


@pytest.fixture
def cache(tmp_path, tiny_teacher_cfg, image_folder):
    paths = sorted(glob.glob(os.path.join(image_folder, 'train', '*', '*')))
    out = str(tmp_path / 'cache.pth')
    data = build_teacher_cache(
        tiny_teacher_cfg, paths, out, image_size=32, log=lambda *a: None)
    return out, data


def _samples(paths):
    return [DataSample(metainfo=dict(img_path=p)) for p in paths]


def test_cached_embeddings_are_replayed(cache, tiny_teacher_cfg):
    out, data = cache
    teacher = MODELS.build(
        dict(
            type='FullViewCachedTeacher',
            teacher=tiny_teacher_cfg,
            cache_file=out))
    assert teacher.embed_dim == data['embeds'].shape[1]
    assert teacher.teacher_id == data['teacher_id']
    x = torch.randn(2, 3, 32, 32)
    got = teacher(x, _samples(data['paths'][1:3]))
    assert torch.equal(got, data['embeds'][1:3])
    assert torch.allclose(got.norm(dim=-1), torch.ones(2), atol=1e-5)
    # Same text path as the live teacher (prompt banks).
    assert teacher.encode_text(['a photo.']).shape == (1, teacher.embed_dim)
    # Frozen, and out of checkpoints.
    teacher.train()
    assert not teacher.training
    assert teacher.state_dict() == {}


def test_cache_misses(cache, tiny_teacher_cfg):
    out, data = cache
    teacher = MODELS.build(
        dict(
            type='FullViewCachedTeacher',
            teacher=tiny_teacher_cfg,
            cache_file=out))
    x = torch.randn(2, 3, 32, 32)
    got = teacher(x, _samples([data['paths'][0], '/nowhere.png']))
    assert torch.equal(got[0], data['embeds'][0])
    assert torch.allclose(got[1], teacher.encode_image(x[1:]), atol=1e-6)
    assert teacher.num_misses == 1
    strict = MODELS.build(
        dict(
            type='FullViewCachedTeacher',
            teacher=tiny_teacher_cfg,
            cache_file=out,
            on_miss='error'))
    with pytest.raises(KeyError):
        strict(x, _samples(['/nowhere.png'] * 2))


def test_stale_cache_is_refused(cache, tiny_teacher_cfg, tmp_path):
    out, data = cache
    data = dict(data, teacher_id='another teacher')
    stale = str(tmp_path / 'stale.pth')
    torch.save(data, stale)
    with pytest.raises(ValueError, match='another teacher'):
        MODELS.build(
            dict(
                type='FullViewCachedTeacher',
                teacher=tiny_teacher_cfg,
                cache_file=stale))


def test_cache_is_reused(cache, tiny_teacher_cfg):
    out, data = cache
    again = build_teacher_cache(
        tiny_teacher_cfg, data['paths'], out, 32, log=lambda *a: None)
    assert torch.equal(again['embeds'], data['embeds'])
