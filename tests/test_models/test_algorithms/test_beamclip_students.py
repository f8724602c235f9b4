"""The neck reads the student's width off any backbone (issue #12)."""
import pytest
import torch
from conftest import tiny_model_cfg
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from test_beamclip import with_bank

import mmbeamclip  # noqa: F401

STUDENTS = {
    'resnet18': (dict(type='ResNet', depth=18, out_indices=(3, )), 512),
    'resnet18-all-stages':
    (dict(type='ResNet', depth=18, out_indices=(0, 1, 2, 3)), 512),
    'mobilenet-v2': (dict(type='MobileNetV2', widen_factor=1.0), 1280),
    'convnext-atto': (dict(type='ConvNeXt', arch='atto'), 320),
    'vit-cls-token': (dict(
        type='VisionTransformer',
        arch=dict(
            embed_dims=48, num_layers=1, num_heads=2, feedforward_channels=96),
        img_size=32,
        patch_size=8,
        out_type='cls_token'), 48),
    'vit-featmap': (dict(
        type='VisionTransformer',
        arch=dict(
            embed_dims=48, num_layers=1, num_heads=2, feedforward_channels=96),
        img_size=32,
        patch_size=8,
        out_type='featmap'), 48),
}


def student_cfg(teacher_cfg, backbone, **neck):
    cfg = tiny_model_cfg(teacher_cfg)
    cfg['backbone'] = backbone
    cfg['neck'] = dict(cfg['neck'], in_channels=None, **neck)
    cfg['neck'].pop('with_avg_pool', None)
    return cfg


@pytest.mark.parametrize('name', list(STUDENTS))
def test_neck_width_read_off_the_backbone(name, tiny_teacher_cfg):
    backbone, width = STUDENTS[name]
    model = with_bank(MODELS.build(student_cfg(tiny_teacher_cfg, backbone)))
    assert model.neck.fc0.in_features == width
    # Pooled vectors are not pooled again, feature maps are.
    pooled = name.startswith(('convnext', 'vit-cls'))
    assert model.neck.with_avg_pool is not pooled
    model.train()
    x = torch.randn(2, 3, 32, 32)
    losses = model(x, [DataSample(), DataSample()], mode='loss')
    assert torch.isfinite(losses['loss_csm'])
    losses['loss_csm'].backward()
    assert all(p.grad is not None for p in model.neck.parameters())
    # State dict round trip (resume): a fresh model infers the same neck.
    fresh = MODELS.build(student_cfg(tiny_teacher_cfg, backbone))
    fresh.load_state_dict(model.state_dict(), strict=True)
    model.eval()
    fresh.eval()
    torch.testing.assert_close(
        fresh(x, mode='predict')[0].pred_score,
        model(x, mode='predict')[0].pred_score)


def test_probe_leaves_training_state_alone(tiny_teacher_cfg):
    cfg = student_cfg(tiny_teacher_cfg,
                      dict(type='ResNet', depth=18, out_indices=(3, )))
    backbone = MODELS.build(cfg['backbone'])
    stats = backbone.bn1.running_mean.clone()
    backbone.train()
    cfg['backbone'] = backbone
    model = MODELS.build(cfg)
    assert model.backbone.training
    assert torch.equal(model.backbone.bn1.running_mean, stats)


def test_given_in_channels_is_checked(tiny_teacher_cfg):
    cfg = tiny_model_cfg(tiny_teacher_cfg)
    cfg['neck']['in_channels'] = 256
    with pytest.raises(ValueError, match='in_channels=512'):
        MODELS.build(cfg)


def test_ssl_neck_width_read_off_the_backbone(tiny_teacher_cfg):
    cfg = student_cfg(tiny_teacher_cfg,
                      dict(type='MobileNetV2', widen_factor=0.5))
    cfg.update(
        ssl_neck=dict(
            type='NonLinearNeck', hid_channels=16, out_channels=8,
            norm_cfg=dict(type='BN1d')),
        ssl_head=dict(
            type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'),
            temperature=0.1))
    model = MODELS.build(cfg)
    assert model.ssl_neck.fc0.in_features == 1280


def test_loss_stays_fp32_under_bf16_autocast(tiny_teacher_cfg):
    """As the ImageNet recipes run it (AmpOptimWrapper), on CPU autocast."""
    cfg = tiny_model_cfg(dict(tiny_teacher_cfg, precision='bf16'))
    model = with_bank(MODELS.build(cfg))
    model.train()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = model(torch.randn(4, 3, 32, 32), None, mode='loss')
    assert losses['loss_csm'].dtype == torch.float32
    assert torch.isfinite(losses['loss_csm'])
