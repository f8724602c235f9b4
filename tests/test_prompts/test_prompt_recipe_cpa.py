"""PromptRecipe with CPA contexts: prompts, keys, anchors, zero-shot."""
import json
import warnings

import pytest
import torch
from mmpretrain.registry import HOOKS, MODELS

import mmbeamclip  # noqa: F401
from mmbeamclip.engine.hooks import PromptBankHook
from mmbeamclip.models.heads import CSMHead
from mmbeamclip.prompts import (PromptRecipe, build_prompt_bank,
                                format_prompts, imagenet_classnames,
                                prompt_bank_key)

# bird crane, machine crane, and the two maillots
WNIDS = ['n02012849', 'n03126707', 'n03710637', 'n03710721']
TEMPLATES = ['a photo of a {}.', 'a drawing of the {}.']
HYPER = dict(type='WordNetHypernyms', max_contexts=2)


def make(**kwargs):
    kwargs.setdefault('classnames', WNIDS)
    kwargs.setdefault('templates', TEMPLATES)
    return PromptRecipe(**kwargs)


def test_cpa_prompts_and_counts():
    hook = make(contexts=HYPER)
    prompts, _ = hook.prompts_and_key('t', hook.class_ids)
    assert [len(p) for p in prompts] == [4] * 4  # 2 templates x 2 contexts
    assert prompts[0][:2] == [
        'a photo of a crane bird, a type of wading bird.',
        'a photo of a crane bird, a type of aquatic bird.'
    ]
    # each template appears with each context exactly once
    for p in prompts:
        assert sum(x.startswith('a photo of a ') for x in p) == 2
    assert len({tuple(p) for p in prompts}) == 4
    # deterministic across hook instances
    assert make(contexts=HYPER).prompts_and_key('t', WNIDS)[0] == prompts


def test_same_name_classes_get_different_prompts():
    # as plain names both cranes (and both maillots) give identical prompts
    names = ['crane', 'crane', 'maillot', 'maillot']
    plain = make(classnames=names).class_prompts(names)
    assert plain[0] == plain[1] and plain[2] == plain[3]
    hook = make(contexts=[HYPER, dict(type='WordNetDefinitions')])
    cpa = hook.class_prompts(WNIDS)
    assert len({tuple(p) for p in cpa}) == 4
    # the ImageNet preset is looked up by wnid, so its duplicates differ too
    preset = make(classnames='imagenet', templates='vanilla', contexts=HYPER)
    assert preset.classnames == imagenet_classnames()
    prompts = preset.class_prompts(preset.class_ids)
    names = preset.classnames
    for name in {n for n in names if names.count(n) > 1}:
        group = [tuple(p) for n, p in zip(names, prompts) if n == name]
        assert len(set(group)) == len(group), name


def test_key_without_contexts_is_unchanged():
    hook = make()
    prompts, key = hook.prompts_and_key('t', WNIDS)
    assert prompts == format_prompts(hook.classnames, TEMPLATES)
    assert key == prompt_bank_key('t', prompts, 'mean')


def test_key_changes_with_every_setting(tmp_path):
    user = tmp_path / 'ctx.json'
    user.write_text(json.dumps({w: ['x'] for w in WNIDS}))
    variants = [
        dict(),
        dict(contexts=HYPER),
        dict(contexts=dict(HYPER, max_contexts=1)),
        dict(contexts=dict(HYPER, phrase='{name} ({context})')),
        dict(contexts=dict(type='WordNetDefinitions')),
        dict(contexts=dict(type='WordNetSynonyms')),
        dict(contexts=dict(type='JSONContexts', file=str(user))),
        dict(contexts=[HYPER, dict(type='WordNetDefinitions')]),
        dict(contexts=[dict(type='WordNetDefinitions'), HYPER]),
        dict(contexts=HYPER, include_plain=True),
        dict(contexts=HYPER, max_prompts=3),
        dict(contexts=HYPER, aggregate='none'),
        dict(contexts=HYPER, templates=TEMPLATES[:1]),
        dict(max_prompts=1),
    ]
    keys = []
    for kwargs in variants:
        with warnings.catch_warnings():
            # synonyms leave the cranes without context (a warned fallback)
            warnings.simplefilter('ignore')
            keys.append(make(**kwargs).prompts_and_key('t', WNIDS)[1])
    assert len(set(keys)) == len(variants)
    # the teacher and the content of a user file count too
    hook = make(contexts=dict(type='JSONContexts', file=str(user)))
    assert hook.prompts_and_key('t2', WNIDS)[1] != keys[6]
    user.write_text(json.dumps({w: ['y'] for w in WNIDS}))
    hook = make(contexts=dict(type='JSONContexts', file=str(user)))
    assert hook.prompts_and_key('t', WNIDS)[1] != keys[6]


