"""The SSL term of BeamCLIP: joint loss, SSL off, shared view, cross-rank."""
import os
import os.path as osp
import socket

import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_model_cfg
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmpretrain.registry import MODELS, TRANSFORMS

import mmbeamclip  # noqa: F401  (registers BeamCLIP)

REPO = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
JOINT_CPU_CFG = osp.join(
    REPO, 'configs/beamclip/'
    'beamclip-simclr_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py')
EMBED_DIM = 32  # the tiny teacher's
NUM_ANCHORS = 5
TAU = 0.1


def model_cfg(teacher_cfg, ssl_head=True, ssl_weight=0.5):
    """The shipped model with a small ResNet-18 student (16 base channels)
    on the tiny teacher, and the SimCLR term."""
    cfg = tiny_model_cfg(
        teacher_cfg, EMBED_DIM, stem_channels=16, base_channels=16)
    if ssl_head:
        cfg.update(
            ssl_neck=dict(
                type='NonLinearNeck',
                in_channels=128,
                hid_channels=64,
                out_channels=16,
                num_layers=2,
                with_avg_pool=True,
                norm_cfg=dict(type='BN1d')),
            ssl_head=dict(
                type='ContrastiveHead',
                loss=dict(type='CrossEntropyLoss'),
                temperature=TAU),
            ssl_weight=ssl_weight)
    return cfg


def build_model(teacher_cfg, seed=0, **kwargs):
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg(teacher_cfg, **kwargs))
    gen = torch.Generator().manual_seed(seed)
    bank = F.normalize(
        torch.randn(NUM_ANCHORS, EMBED_DIM, generator=gen), dim=-1)
    model.head.set_prompt_bank(bank, torch.arange(NUM_ANCHORS), 'ab' * 32)
    return model


def make_views(n=4, size=32, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, size, size, generator=gen) for _ in range(2)]


def csm_only_twin(model, teacher_cfg):
    """A CSM-only model holding exactly ``model``'s CSM weights."""
    ref = build_model(teacher_cfg, seed=123, ssl_head=False)
    missing, unexpected = ref.load_state_dict(model.state_dict(), strict=False)
    assert not missing
    assert all(k.startswith('ssl_neck.') for k in unexpected)
    return ref


def count_calls(module):
    """Record the batch size of every forward of ``module``."""
    sizes = []
    module.register_forward_pre_hook(
        lambda mod, args: sizes.append(args[0].shape[0]))
    return sizes


def nt_xent(z0, z1, tau=TAU):
    """Textbook NT-Xent (SimCLR), independent of mmpretrain's layout."""
    z = F.normalize(torch.cat([z0, z1]), dim=-1)
    n = z0.shape[0]
    logits = z @ z.t() / tau
    logits.fill_diagonal_(float('-inf'))
    target = (torch.arange(2 * n) + n) % (2 * n)
    return F.cross_entropy(logits, target)


def total_loss(losses):
    """What mmengine backpropagates: the sum of every key with 'loss'."""
    return sum(v for k, v in losses.items() if 'loss' in k)


# --------------------------------------------------------------- SSL off
@pytest.mark.parametrize('ssl_head,ssl_weight', [(False, 1.0), (True, 0.0)])
def test_ssl_off_is_exactly_csm_only(tiny_teacher_cfg, ssl_head, ssl_weight):
    model = build_model(
        tiny_teacher_cfg, ssl_head=ssl_head, ssl_weight=ssl_weight)
    assert not model.with_ssl
    # Nothing built that could sit unused under DDP.
    assert model.ssl_neck is None and model.ssl_head is None
    assert not [n for n, _ in model.named_parameters() if 'ssl' in n]

    ref = build_model(tiny_teacher_cfg, seed=7, ssl_head=False)
    ref.load_state_dict(model.state_dict())
    views = make_views()
    calls = count_calls(model.backbone)
    teacher_calls = count_calls(model.target_generator)
    losses = model.loss(views, None)
    expected = ref.loss(views[0], None)

    assert calls == [4]  # the extra view is never forwarded
    assert teacher_calls == [4]
    assert set(losses) == set(expected)
    for key in expected:
        torch.testing.assert_close(losses[key], expected[key])


