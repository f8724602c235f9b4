"""``OpenCLIPTeacher`` on every open_clip family, from ``local-dir:`` folders.

Each family's folder (``tests/teacher_families.py``) has its own embed dim,
input size, mean/std and tokenizer, so whatever the teacher reports must
come from the folder. References are built independently of the teacher:
numpy statistics, the tokenizer files read with ``transformers`` or
open_clip's ``SimpleTokenizer``, and the raw open_clip model.
"""
import os
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_model_cfg
from mmpretrain.registry import MODELS
from open_clip.hf_model import HFTextEncoder
from open_clip.model import CLIP, CustomTextCLIP
from open_clip.modified_resnet import ModifiedResNet
from open_clip.timm_model import TimmModel
from open_clip.tokenizer import HFTokenizer, SimpleTokenizer
from open_clip.transformer import (TextTransformer, Transformer,
                                   VisionTransformer)
from teacher_families import TEACHER_FAMILIES
from torch.nn.modules.batchnorm import _BatchNorm

import mmbeamclip  # noqa: F401
from mmbeamclip.models.teachers import OpenCLIPTeacher
from mmbeamclip.prompts import (build_prompt_bank, format_prompts,
                                prompt_bank_key)
from mmbeamclip.utils.local_dir import WEIGHTS_FILE, read_local_dir_config

FAMILIES = sorted(TEACHER_FAMILIES)
# What each family must really build: (model class, image tower, text
# tower). ``CLIP`` keeps its text transformer inline, ``CustomTextCLIP`` in
# ``.text``.
TOWERS = {
    'vit-clip': (CLIP, VisionTransformer, Transformer),
    'modified-resnet-clip': (CLIP, ModifiedResNet, Transformer),
    'timm-tower-clip': (CLIP, TimmModel, Transformer),
    'hf-text-tower-clip': (CustomTextCLIP, VisionTransformer, HFTextEncoder),
    'siglip': (CustomTextCLIP, TimmModel, TextTransformer),
}
WITH_BATCHNORM = {'modified-resnet-clip', 'timm-tower-clip'}
PROMPTS = ['a photo of a tench', 'a photo of the english springer',
           'itap of a chainsaw']
# Student inputs: ImageNet statistics on 0-255 RGB (the algorithm default).
STUDENT_MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STUDENT_STD = np.array([58.395, 57.12, 57.375], np.float32)


@pytest.fixture(scope='module')
def folders(tmp_path_factory):
    """Family name -> (teacher config, folder), each written once."""
    out = {}
    for name in FAMILIES:
        folder = str(tmp_path_factory.mktemp('families') / name)
        out[name] = TEACHER_FAMILIES[name](folder), folder
    return out


def build(cfg):
    cfg = dict(cfg)
    assert cfg.pop('type') == 'OpenCLIPTeacher'
    return OpenCLIPTeacher(**cfg)


def snapshot(teacher):
    """Copies of every teacher tensor, BN statistics included.

    Not a sum: CLIP's causal mask buffer holds -inf, which would make any
    checksum compare equal.
    """
    return {k: v.clone() for k, v in teacher.model.state_dict().items()}


def unchanged(teacher, before):
    after = teacher.model.state_dict()
    return after.keys() == before.keys() and all(
        torch.equal(after[k], before[k]) for k in before)


def reference_tokens(folder, text_cfg, texts):
    """Tokens from the folder's own tokenizer files, or CLIP's BPE."""
    context = text_cfg.get('context_length', 77)
    if text_cfg.get('hf_tokenizer_name'):
        from transformers import AutoTokenizer
        tok = AutoTokenizer.from_pretrained(folder)
        return tok(texts, return_tensors='pt', max_length=context,
                   padding='max_length', truncation=True).input_ids
    return SimpleTokenizer(context_length=context)(texts)


