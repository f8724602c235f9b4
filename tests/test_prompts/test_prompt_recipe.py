"""PromptRecipe: vocabulary presets, placement, filters and bad input."""
import json
import os

import pytest
import torch
from mmpretrain.registry import MODELS

import mmbeamclip  # noqa: F401
from mmbeamclip.engine.hooks import PromptBankHook
from mmbeamclip.prompts import (GENERIC_HYPERNYMS, PromptRecipe,
                                WordNetHypernyms, build_prompt_bank,
                                generic_vocabulary_wnids, imagenet_wnids,
                                load_or_build_prompt_bank, resolve_classnames,
                                resolve_templates, warn_identical_anchors)

CRANES = ['n02012849', 'n03126707']


@pytest.mark.parametrize('template', [
    'a {kind} photo of a {}.', 'a photo of a {}. {', 'a photo {of a {}.',
    'a photo of a {0}.', 'a photo of a {}{}.', 'a photo of a {!r}.'
])
def test_bad_templates_fail_when_the_hook_is_built(template):
    with pytest.raises(ValueError, match='template') as info:
        PromptBankHook(classnames=['cat'], templates=[template])
    assert repr(template) in str(info.value)


def test_literal_braces_are_fine():
    recipe = PromptRecipe(['cat'], templates=['a {{x}} of a {}.'])
    assert recipe.class_prompts() == [['a {x} of a cat.']]


def test_sentence_placement_reads_as_english_with_all_80_templates():
    templates = resolve_templates('openai_imagenet')
    hyper = dict(type='WordNetHypernyms', placement='sentence',
                 max_contexts=1)
    recipe = PromptRecipe(['n02108089'], templates=templates, contexts=hyper)
    (prompts, ) = recipe.class_prompts()
    assert len(prompts) == 80
    sentence = 'It is a type of working dog.'
    for template, prompt in zip(templates, prompts):
        head = template.format('Boxer')
        # the template stays whole and ends its sentence; the context is a
        # sentence of its own after it, never inside the template's tail
        assert prompt == f'{head} {sentence}', prompt
        assert head.endswith('.')
    inline = PromptRecipe(['n02108089'], templates=templates,
                          contexts=dict(hyper, placement='inline'))
    assert any('working dog in a video game' in p
               for p in inline.class_prompts()[0])


def test_sentence_placement_adds_a_full_stop_and_other_sources():
    recipe = PromptRecipe(
        ['n03710721'],
        templates=['itap of a {}', 'a photo of a {}!'],
        contexts=[dict(type='WordNetSynonyms', placement='sentence')])
    assert recipe.class_prompts() == [[
        'itap of a one-piece bathing suit. Also called maillot.',
        'itap of a one-piece bathing suit. Also called tank suit.',
        'a photo of a one-piece bathing suit! Also called maillot.',
        'a photo of a one-piece bathing suit! Also called tank suit.'
    ]]
    with pytest.raises(ValueError, match='placement'):
        WordNetHypernyms(placement='suffix')


def test_generic_hypernyms_are_skipped():
    # construction crane: lifting device, device, instrumentality, ...
    plain = WordNetHypernyms(max_contexts=None).phrases(CRANES[1], 'crane')
    skipped = WordNetHypernyms(
        max_contexts=None, skip_generic=True).phrases(CRANES[1], 'crane')
    assert any(p.endswith('a type of device') for p in plain)
    assert skipped and all(
        p.split('a type of ')[1] not in GENERIC_HYPERNYMS for p in skipped)
    assert [p for p in plain if p in skipped] == skipped  # order kept
    assert WordNetHypernyms(max_contexts=1, skip=['lifting device']).phrases(
        CRANES[1], 'crane') != plain[:1]


def test_imagenet_wordnet_preset_keeps_wordnets_ambiguity():
    recipe = PromptRecipe('imagenet_wordnet', templates='vanilla')
    names = recipe.classnames
    assert recipe.class_ids == imagenet_wnids() and len(names) == 1000
    assert names.count('crane') == 2 and names.count('maillot') == 2
    assert 'cardigan' in names and 'Cardigan' in names and 'boxer' in names
    # the curated preset has none of these duplicates
    assert PromptRecipe('imagenet', templates='vanilla').classnames.count(
        'crane') == 0
    # CPA looks contexts up by wnid, so the two cranes get two prompt sets
    cpa = PromptRecipe(
        'imagenet_wordnet', templates='vanilla',
        contexts=dict(type='WordNetHypernyms', placement='sentence'))
    prompts = cpa.class_prompts()
    i, j = (imagenet_wnids().index(w) for w in CRANES)
    assert prompts[i] != prompts[j]
    assert prompts[i][0].startswith('a photo of a crane. It is a type of')