# ------------------------------------------------------------ joint loss
def test_joint_loss_is_csm_plus_weighted_ssl(tiny_teacher_cfg):
    weight = 0.5
    model = build_model(tiny_teacher_cfg, ssl_weight=weight)
    assert model.with_ssl
    ref = csm_only_twin(model, tiny_teacher_cfg)
    views = make_views()
    calls = count_calls(model.backbone)
    teacher_inputs = []
    model.target_generator.register_forward_pre_hook(
        lambda mod, args: teacher_inputs.append(args[0]))

    losses = model.loss(views, None)

    # One teacher pass on the shared crop; one student pass per view.
    assert len(teacher_inputs) == 1
    assert teacher_inputs[0] is views[0]
    assert calls == [4, 4]
    assert {'loss_csm', 'loss_ssl', 'ssl_nce', 'ssl_top1'} <= set(losses)

    # CSM term: exactly what the CSM-only model gives on the shared crop.
    torch.testing.assert_close(losses['loss_csm'],
                               ref.loss(views[0], None)['loss_csm'])
    # SSL term: textbook NT-Xent through the model's own modules.
    with torch.no_grad():
        z0, z1 = (
            model._project(model.ssl_neck, model.backbone(v)) for v in views)
    nce = nt_xent(z0, z1)
    torch.testing.assert_close(losses['ssl_nce'], nce)
    torch.testing.assert_close(losses['loss_ssl'], weight * nce)
    torch.testing.assert_close(
        total_loss(losses), losses['loss_csm'] + weight * nce)
    # The diagnostics are not backpropagated (no 'loss' in their names).
    assert not losses['ssl_nce'].requires_grad

    # Every trainable parameter gets a gradient: DDP needs no
    # find_unused_parameters.
    total_loss(losses).backward()
    for name, param in model.named_parameters():
        if param.requires_grad:
            assert param.grad is not None, name
        else:
            assert name.startswith('target_generator.'), name
    assert any(p.grad.abs().sum() > 0 for p in model.ssl_neck.parameters())


def test_ssl_weight_scales_only_the_ssl_gradient(tiny_teacher_cfg):
    grads = {}
    for weight in (1.0, 3.0):
        model = build_model(tiny_teacher_cfg, ssl_weight=weight)
        total_loss(model.loss(make_views(), None)).backward()
        grads[weight] = model.ssl_neck.fc1.weight.grad.clone()
    torch.testing.assert_close(grads[3.0], 3.0 * grads[1.0])


def test_ssl_config_errors(tiny_teacher_cfg):
    cfg = model_cfg(tiny_teacher_cfg)
    with pytest.raises(ValueError, match='ssl_neck'):
        MODELS.build({**cfg, 'ssl_neck': None})
    with pytest.raises(ValueError, match='ssl_weight'):
        MODELS.build({**cfg, 'ssl_weight': -1.0})
    with pytest.raises(TypeError, match='ContrastiveHead'):
        MODELS.build({
            **cfg, 'ssl_head':
            dict(
                type='LatentPredictHead',
                loss=dict(type='CosineSimilarityLoss'),
                predictor=dict(
                    type='NonLinearNeck',
                    in_channels=16,
                    hid_channels=16,
                    out_channels=16))
        })
    model = build_model(tiny_teacher_cfg)
    with pytest.raises(ValueError, match='two views'):
        model.loss(make_views()[0], None)


# ----------------------------------------------------------- shared view
def _set_crop_size(pipeline, size):
    for t in pipeline:
        if isinstance(t, list):
            _set_crop_size(t, size)
        elif isinstance(t, dict):
            if t['type'] == 'RandomResizedCrop':
                t['scale'] = size
            for value in t.values():
                if isinstance(value, list):
                    _set_crop_size(value, size)