def test_max_prompts_bounds_every_class():
    hook = make(contexts=HYPER, include_plain=True, max_prompts=5)
    prompts = hook.class_prompts(WNIDS)
    assert [len(p) for p in prompts] == [5] * 4  # of 2 x 3
    # template-major: the first template goes with every phrase first
    assert prompts[1][:3] == [
        'a photo of a construction crane.',
        'a photo of a construction crane, a type of lifting device.',
        'a photo of a construction crane, a type of device.'
    ]


@pytest.mark.parametrize('make', [make, lambda **kw: PromptBankHook(
    **dict(dict(classnames=WNIDS, templates=TEMPLATES), **kw))])
def test_bad_config_fails_at_construction(tmp_path, make):
    with pytest.raises(ValueError, match='template list is empty'):
        make(templates=[], contexts=HYPER)
    with pytest.raises(ValueError, match='exactly one'):
        make(templates=[''], contexts=HYPER)
    with pytest.raises(KeyError, match='Unknown context source'):
        make(contexts=dict(type='WordNetHyponyms'))
    with pytest.raises(ValueError, match='max_prompts'):
        make(contexts=HYPER, max_prompts=0)
    with pytest.raises(FileNotFoundError):
        make(contexts=dict(type='JSONContexts', file=str(tmp_path / 'no')))


def test_built_from_config_registry():
    hook = HOOKS.build(
        dict(
            type='PromptBankHook',
            classnames=WNIDS,
            templates='vanilla',
            contexts=dict(type='WordNetDefinitions')))
    assert hook.recipe.class_prompts(WNIDS)[3] == [
        "a photo of a one-piece bathing suit, a woman's one-piece bathing "
        'suit.'
    ]


def test_zero_shot_predict_with_per_prompt_anchors(tiny_teacher_cfg):
    teacher = MODELS.build(tiny_teacher_cfg)
    hook = make(contexts=HYPER, aggregate='none')
    prompts, key = hook.prompts_and_key(teacher.teacher_id, WNIDS)
    bank, labels = build_prompt_bank(
        teacher.encode_text, prompts, aggregate='none', progress=False)
    assert bank.shape == (16, teacher.embed_dim)
    assert labels.tolist() == [c for c in range(4) for _ in range(4)]

    head = CSMHead(predict_temperature=0.01)
    head.set_prompt_bank(bank, labels, key)
    assert head.num_classes == 4
    # an image embedding equal to one prompt's anchor is that prompt's class
    for k in (0, 5, 10, 15):
        probs = head.predict(bank[k:k + 1] * 3.0)
        assert probs.shape == (1, 4)
        torch.testing.assert_close(probs.sum(-1), torch.ones(1))
        assert probs.argmax(-1).item() == labels[k].item()
    # class scores are the summed probabilities of the class's anchors
    embed = torch.randn(5, teacher.embed_dim)
    anchor_probs = (torch.nn.functional.normalize(embed) @ bank.t() /
                    0.01).softmax(-1)
    expected = anchor_probs.view(5, 4, 4).sum(-1)
    torch.testing.assert_close(head.predict(embed), expected)