@pytest.mark.parametrize('family', FAMILIES)
def test_contract_comes_from_the_folder(folders, family):
    teacher_cfg, folder = folders[family]
    config = read_local_dir_config(folder)
    model_cfg, preprocess = config['model_cfg'], config['preprocess_cfg']
    teacher = build(teacher_cfg)

    model_cls, visual_cls, text_cls = TOWERS[family]
    assert type(teacher.model) is model_cls
    assert isinstance(teacher.model.visual, visual_cls)
    text_tower = (teacher.model.text if model_cls is CustomTextCLIP else
                  teacher.model.transformer)
    assert isinstance(text_tower, text_cls)

    # The same weights as on disk: loaded, not initialised.
    saved = torch.load(osp.join(folder, WEIGHTS_FILE))
    state = teacher.model.state_dict()
    assert saved.keys() == state.keys()
    assert all(torch.equal(saved[k], state[k]) for k in saved)

    assert teacher.embed_dim == model_cfg['embed_dim']
    # open_clip sizes the input by the image tower; a preprocess_cfg size,
    # where the folder has one, agrees with it.
    size = model_cfg['vision_cfg']['image_size']
    assert preprocess.get('size', size) == size
    assert teacher.image_size == (size, size)
    np.testing.assert_allclose(teacher.clip_mean, preprocess['mean'])
    np.testing.assert_allclose(teacher.clip_std, preprocess['std'])

    text_cfg = model_cfg['text_cfg']
    tok_cls = HFTokenizer if text_cfg.get('hf_tokenizer_name') else (
        SimpleTokenizer)
    assert type(teacher.tokenizer) is tok_cls
    assert teacher.tokenizer.context_length == text_cfg['context_length']
    tokens = teacher.tokenizer(PROMPTS)
    assert torch.equal(tokens, reference_tokens(folder, text_cfg, PROMPTS))


@pytest.mark.parametrize('family', FAMILIES)
def test_encode_text_uses_the_models_tokenizer(folders, family):
    teacher_cfg, folder = folders[family]
    text_cfg = read_local_dir_config(folder)['model_cfg']['text_cfg']
    teacher = build(teacher_cfg)
    got = teacher.encode_text(PROMPTS, batch_size=2)
    assert got.shape == (len(PROMPTS), teacher.embed_dim)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.norm(dim=-1), torch.ones(len(PROMPTS)))
    tokens = reference_tokens(folder, text_cfg, PROMPTS)
    with torch.no_grad():
        expected = F.normalize(teacher.model.encode_text(tokens), dim=-1)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    # Different prompts, different anchors (a constant tower would pass
    # the checks above).
    assert torch.cdist(got, got).triu(1)[0, 1:].min() > 1e-4


@pytest.mark.parametrize('family', FAMILIES)
def test_encode_image_renormalises_and_resizes(folders, family):
    teacher_cfg, folder = folders[family]
    config = read_local_dir_config(folder)
    preprocess = config['preprocess_cfg']
    teacher = build(teacher_cfg)
    rng = np.random.default_rng(0)
    pixels = rng.uniform(0, 255, (3, 72, 72, 3)).astype(np.float32)
    student = (pixels - STUDENT_MEAN) / STUDENT_STD
    clip = (pixels / 255 - np.array(preprocess['mean'], np.float32)) / (
        np.array(preprocess['std'], np.float32))

    def nchw(a):
        return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))

    size = config['model_cfg']['vision_cfg']['image_size']
    expected_input = F.interpolate(
        nchw(clip), size=(size, size), mode='bicubic', antialias=True)
    got_input = teacher.preprocess(nchw(student))
    assert got_input.shape == (3, 3, size, size)
    torch.testing.assert_close(got_input, expected_input, atol=1e-4,
                               rtol=1e-4)

    got = teacher.encode_image(nchw(student))
    assert got.shape == (3, teacher.embed_dim)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.norm(dim=-1), torch.ones(3))
    with torch.no_grad():
        expected = F.normalize(
            teacher.model.encode_image(expected_input), dim=-1)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(teacher(nchw(student)), got)


def with_bank(model):
    teacher = model.target_generator
    prompts = format_prompts(('tench', 'chainsaw'), ['a photo of a {}.'])
    bank, labels = build_prompt_bank(
        teacher.encode_text, prompts, progress=False)
    model.head.set_prompt_bank(
        bank, labels, prompt_bank_key(teacher.teacher_id, prompts, 'mean'))
    return model