def test_teacher_and_student_share_view0(tiny_teacher_cfg, image_folder):
    """Run the joint config's real pipeline and preprocessor; the pixels the
    teacher encodes (CLIP normalisation undone) are view 0's pixels."""
    from mmpretrain.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(JOINT_CPU_CFG)
    pipeline = cfg.to_dict()['train_dataloader']['dataset']['pipeline']
    _set_crop_size(pipeline, 32)  # the tiny teacher's input size: no resize
    transform = [TRANSFORMS.build(t) for t in pipeline]

    def run(path):
        results = dict(img_path=path)
        for t in transform:
            results = t(results)
        return results

    train = osp.join(image_folder, 'train', 'n01440764')
    batch = default_collate(
        [run(osp.join(train, f'{i}.JPEG')) for i in range(3)])
    raw = [v.float()[:, [2, 1, 0]] for v in batch['inputs']]  # BGR -> RGB
    assert len(raw) == 2 and raw[0].shape == (3, 3, 32, 32)

    model_dict = cfg.to_dict()['model']
    model_dict.update(
        target_generator=tiny_teacher_cfg,
        neck=dict(model_dict['neck'], out_channels=EMBED_DIM))
    torch.manual_seed(0)
    model = MODELS.build(model_dict)
    model.head.set_prompt_bank(
        F.normalize(torch.randn(NUM_ANCHORS, EMBED_DIM), dim=-1),
        torch.arange(NUM_ANCHORS), 'cd' * 32)
    teacher = model.target_generator
    seen = {}
    preprocess = teacher.preprocess

    def spy(x):
        out = preprocess(x)
        seen['in'], seen['out'] = x, out
        return out

    teacher.preprocess = spy
    student_inputs = []
    model.backbone.register_forward_pre_hook(
        lambda mod, args: student_inputs.append(args[0]))

    data = model.data_preprocessor(batch, training=True)
    losses = model(**data, mode='loss')
    assert {'loss_csm', 'loss_ssl'} <= set(losses)

    clip_mean = torch.tensor(teacher.clip_mean).view(1, 3, 1, 1) * 255
    clip_std = torch.tensor(teacher.clip_std).view(1, 3, 1, 1) * 255
    teacher_pixels = seen['out'] * clip_std + clip_mean
    mean = model.data_preprocessor.mean.view(1, 3, 1, 1)
    std = model.data_preprocessor.std.view(1, 3, 1, 1)
    first_student_pixels = student_inputs[0] * std + mean

    torch.testing.assert_close(teacher_pixels, raw[0], atol=1e-3, rtol=0)
    torch.testing.assert_close(first_student_pixels, raw[0], atol=1e-3, rtol=0)
    assert seen['in'] is student_inputs[0]
    # ...and it is not the extra view, which comes from another crop.
    assert (teacher_pixels - raw[1]).abs().max() > 10
    torch.testing.assert_close(
        student_inputs[1] * std + mean, raw[1], atol=1e-3, rtol=0)


# ------------------------------------------------------ two CPU ranks
def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _rank_step(teacher_cfg, views):
    """Loss and gradients of one training step in eval mode (BN frozen, so
    per-rank and full-batch forwards agree)."""
    model = build_model(teacher_cfg, ssl_weight=0.5)
    model.eval()
    losses = model.loss(views, None)
    total_loss(losses).backward()
    grads = {
        n: p.grad.detach().clone()
        for n, p in model.named_parameters() if p.requires_grad
    }
    return {k: v.detach() for k, v in losses.items()}, grads


def _dist_worker(rank, world_size, port, teacher_cfg, out_dir):
    import torch.distributed as dist
    os.environ['MASTER_ADDR'] = '127.0.0.1'
    os.environ['MASTER_PORT'] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    try:
        views = make_views(n=8)
        shard = [v[rank * 4:(rank + 1) * 4] for v in views]
        losses, grads = _rank_step(teacher_cfg, shard)
        # What DDP does with the gradients.
        for g in grads.values():
            dist.all_reduce(g)
            g /= world_size
        torch.save(
            dict(losses=losses, grads=grads),
            osp.join(out_dir, f'rank{rank}.pth'))
    finally:
        dist.destroy_process_group()


def test_two_ranks_match_one_process_full_batch(tiny_teacher_cfg, tmp_path):
    import torch.multiprocessing as mp
    world_size = 2
    mp.spawn(
        _dist_worker,
        args=(world_size, _free_port(), tiny_teacher_cfg, str(tmp_path)),
        nprocs=world_size)
    ranks = [
        torch.load(tmp_path / f'rank{r}.pth', weights_only=False)
        for r in range(world_size)
    ]
    full_losses, full_grads = _rank_step(tiny_teacher_cfg, make_views(n=8))

    # Negatives come from both ranks: every rank has the full-batch loss.
    for r in ranks:
        torch.testing.assert_close(r['losses']['loss_ssl'],
                                   full_losses['loss_ssl'])
        torch.testing.assert_close(r['losses']['ssl_top1'],
                                   full_losses['ssl_top1'])
    # CSM is per image: the ranks' mean is the full-batch mean.
    torch.testing.assert_close(
        sum(r['losses']['loss_csm'] for r in ranks) / world_size,
        full_losses['loss_csm'])
    # DDP-averaged gradients equal the one-process gradients, so ssl_weight
    # means the same at any world size.
    assert set(ranks[0]['grads']) == set(full_grads)
    for name, grad in full_grads.items():
        torch.testing.assert_close(
            ranks[0]['grads'][name], grad, rtol=1e-4, atol=1e-6, msg=name)
