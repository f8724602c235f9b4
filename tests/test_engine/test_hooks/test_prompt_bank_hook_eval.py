"""PromptBankHook before val/test: the dataset's classes against the bank."""
import numpy as np
import pytest
import torch
from test_prompt_bank_hook import build_model, count_text_calls, fake_runner

import mmbeamclip  # noqa: F401
from mmbeamclip.engine.hooks import PromptBankHook
from mmbeamclip.prompts import imagenet_wnids

FOLDERS = ['n01440764', 'n02102040']  # tench, English springer


def hook(tmp_path, **kwargs):
    kwargs.setdefault('templates', 'vanilla')
    return PromptBankHook(
        cache_dir=str(tmp_path / 'cache'), progress=False, **kwargs)


def zero_shot_accuracy(model, embeds, labels):
    scores = model.head.predict(embeds)
    return (scores.argmax(-1) == labels).float().mean().item()


def test_imagenet_bank_scores_a_wnid_folder_by_its_classes(
        tmp_path, tiny_teacher_cfg):
    model = build_model(tiny_teacher_cfg)
    runner = fake_runner(model, classes=FOLDERS)
    hook(tmp_path, classnames='imagenet').before_val(runner)
    bank = model.head.prompt_bank
    assert bank.shape[0] == 1000
    # images that look exactly like each class's anchor (labels in folder
    # order: 0 = tench, 1 = springer)
    rows = [imagenet_wnids().index(w) for w in FOLDERS]
    embeds = bank[rows].repeat(3, 1) * 2
    labels = torch.tensor([0, 1] * 3)
    assert zero_shot_accuracy(model, embeds, labels) == 1.0
    scores = model.head.predict(embeds)
    assert scores.shape == (6, 2)
    # the same embeddings against a bank-order reference (numpy)
    sims = embeds.numpy() @ bank.numpy()[rows].T
    np.testing.assert_array_equal(scores.argmax(-1).numpy(),
                                  sims.argmax(-1))


def test_without_the_mapping_the_score_was_zero(tmp_path, tiny_teacher_cfg):
    # what main did: ImageNet indices 0 and 217 against labels 0 and 1
    model = build_model(tiny_teacher_cfg)
    hook(tmp_path, classnames='imagenet').ensure_bank(
        fake_runner(model, classes=FOLDERS), 'val')
    rows = [imagenet_wnids().index(w) for w in FOLDERS]
    embeds = model.head.prompt_bank[rows] * 2
    assert model.head.predict(embeds).argmax(-1).tolist() == rows != [0, 1]


def test_unmappable_class_raises_before_training(tmp_path, tiny_teacher_cfg):
    model = build_model(tiny_teacher_cfg)
    runner = fake_runner(model, classes=['n01440764', 'zebra crossing'])
    with pytest.raises(ValueError, match='zebra crossing'):
        hook(tmp_path, classnames='imagenet').before_train(runner)


def test_dataset_without_classes_is_warned(tmp_path, tiny_teacher_cfg):
    model = build_model(tiny_teacher_cfg)
    with pytest.warns(UserWarning, match='no "classes"'):
        hook(tmp_path, classnames=['cat', 'dog']).before_test(
            fake_runner(model, classes=None))
    assert model.head.eval_bank is None


def test_dataset_order_differs_from_the_vocabulary(tmp_path,
                                                   tiny_teacher_cfg):
    model = build_model(tiny_teacher_cfg)
    runner = fake_runner(model, classes=['dog', 'cat'])
    hook(tmp_path, classnames=['cat', 'bird', 'dog']).before_test(runner)
    bank = model.head.prompt_bank
    assert model.head.predict(bank[[2, 0]] * 2).argmax(-1).tolist() == [0, 1]


def test_own_eval_bank(tmp_path, tiny_teacher_cfg):
    model = build_model(tiny_teacher_cfg)
    calls = count_text_calls(model)
    runner = fake_runner(model, classes=['zebra crossing', 'cat'])
    h = hook(tmp_path, classnames=['cat', 'dog', 'bird'],
             eval_classes='dataset')
    h.before_val(runner)
    assert sum(calls) == 3 + 2
    expected = model.target_generator.encode_text(
        ['a photo of a zebra crossing.', 'a photo of a cat.'])
    torch.testing.assert_close(model.head.eval_bank, expected)
    assert model.head.predict(expected * 2).argmax(-1).tolist() == [0, 1]
    h.before_val(runner)  # idempotent
    assert sum(calls) == 5 + 2  # + the reference encoding above
    with pytest.raises(ValueError, match='eval_classes'):
        PromptBankHook(eval_classes='imagenet')


def test_vocabulary_is_resolved_once_per_stage(tmp_path, tiny_teacher_cfg,
                                               monkeypatch):
    """One lookup of the dataset's class names per stage, shared by the
    bank and the zero-shot mapping (names are not looked up again)."""
    from mmbeamclip.prompts import prompt_recipe
    model = build_model(tiny_teacher_cfg)
    runner = fake_runner(model, classes=FOLDERS)
    bank_hook = hook(tmp_path, classnames='dataset')
    lookups = []
    resolve_classnames = prompt_recipe.resolve_classnames
    monkeypatch.setattr(prompt_recipe, 'resolve_classnames',
                        lambda ids: lookups.append(ids) or
                        resolve_classnames(ids))
    bank_hook.before_val(runner)
    assert lookups == [FOLDERS] and model.head.has_bank
    bank_hook.before_test(runner)
    assert lookups == [FOLDERS] * 2
