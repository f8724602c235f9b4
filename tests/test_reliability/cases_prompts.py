"""Bad-input rows of prompts, class names and the prompt bank."""
import os

import torch
from case import Case
from mmpretrain.registry import MODELS

from mmbeamclip.engine.hooks import PromptBankHook
from mmbeamclip.models.heads import CSMHead
from mmbeamclip.prompts import (PromptRecipe, build_prompt_bank,
                                imagenet_wnids, load_or_build_prompt_bank,
                                map_classes, resolve_classnames,
                                warn_identical_anchors)


def _zero_shot_wrong_classes(ctx):
    # 2 ImageNet classes in folder order against the 1000-class bank: the
    # unmappable third class must stop evaluation, not score 0 silently
    map_classes(['n01440764', 'n02102040', 'my_class'], imagenet_wnids(),
                resolve_classnames('imagenet'))


def _zero_shot_mapped(ctx):
    head = CSMHead()
    rows = [imagenet_wnids().index(w) for w in ('n01440764', 'n02102040')]
    bank = torch.nn.functional.normalize(torch.randn(1000, 8), dim=-1)
    head.set_prompt_bank(bank, torch.arange(1000), 'ab' * 32)
    head.set_eval_classes(
        map_classes(['n01440764', 'n02102040'], imagenet_wnids(),
                    resolve_classnames('imagenet')))
    pred = head.predict(bank[rows] * 3).argmax(-1).tolist()
    if pred != [0, 1]:
        raise AssertionError(f'mapped zero-shot predicted {pred}')
    raise ValueError('mapped: labels 0 and 1 predicted correctly')


def _identical_anchors(ctx, classes):
    teacher = MODELS.build(ctx.tiny_teacher_cfg)
    recipe = PromptRecipe(classes, templates='vanilla')
    bank, labels = build_prompt_bank(
        teacher.encode_text, recipe.class_prompts(), progress=False)
    warn_identical_anchors(bank, labels, classes, classes)


def _unwritable_cache(ctx):
    blocker = ctx.tmp_path / 'read-only'
    blocker.write_text('a file where the cache folder should be')
    teacher = MODELS.build(ctx.tiny_teacher_cfg)
    load_or_build_prompt_bank(
        teacher, [['a photo of a cat.']], 'cd' * 32,
        cache_dir=str(blocker / 'banks'), progress=False)


def _bad_json(ctx):
    path = ctx.tmp_path / 'contexts.json'
    path.write_text('{"cat": ["a pet"],}')
    PromptBankHook(
        classnames=['cat'],
        contexts=dict(type='JSONContexts', file=str(path)))


CASES = [
    Case('zero-shot-unmappable-class', 'silent', _zero_shot_wrong_classes,
         ValueError, ('my_class', 'no match'),
         'a dataset class the anchor vocabulary lacks stops zero-shot '
         'evaluation with the class named (main scored it silently)'),
    Case('zero-shot-wnid-subset-mapped', 'silent', _zero_shot_mapped,
         ValueError, ('labels 0 and 1 predicted correctly', ),
         "an ImageNet-wnid folder with classnames='imagenet' is scored "
         'through its classes (main: top-1 0.0)'),
    Case('duplicate-class-names', 'silent',
         lambda ctx: _identical_anchors(ctx, ['cat', 'dog', 'cat']),
         UserWarning, ('identical anchors', "'cat'"),
         'two classes with the same name warn, both named'),
    Case('names-truncated-alike', 'silent',
         lambda ctx: _identical_anchors(
             ctx, ['x ' * 20 + 'alpha', 'x ' * 20 + 'beta']),
         UserWarning, ('identical anchors', 'alpha', 'beta', 'truncated'),
         "names that differ only past the text tower's context length "
         'warn, both named'),
    Case('numeric-dataset-classes', 'silent',
         lambda ctx: PromptRecipe('dataset').resolve(['0', '1']),
         UserWarning, ('carry no meaning', "'0'"),
         "classnames='dataset' on folders named 0, 1, ... warns that the "
         'prompts carry no meaning'),
    Case('template-named-field', 'traceback',
         lambda ctx: PromptBankHook(classnames=['cat'],
                                    templates=['a {kind} of a {}.']),
         ValueError, ('{kind}', 'template'),
         'a template with {kind} fails when the hook is built, naming it'),
    Case('template-stray-brace', 'traceback',
         lambda ctx: PromptBankHook(classnames=['cat'],
                                    templates=['a photo {of a {}.']),
         ValueError, ('a photo {of a {}.', 'brace'),
         'a template with a stray { fails when the hook is built'),
    Case('contexts-json-malformed', 'traceback', _bad_json, ValueError,
         ('contexts.json', 'not valid JSON'),
         'a malformed contexts JSON file is named in the error'),
    Case('bank-cache-unwritable', 'traceback', _unwritable_cache,
         UserWarning, ('could not write', 'read-only', 'training goes on'),
         'an unwritable bank cache folder warns; the bank is built in '
         'memory and training goes on'),
    Case('hook-batch-size-zero', 'traceback',
         lambda ctx: PromptBankHook(classnames=['cat'], batch_size=0),
         ValueError, ('batch_size', '0'),
         'PromptBankHook(batch_size=0) is refused when built'),
    Case('class-folder-not-utf8', 'traceback',
         lambda ctx: PromptRecipe('dataset').resolve(
             ['cat', os.fsdecode(b'caf\xe9')]),
         ValueError, ('not valid UTF-8', 'caf\\udce9'),
         'a class folder name that is not UTF-8 is named (escaped)'),
]
