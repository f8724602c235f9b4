"""Tiny ``local-dir:`` teachers, one per open_clip family a user would pick.

``TEACHER_FAMILIES`` maps a family name to a factory ``f(folder) -> dict``:
the factory writes a ``local-dir:`` folder with random weights (asked for
here, for tests) and returns the ``OpenCLIPTeacher`` config that loads it
through the same path as staged real weights. Each family has its own
``embed_dim``, input size, mean/std and tokenizer settings, so a value that
does not come from the folder shows up as a mismatch. Nothing here touches
the network; timm and Hugging Face towers are built from configs only.
"""
import os.path as osp
import tempfile

import torch
from conftest import TINY_CFG, write_tiny_clip_dir
from open_clip.constants import (IMAGENET_MEAN, IMAGENET_STD, INCEPTION_MEAN,
                                 INCEPTION_STD, OPENAI_DATASET_MEAN,
                                 OPENAI_DATASET_STD)
from open_clip.model import CLIP, CustomTextCLIP

from mmbeamclip.utils.local_dir import write_local_dir


def _teacher_cfg(model_name, pretrained):
    return dict(
        type='OpenCLIPTeacher', model_name=model_name, pretrained=pretrained)


def _preprocess(cfg, mean, std, **kwargs):
    return dict(
        size=cfg['vision_cfg']['image_size'],
        mean=list(mean),
        std=list(std),
        interpolation='bicubic',
        **kwargs)


def _write(folder, model_cls, cfg, preprocess_cfg, seed, extra_files=None,
           build_cfg=None):
    """Build ``model_cls(**(build_cfg or cfg))`` and save it under ``cfg``."""
    torch.manual_seed(seed)
    model = model_cls(**(build_cfg or cfg))
    return write_local_dir(
        folder,
        cfg,
        model.state_dict(),
        preprocess_cfg=preprocess_cfg,
        extra_files=extra_files)


def vit_clip(folder):
    """OpenAI-style CLIP: ViT image tower, causal text transformer, BPE."""
    write_tiny_clip_dir(folder, cfg=TINY_CFG)
    return _teacher_cfg('tiny-vit-clip', f'local-dir:{folder}')


MODIFIED_RESNET_CFG = dict(
    embed_dim=24,
    # A list of stage depths and no patch size: open_clip's ModifiedResNet
    # (RN50-style, BatchNorm, attention pooling). 64 px = 2x2 at the pool.
    vision_cfg=dict(image_size=64, layers=[1, 1, 1, 1], width=8,
                    head_width=32, patch_size=None),
    text_cfg=dict(
        context_length=12, vocab_size=49408, width=32, heads=2, layers=1))


def modified_resnet_clip(folder):
    """RN50-style CLIP: ModifiedResNet image tower (with BatchNorm)."""
    pretrained = _write(
        folder, CLIP, MODIFIED_RESNET_CFG,
        _preprocess(MODIFIED_RESNET_CFG, OPENAI_DATASET_MEAN,
                    OPENAI_DATASET_STD), seed=1)
    return _teacher_cfg('tiny-rn-clip', pretrained)


TIMM_CFG = dict(
    embed_dim=40,
    # timm's own tiny test ResNet (BatchNorm), built without weights:
    # create_model turns timm_model_pretrained off when a checkpoint loads.
    vision_cfg=dict(
        image_size=48,
        timm_model_name='test_resnet',
        timm_model_pretrained=False,
        timm_pool='avg',
        timm_proj='linear'),
    text_cfg=dict(
        context_length=20, vocab_size=49408, width=32, heads=2, layers=1))


def timm_tower_clip(folder):
    """A timm image tower (like the ConvNeXt CLIPs), BPE text tower."""
    pretrained = _write(
        folder, CLIP, TIMM_CFG,
        _preprocess(TIMM_CFG, IMAGENET_MEAN, IMAGENET_STD,
                    resize_mode='squash'), seed=2)
    return _teacher_cfg('tiny-timm-clip', pretrained)


def _wordpiece_vocab():
    """Special tokens, letters and digits with their ``##`` continuations.

    Any lower-case prompt tokenises without ``[UNK]``.
    """
    chars = list('abcdefghijklmnopqrstuvwxyz0123456789')
    return (['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] +
            list('.,\'-()') + chars + ['##' + c for c in chars] +
            ['a', 'photo', 'of', 'the', 'an', 'itap'])


def save_bert_text_tower(out_dir, hidden_size=32):
    """Save a tiny BERT config and its WordPiece tokenizer to ``out_dir``."""
    from transformers import BertConfig, BertTokenizerFast
    vocab_file = osp.join(out_dir, 'vocab.txt')
    vocab = _wordpiece_vocab()
    with open(vocab_file, 'w') as f:
        f.write('\n'.join(vocab) + '\n')
    BertTokenizerFast(vocab_file, do_lower_case=True).save_pretrained(out_dir)
    BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden_size,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=2 * hidden_size,
        max_position_embeddings=64).save_pretrained(out_dir)


