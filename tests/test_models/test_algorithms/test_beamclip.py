import copy
from unittest.mock import MagicMock

import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_model_cfg
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmbeamclip  # noqa: F401
from mmbeamclip.prompts import (build_prompt_bank, format_prompts,
                                prompt_bank_key)


def with_bank(model, classnames=('cat', 'dog', 'crane')):
    teacher = model.target_generator
    prompts = format_prompts(classnames, ['a photo of a {}.', 'a {}.'])
    bank, labels = build_prompt_bank(
        teacher.encode_text, prompts, progress=False)
    model.head.set_prompt_bank(
        bank, labels, prompt_bank_key(teacher.teacher_id, prompts, 'mean'))
    return model


@pytest.fixture
def model(tiny_teacher_cfg):
    return with_bank(MODELS.build(tiny_model_cfg(tiny_teacher_cfg)))


def teacher_checksum(model):
    return sum(
        p.double().sum().item()
        for p in model.target_generator.parameters())


def test_modes(model):
    x = torch.randn(4, 3, 32, 32)
    feats = model(x, mode='tensor')
    assert feats[0].shape == (4, 512, 1, 1)
    losses = model(x, [DataSample() for _ in range(4)], mode='loss')
    assert set(losses) == {
        'loss_csm', 'csm_teacher_entropy', 'csm_top1_agreement'
    }
    preds = model(x, mode='predict')
    assert len(preds) == 4 and preds[0].pred_score.shape == (3, )
    torch.testing.assert_close(preds[0].pred_score.sum(), torch.tensor(1.))


def test_teacher_and_student_see_the_same_crop(tiny_teacher_cfg):
    model = with_bank(MODELS.build(tiny_model_cfg(tiny_teacher_cfg)))
    seen = {}
    encode = model.target_generator.encode_image

    def spy(x):
        seen['teacher'] = x
        return encode(x)

    model.target_generator.encode_image = spy
    pixels = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    data = model.data_preprocessor(
        dict(inputs=[pixels], data_samples=[DataSample(), DataSample()]),
        True)
    model(**data, mode='loss')
    # Undo the student normalisation of the teacher's input: the raw crop,
    # converted to RGB by the preprocessor.
    pre = model.data_preprocessor
    restored = seen['teacher'] * pre.std + pre.mean
    torch.testing.assert_close(restored, pixels[:, [2, 1, 0]].float(),
                               atol=1e-3, rtol=0)
    # and the teacher was told the preprocessor's statistics
    clip = model.target_generator.preprocess(seen['teacher'])
    clip_mean = torch.tensor(model.target_generator.clip_mean).view(
        1, 3, 1, 1) * 255
    clip_std = torch.tensor(model.target_generator.clip_std).view(
        1, 3, 1, 1) * 255
    torch.testing.assert_close(
        clip, (pixels[:, [2, 1, 0]].float() - clip_mean) / clip_std,
        atol=1e-3, rtol=1e-4)


def test_gradients_reach_student_only(model):
    model.train()
    assert not model.target_generator.training
    loss = model(torch.randn(4, 3, 32, 32), None, mode='loss')['loss_csm']
    loss.backward()
    assert all(p.grad is not None for p in model.backbone.parameters()
               if p.requires_grad)
    assert all(p.grad is not None for p in model.neck.parameters())
    assert all(p.grad is None for p in model.target_generator.parameters())


def test_init_weights_never_touches_the_teacher(tiny_teacher_cfg):
    cfg = tiny_model_cfg(tiny_teacher_cfg)
    cfg['backbone']['init_cfg'] = dict(type='Kaiming', layer='Conv2d')
    model = MODELS.build(cfg)
    before = teacher_checksum(model)
    model.init_weights()
    assert teacher_checksum(model) == before
    with pytest.raises(ValueError, match='re-initialise the frozen teacher'):
        MODELS.build(dict(tiny_model_cfg(tiny_teacher_cfg),
                          init_cfg=dict(type='Kaiming', layer='Conv2d')))


def test_teacher_not_in_state_dict_and_loads_quietly(model,
                                                     tiny_teacher_cfg):
    state = model.state_dict()
    assert not any(k.startswith('target_generator.') for k in state)
    assert any(k.startswith('backbone.') for k in state)
    assert 'head.prompt_bank' in state
    fresh = MODELS.build(tiny_model_cfg(tiny_teacher_cfg))
    result = fresh.load_state_dict(state, strict=True)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert fresh.head.bank_key == model.head.bank_key


def test_neck_size_must_match_teacher(tiny_teacher_cfg):
    with pytest.raises(ValueError, match='neck.out_channels=32'):
        MODELS.build(tiny_model_cfg(tiny_teacher_cfg, out_channels=64))


def test_mocked_teacher(tiny_teacher_cfg):
    """As mmpretrain's MILAN test: the algorithm only needs the interface."""
    teacher = MagicMock(spec=torch.nn.Module)
    teacher.embed_dim = 32
    teacher.return_value = F.normalize(torch.randn(2, 32), dim=-1)
    model = MODELS.build(tiny_model_cfg(copy.deepcopy(tiny_teacher_cfg)))
    model.target_generator = teacher
    model.head.set_prompt_bank(
        F.normalize(torch.randn(3, 32), dim=-1), torch.arange(3), '00' * 32)
    x = torch.randn(2, 3, 32, 32)
    model(x, None, mode='loss')
    args = teacher.call_args[0]
    assert torch.equal(args[0], x)
