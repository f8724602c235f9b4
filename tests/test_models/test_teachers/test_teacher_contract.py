"""Every teacher implementation honours the teacher contract of
:class:`BaseTeacher`: frozen, out of checkpoints, and the interface BeamCLIP,
CSMHead, PromptBankHook and the tools rely on.

To cover a new teacher, add a factory to ``TEACHERS``: it takes the pytest
``request`` and returns ``(teacher_cfg, make_batch)``, where
``make_batch(teacher)`` returns ``(inputs, data_samples)`` for ``forward``.
"""
import inspect

import pytest
import torch
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmbeamclip  # noqa: F401
from mmbeamclip.models.teachers import BaseTeacher
from mmbeamclip.teacher_cache import build_teacher_cache_from_config

init_default_scope('mmpretrain')


def _image_batch(teacher):
    return torch.randn(3, 3, 32, 32), None


def open_clip_vit(request):
    """OpenCLIPTeacher on the tiny ViT local-dir model."""
    return request.getfixturevalue('tiny_teacher_cfg'), _image_batch


def cached(request):
    """CachedTeacher on a tiny built cache (2 views per image)."""
    cache_dir = request.getfixturevalue('tiny_cache_dir')
    teacher = request.getfixturevalue('tiny_teacher_cfg')

    def batch(model):
        samples = [
            DataSample(metainfo=dict(sample_idx=i, cache_view=i % 2))
            for i in (0, 5, 15)
        ]
        return torch.randn(3, 3, 64, 64), samples

    return dict(type='CachedTeacher', cache_dir=cache_dir,
                teacher=teacher), batch


def _family(name):
    """OpenCLIPTeacher on a tiny model of one open_clip family."""
    from teacher_families import TEACHER_FAMILIES

    def factory(request):
        folder = request.getfixturevalue('tmp_path_factory').mktemp(name)
        return TEACHER_FAMILIES[name](str(folder / 'model')), _image_batch

    factory.__name__ = name.replace('-', '_')
    return factory


TEACHERS = [open_clip_vit, cached] + [
    _family(name) for name in ('modified-resnet-clip', 'timm-tower-clip',
                               'hf-text-tower-clip', 'siglip')
]


@pytest.fixture(scope='module')
def tiny_cache_dir(tmp_path_factory, tiny_teacher_cfg):
    from conftest import write_image_folder
    from teacher_cache_helpers import cached_config
    root = tmp_path_factory.mktemp('contract')
    mp = pytest.MonkeyPatch()
    cfg = cached_config(mp, write_image_folder(root / 'images'),
                        root / 'cache', tiny_teacher_cfg)
    build_teacher_cache_from_config(cfg, progress=False)
    mp.undo()
    return cfg.model.target_generator.cache_dir


def snapshot(module):
    # Tensor by tensor: a sum would hide changes behind CLIP's -inf
    # attention-mask buffer.
    tensors = list(module.named_parameters()) + list(module.named_buffers())
    return {k: t.detach().clone() for k, t in tensors}


@pytest.fixture(params=TEACHERS, ids=[f.__name__ for f in TEACHERS])
def teacher_case(request):
    return request.param(request)


def test_interface(teacher_case):
    cfg, make_batch = teacher_case
    teacher = MODELS.build(cfg)
    assert isinstance(teacher, BaseTeacher)
    assert isinstance(teacher.teacher_id, str) and teacher.teacher_id
    assert isinstance(teacher.embed_dim, int) and teacher.embed_dim > 0
    d = teacher.embed_dim

    inputs, samples = make_batch(teacher)
    out = teacher(inputs, samples)
    assert out.shape == (len(inputs), d) and out.dtype == torch.float32
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(len(inputs)))
    assert not out.requires_grad

    text = teacher.encode_text(['a photo of a dog.', 'a cat.', 'x'])
    assert text.shape == (3, d) and text.dtype == torch.float32
    torch.testing.assert_close(text.norm(dim=-1), torch.ones(3))
    # Batching does not change the embeddings.
    torch.testing.assert_close(
        teacher.encode_text(['a photo of a dog.', 'a cat.', 'x'],
                            batch_size=1), text, atol=1e-5, rtol=1e-5)


def test_frozen_through_train_and_init_weights(teacher_case,
                                               tiny_teacher_cfg):
    from conftest import tiny_model_cfg
    cfg, make_batch = teacher_case
    model = MODELS.build(
        tiny_model_cfg(cfg, out_channels=MODELS.build(cfg).embed_dim))
    teacher = model.target_generator
    assert not any(p.requires_grad for p in teacher.parameters())
    before = snapshot(teacher)
    model.init_weights()
    model.train()
    assert not teacher.training
    assert all(not m.training for m in teacher.modules())
    after = snapshot(teacher)
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    with pytest.raises(ValueError, match='init_cfg'):
        MODELS.build(dict(cfg, init_cfg=dict(type='Kaiming')))


def test_out_of_state_dict_unless_asked(teacher_case):
    from conftest import tiny_model_cfg
    cfg, _ = teacher_case
    model = MODELS.build(
        tiny_model_cfg(cfg, out_channels=MODELS.build(cfg).embed_dim))
    state = model.state_dict()
    assert not any(k.startswith('target_generator.') for k in state)
    assert any(k.startswith('backbone.') for k in state)
    # Loading a checkpoint without teacher keys is quiet.
    missing = model.load_state_dict(state, strict=False).missing_keys
    assert not any(k.startswith('target_generator.') for k in missing)
    init = inspect.signature(MODELS.get(cfg['type']).__init__)
    if 'save_teacher' in init.parameters:
        kept = MODELS.build(dict(cfg, save_teacher=True))
        names = {n for n, _ in kept.named_parameters()}
        assert names and names <= set(kept.state_dict())