HF_TEXT_CONTEXT = 24


def hf_text_tower_clip(folder):
    """A Hugging Face text tower (like roberta-ViT-B-32), tokenizer included.

    The BERT config and tokenizer files sit in the ``local-dir:`` folder:
    open_clip's ``get_tokenizer('local-dir:...')`` reads an HF tokenizer from
    the folder itself, and ``text_cfg.hf_model_name`` names the folder, so
    ``AutoConfig`` reads it from disk (HF_HUB_OFFLINE=1, no hub).
    """
    folder = osp.abspath(folder)
    with tempfile.TemporaryDirectory() as hf_dir:
        save_bert_text_tower(hf_dir)

        def cfg_for(hf_name, **text_kwargs):
            return dict(
                embed_dim=16,
                vision_cfg=dict(TINY_CFG['vision_cfg'], image_size=40,
                                patch_size=8),
                text_cfg=dict(
                    hf_model_name=hf_name,
                    hf_tokenizer_name=hf_name,
                    hf_pooler_type='mean_pooler',
                    hf_proj_type='mlp',
                    context_length=HF_TEXT_CONTEXT,
                    **text_kwargs))

        files = ['config.json', 'vocab.txt', 'tokenizer.json',
                 'tokenizer_config.json']
        cfg = cfg_for(folder)
        pretrained = _write(
            folder, CustomTextCLIP, cfg,
            _preprocess(cfg, OPENAI_DATASET_MEAN,
                        OPENAI_DATASET_STD), seed=3,
            extra_files={f: osp.join(hf_dir, f) for f in files},
            # random BERT weights from the config, not from a checkpoint
            build_cfg=cfg_for(hf_dir, hf_model_pretrained=False))
    return _teacher_cfg('tiny-hf-text-clip', pretrained)


def save_sentencepiece_like_tokenizer(out_dir):
    """A tiny T5-like tokenizer (Metaspace pieces, ``</s>`` appended).

    The real SigLIP tokenizer is a SentencePiece T5 vocabulary loaded through
    ``transformers``; this one has the same special tokens and layout, built
    with ``tokenizers`` alone.

    Returns:
        int: The vocabulary size.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast
    pieces = ['<pad>', '</s>', '<unk>', '\u2581'] + list(
        'abcdefghijklmnopqrstuvwxyz0123456789')
    vocab = {p: i for i, p in enumerate(pieces)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token='<unk>'))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.post_processor = processors.TemplateProcessing(
        single='$A </s>', special_tokens=[('</s>', vocab['</s>'])])
    PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token='<pad>',
        eos_token='</s>',
        unk_token='<unk>').save_pretrained(out_dir)
    return len(vocab)


SIGLIP_CONTEXT = 16


def siglip(folder):
    """SigLIP-style: a sigmoid-trained ``CustomTextCLIP``.

    Mirrors ``ViT-B-16-SigLIP.json``: ``init_logit_bias``, a timm ViT with
    MAP pooling and no projection, a non-causal text tower pooled at the
    last token, an HF SentencePiece-style tokenizer with ``canonicalize``
    cleaning, Inception mean/std.
    """
    with tempfile.TemporaryDirectory() as tok_dir:
        vocab_size = save_sentencepiece_like_tokenizer(tok_dir)
        width = 64  # timm test_vit's width: with timm_proj='none' it is D
        cfg = dict(
            embed_dim=width,
            init_logit_bias=-10,
            custom_text=True,
            vision_cfg=dict(
                image_size=32,
                timm_model_name='test_vit',
                timm_model_pretrained=False,
                timm_pool='map',
                timm_proj='none'),
            text_cfg=dict(
                context_length=SIGLIP_CONTEXT,
                vocab_size=vocab_size,
                hf_tokenizer_name='tiny-siglip-tokenizer',
                tokenizer_kwargs=dict(clean='canonicalize'),
                width=width,
                heads=2,
                layers=1,
                no_causal_mask=True,
                proj_bias=True,
                pool_type='last',
                norm_kwargs=dict(eps=1e-6)))
        build_cfg = {k: v for k, v in cfg.items() if k != 'custom_text'}
        pretrained = _write(
            folder, CustomTextCLIP, cfg,
            _preprocess(cfg, INCEPTION_MEAN, INCEPTION_STD,
                        resize_mode='squash'), seed=4,
            extra_files={
                f: osp.join(tok_dir, f)
                for f in ('tokenizer.json', 'tokenizer_config.json')
            },
            build_cfg=build_cfg)
    return _teacher_cfg('tiny-siglip', pretrained)


TEACHER_FAMILIES = {
    'vit-clip': vit_clip,
    'modified-resnet-clip': modified_resnet_clip,
    'timm-tower-clip': timm_tower_clip,
    'hf-text-tower-clip': hf_text_tower_clip,
    'siglip': siglip,
}
