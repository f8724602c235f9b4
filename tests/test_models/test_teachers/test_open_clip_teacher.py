import os

import pytest
import torch
import torch.nn.functional as F

from mmbeamclip.models.teachers import OpenCLIPTeacher, stage_open_clip
from mmbeamclip.models.teachers.open_clip_teacher import (IMAGENET_MEAN,
                                                          IMAGENET_STD)


def checksum(module):
    return sum(p.double().sum().item() for p in module.parameters())


def test_refuses_random_weights_unless_asked(registered_tiny_model):
    with pytest.raises(ValueError, match='allow_random_init'):
        OpenCLIPTeacher(registered_tiny_model)
    teacher = OpenCLIPTeacher(registered_tiny_model, allow_random_init=True)
    assert teacher.embed_dim == 32
    assert '"random-init"' in teacher.teacher_id


def test_local_dir_round_trip(tiny_clip_dir):
    teacher = OpenCLIPTeacher('tiny', pretrained=f'local-dir:{tiny_clip_dir}')
    saved = torch.load(
        os.path.join(tiny_clip_dir, 'open_clip_pytorch_model.bin'))
    state = teacher.model.state_dict()
    assert saved.keys() == state.keys()
    assert all(torch.equal(saved[k], state[k]) for k in saved)
    assert teacher.image_size == (32, 32)


def test_file_round_trip(tiny_clip_dir, registered_tiny_model):
    path = os.path.join(tiny_clip_dir, 'open_clip_pytorch_model.bin')
    from_file = OpenCLIPTeacher(registered_tiny_model, pretrained=path)
    from_dir = OpenCLIPTeacher(
        registered_tiny_model, pretrained=f'local-dir:{tiny_clip_dir}')
    images = torch.randn(3, 3, 32, 32)
    assert torch.equal(
        from_file.encode_image(images), from_dir.encode_image(images))
    assert torch.equal(
        from_file.encode_text(['a', 'b c']),
        from_dir.encode_text(['a', 'b c']))
    assert from_file.teacher_id.count('file:open_clip_pytorch_model.bin')


def test_stage_then_load_offline(tiny_clip_dir, registered_tiny_model,
                                 tmp_path):
    weights = os.path.join(tiny_clip_dir, 'open_clip_pytorch_model.bin')
    out = str(tmp_path / 'staged')
    pretrained = stage_open_clip(registered_tiny_model, weights, out)
    assert pretrained == f'local-dir:{out}'
    staged = OpenCLIPTeacher('whatever-name', pretrained=pretrained)
    direct = OpenCLIPTeacher(registered_tiny_model, pretrained=weights)
    text = ['a photo of a cat.']
    assert torch.equal(staged.encode_text(text), direct.encode_text(text))
    with pytest.raises(FileExistsError):
        stage_open_clip(registered_tiny_model, weights, out)


def test_missing_or_mistyped_weights_give_clear_errors(
        registered_tiny_model, tmp_path):
    with pytest.raises(ValueError, match='neither an existing weight file'):
        OpenCLIPTeacher(
            registered_tiny_model, pretrained=str(tmp_path / 'nope.bin'))
    with pytest.raises(ValueError, match=r"known tags: \[.*'openai'"):
        OpenCLIPTeacher('ViT-B-32', pretrained='opnai')
    with pytest.raises(ValueError, match='Unknown open_clip model'):
        OpenCLIPTeacher('ViT-B-322', pretrained='openai')
    with pytest.raises(FileNotFoundError, match='stage_teacher.py'):
        OpenCLIPTeacher(
            'ViT-B-16', pretrained=f'local-dir:{tmp_path / "missing"}')


def test_known_tag_without_hub_names_the_offline_route():
    # HF_HUB_OFFLINE=1 (conftest): the download fails at once.
    with pytest.raises(RuntimeError) as e:
        OpenCLIPTeacher('RN50', pretrained='openai')
    message = str(e.value)
    assert "'RN50'" in message and 'openai' in message
    assert 'local-dir:' in message and 'stage_teacher.py' in message


def test_corrupt_weight_file_is_an_error(registered_tiny_model, tmp_path):
    bad = tmp_path / 'broken.bin'
    bad.write_bytes(b'not a checkpoint')
    with pytest.raises(RuntimeError, match='Could not load'):
        OpenCLIPTeacher(registered_tiny_model, pretrained=str(bad))


def test_frozen_for_real(tiny_teacher_cfg):
    cfg = dict(tiny_teacher_cfg)
    cfg.pop('type')
    teacher = OpenCLIPTeacher(**cfg)
    assert not any(p.requires_grad for p in teacher.parameters())
    teacher.train()
    assert not teacher.training and not teacher.model.training
    before = checksum(teacher)
    teacher.init_weights()
    assert checksum(teacher) == before
    assert teacher.state_dict() == {}
    with pytest.raises(ValueError, match='init_cfg'):
        OpenCLIPTeacher(**cfg, init_cfg=dict(type='Kaiming'))


def test_save_teacher_keeps_weights(tiny_teacher_cfg):
    cfg = dict(tiny_teacher_cfg)
    cfg.pop('type')
    teacher = OpenCLIPTeacher(**cfg, save_teacher=True)
    assert len(teacher.state_dict()) == len(teacher.model.state_dict())


def test_encode_text_batched_and_normalised(tiny_teacher_cfg):
    cfg = dict(tiny_teacher_cfg)
    cfg.pop('type')
    teacher = OpenCLIPTeacher(**cfg)
    prompts = [f'a photo of a thing number {i}.' for i in range(7)]
    full = teacher.encode_text(prompts, batch_size=100)
    assert full.shape == (7, 32) and full.dtype == torch.float32
    torch.testing.assert_close(full.norm(dim=-1), torch.ones(7))
    torch.testing.assert_close(
        teacher.encode_text(prompts, batch_size=3), full, atol=1e-5,
        rtol=1e-5)


def test_renormalises_and_resizes_student_input(tiny_teacher_cfg):
    cfg = dict(tiny_teacher_cfg)
    cfg.pop('type')
    teacher = OpenCLIPTeacher(**cfg)
    pixels = torch.rand(2, 3, 64, 64) * 255
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    clip_mean = torch.tensor(teacher.clip_mean).view(1, 3, 1, 1) * 255
    clip_std = torch.tensor(teacher.clip_std).view(1, 3, 1, 1) * 255
    got = teacher.preprocess((pixels - mean) / std)
    expected = F.interpolate((pixels - clip_mean) / clip_std, size=(32, 32),
                             mode='bicubic', antialias=True)
    assert got.shape == (2, 3, 32, 32)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    # Same-size input: only the affine renormalisation.
    small = torch.rand(2, 3, 32, 32) * 255
    teacher.set_input_normalization([0, 0, 0], [255, 255, 255])
    torch.testing.assert_close(
        teacher.preprocess(small / 255), (small - clip_mean) / clip_std,
        atol=1e-4, rtol=1e-4)
    emb = teacher(small / 255)
    assert emb.shape == (2, 32)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(2))