@pytest.mark.parametrize('family', FAMILIES)
def test_frozen_inside_beamclip(folders, family):
    teacher_cfg, folder = folders[family]
    embed_dim = read_local_dir_config(folder)['model_cfg']['embed_dim']
    model = with_bank(MODELS.build(tiny_model_cfg(teacher_cfg, embed_dim)))
    teacher = model.target_generator
    assert not any(p.requires_grad for p in teacher.parameters())

    norms = [m for m in teacher.modules() if isinstance(m, _BatchNorm)]
    assert bool(norms) == (family in WITH_BATCHNORM)
    before = snapshot(teacher)
    # The model-wide init walk must not reach the teacher's towers (timm
    # trunks, for one, have init_weights of their own).
    model.init_weights()
    assert unchanged(teacher, before)

    model.train()
    assert model.backbone.training
    assert not any(m.training for m in teacher.modules())
    student_bn = model.backbone.bn1.running_mean.clone()
    losses = model.loss(torch.randn(4, 3, 40, 40), None)
    losses['loss_csm'].backward()
    assert torch.isfinite(losses['loss_csm'])
    # Student BN statistics moved, the teacher's did not.
    assert not torch.equal(model.backbone.bn1.running_mean, student_bn)
    assert unchanged(teacher, before)
    assert all(p.grad is None for p in teacher.parameters())

    assert teacher.state_dict() == {}
    assert not any(k.startswith('target_generator.')
                   for k in model.state_dict())


def test_siglip_logit_scale_and_bias_are_not_used(folders):
    """CSM compares normalised embeddings with its own temperatures."""
    teacher_cfg, _ = folders['siglip']
    model = with_bank(MODELS.build(tiny_model_cfg(teacher_cfg, 64)))
    model.eval()
    clip = model.target_generator.model
    assert clip.logit_bias is not None
    torch.testing.assert_close(clip.logit_bias.detach(), torch.tensor(-10.))
    x = torch.randn(4, 3, 40, 40)
    with torch.no_grad():
        losses = model.loss(x, None)
        scores = model.head.predict(model.embed(x))
        clip.logit_scale.fill_(1.)
        clip.logit_bias.fill_(5.)
        assert model.loss(x, None).keys() == losses.keys()
        for key, value in model.loss(x, None).items():
            torch.testing.assert_close(value, losses[key], msg=key)
        torch.testing.assert_close(
            model.head.predict(model.embed(x)), scores)


def copy_without_tokenizer(folder, out):
    """The folder as staged without its Hugging Face tokenizer files."""
    import shutil
    shutil.copytree(folder, out)
    for name in ('tokenizer.json', 'tokenizer_config.json', 'vocab.txt'):
        if osp.exists(osp.join(out, name)):
            os.remove(osp.join(out, name))
    return f'local-dir:{out}'


def test_hf_tokenizer_without_vocabulary_is_refused(folders, tmp_path):
    # transformers builds a BERT tokenizer of 5 special tokens from
    # config.json alone: every prompt would be [CLS] [UNK]... [SEP].
    _, folder = folders['hf-text-tower-clip']
    pretrained = copy_without_tokenizer(folder, str(tmp_path / 'bare'))
    with pytest.raises(FileNotFoundError) as e:
        OpenCLIPTeacher('bare-hf', pretrained=pretrained)
    message = str(e.value)
    assert pretrained in message and 'no vocabulary' in message
    assert 'save_pretrained' in message


def test_hf_tokenizer_files_missing_names_the_folder(folders, tmp_path):
    _, folder = folders['siglip']
    pretrained = copy_without_tokenizer(folder, str(tmp_path / 'bare'))
    with pytest.raises(RuntimeError) as e:
        OpenCLIPTeacher('bare-siglip', pretrained=pretrained)
    message = str(e.value)
    assert 'could not build the tokenizer' in message
    assert pretrained in message and 'tokenizer.json' in message