def test_generic_vocabulary_preset():
    recipe = PromptRecipe('wordnet_generic', templates='vanilla')
    ids, names = recipe.class_ids, recipe.classnames
    assert len(ids) >= 3000 and ids == sorted(ids)
    assert ids == generic_vocabulary_wnids()
    assert set(imagenet_wnids()) <= set(ids)  # ImageNet subsets map by id
    lowered = [n.lower() for n in names]
    # one name per synset, unique apart from ImageNet's own two duplicates
    dupes = {n for n in lowered if lowered.count(n) > 1}
    assert dupes <= {'missile', 'sunglasses'}
    # wnids of the vocabulary resolve to its names (for classnames lists)
    assert resolve_classnames(ids[:50]) == names[:50]
    # and CPA finds their contexts without WordNet (the file ships them)
    source = WordNetHypernyms(max_contexts=1)
    assert all(source.record(w) for w in ids[:50])


def test_dataset_class_checks(tmp_path):
    recipe = PromptRecipe('dataset', templates='vanilla')
    with pytest.warns(UserWarning, match='carry no meaning') as record:
        recipe.resolve(['0', '1', '2'])
    assert "'0'" in str(record[0].message)
    bad = os.fsdecode(b'caf\xe9')  # a Latin-1 folder name
    with pytest.raises(ValueError, match='not valid UTF-8') as info:
        recipe.resolve(['cat', bad])
    assert 'caf\\udce9' in str(info.value)
    with pytest.raises(ValueError, match='no .classes.'):
        recipe.resolve(None)


def test_identical_anchors_are_warned(tiny_teacher_cfg):
    teacher = MODELS.build(tiny_teacher_cfg)
    # the tiny text tower keeps 16 tokens: these differ only past them
    long_a = 'x ' * 20 + 'alpha'
    long_b = 'x ' * 20 + 'beta'
    classes = ['cat', 'dog', 'cat', long_a, long_b]
    recipe = PromptRecipe(classes, templates='vanilla')
    bank, labels = build_prompt_bank(
        teacher.encode_text, recipe.class_prompts(), progress=False)
    with pytest.warns(UserWarning, match='identical anchors') as record:
        groups = warn_identical_anchors(bank, labels, classes, classes)
    assert groups == [[0, 2], [3, 4]]
    message = str(record[0].message)
    assert "'cat' (cat) = 'cat' (cat)" in message and 'beta' in message
    # distinct classes give no warning
    ok = PromptRecipe(['cat', 'dog'], templates='vanilla')
    bank, labels = build_prompt_bank(
        teacher.encode_text, ok.class_prompts(), progress=False)
    assert warn_identical_anchors(bank, labels, ['cat', 'dog'],
                                  ['cat', 'dog']) == []


def test_batch_size_zero_is_refused():
    with pytest.raises(ValueError, match='batch_size'):
        PromptBankHook(classnames=['cat'], batch_size=0)


def test_unwritable_cache_warns_and_keeps_the_bank(tiny_teacher_cfg,
                                                   tmp_path):
    teacher = MODELS.build(tiny_teacher_cfg)
    blocker = tmp_path / 'file'
    blocker.write_text('not a folder')
    prompts = [['a photo of a cat.'], ['a photo of a dog.']]
    with pytest.warns(UserWarning, match='Could not write the prompt-bank'):
        bank, labels = load_or_build_prompt_bank(
            teacher, prompts, 'ab' * 32, cache_dir=str(blocker / 'banks'),
            progress=False)
    expected, _ = build_prompt_bank(teacher.encode_text, prompts,
                                    progress=False)
    torch.testing.assert_close(bank, expected)
    assert labels.tolist() == [0, 1]


def test_malformed_json_names_the_file(tmp_path):
    path = tmp_path / 'ctx.json'
    path.write_text('{"cat": ["a pet"],}')
    with pytest.raises(ValueError, match='not valid JSON') as info:
        PromptRecipe(['cat'], contexts=dict(type='JSONContexts',
                                            file=str(path)))
    assert str(path) in str(info.value)
    with pytest.raises(ValueError, match=str(path)):
        PromptRecipe(['cat'], contexts=dict(type='WordNetHypernyms',
                                            file=str(path)))
    names = tmp_path / 'names.json'
    names.write_text('["cat", ')
    with pytest.raises(ValueError, match=str(names)):
        PromptRecipe(str(names))


def test_from_hook_cfg_matches_the_hook():
    cfg = dict(type='PromptBankHook', classnames=CRANES, templates='vanilla',
               contexts=dict(type='WordNetHypernyms'), cache_dir='/x',
               batch_size=3, progress=False, eval_classes='dataset')
    recipe = PromptRecipe.from_hook_cfg(cfg)
    hook = PromptBankHook(**{k: v for k, v in cfg.items() if k != 'type'})
    assert recipe.prompts_and_key('t') == hook.recipe.prompts_and_key('t')
    with pytest.raises(TypeError):
        PromptRecipe.from_hook_cfg(dict(cfg, typo=1))
    json.dumps(recipe.settings())  # the key's settings stay serialisable
