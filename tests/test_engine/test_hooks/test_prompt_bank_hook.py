import os
import socket
from types import SimpleNamespace

import pytest
import torch
import torch.multiprocessing as mp
from conftest import tiny_model_cfg
from mmengine.logging import MMLogger
from mmpretrain.registry import MODELS

import mmbeamclip  # noqa: F401
from mmbeamclip.engine.hooks import PromptBankHook
from mmbeamclip.prompts import prompt_bank_path

CLASSES = ['cat', 'dog', 'crane']
TEMPLATES = ['a photo of a {}.', 'a drawing of a {}.']


def build_model(teacher_cfg):
    return MODELS.build(tiny_model_cfg(teacher_cfg))


def fake_runner(model, classes=None):
    loop = SimpleNamespace(
        dataloader=SimpleNamespace(
            batch_size=4,
            dataset=SimpleNamespace(metainfo=dict(classes=classes))))
    return SimpleNamespace(
        model=model,
        logger=MMLogger.get_current_instance(),
        train_loop=loop,
        val_loop=loop,
        test_loop=loop,
        train_dataloader=loop.dataloader)


def count_text_calls(model):
    teacher = model.target_generator
    calls = []
    encode = teacher.encode_text

    def counted(texts, *args, **kwargs):
        calls.append(len(texts))
        return encode(texts, *args, **kwargs)

    teacher.encode_text = counted
    return calls


@pytest.fixture
def hook(tmp_path):
    return PromptBankHook(
        classnames=CLASSES,
        templates=TEMPLATES,
        cache_dir=str(tmp_path / 'cache'),
        progress=False)


def test_builds_normalised_bank_and_caches(hook, tiny_teacher_cfg):
    model = build_model(tiny_teacher_cfg)
    calls = count_text_calls(model)
    runner = fake_runner(model)
    hook.before_train(runner)
    bank = model.head.prompt_bank
    assert bank.shape == (3, 32)
    torch.testing.assert_close(bank.norm(dim=-1), torch.ones(3))
    assert model.head.anchor_labels.tolist() == [0, 1, 2]
    assert sum(calls) == 6
    # idempotent: val and test find the bank in place
    hook.before_val(runner)
    hook.before_test(runner)
    assert sum(calls) == 6
    assert os.path.isfile(
        prompt_bank_path(hook.cache_dir, model.head.bank_key))

    # a new run (fresh model) hits the cache: no text encoding at all
    other = build_model(tiny_teacher_cfg)
    other_calls = count_text_calls(other)
    hook.before_train(fake_runner(other))
    assert other_calls == []
    assert torch.equal(other.head.prompt_bank, bank)


def test_corrupt_cache_is_rebuilt(hook, tiny_teacher_cfg):
    model = build_model(tiny_teacher_cfg)
    hook.before_train(fake_runner(model))
    path = prompt_bank_path(hook.cache_dir, model.head.bank_key)
    with open(path, 'wb') as f:
        f.write(b'garbage')
    fresh = build_model(tiny_teacher_cfg)
    calls = count_text_calls(fresh)
    with pytest.warns(UserWarning, match='cannot be read'):
        hook.before_train(fake_runner(fresh))
    assert sum(calls) == 6
    torch.testing.assert_close(fresh.head.prompt_bank,
                               model.head.prompt_bank)
    assert torch.load(path, weights_only=True)['key'] == fresh.head.bank_key


def test_mismatched_bank_from_checkpoint_is_rebuilt(hook, tiny_teacher_cfg,
                                                    tmp_path, caplog):
    model = build_model(tiny_teacher_cfg)
    hook.before_train(fake_runner(model))
    old_key = model.head.bank_key
    other_prompts = PromptBankHook(
        classnames=CLASSES + ['boxer'],
        templates=TEMPLATES,
        cache_dir=str(tmp_path / 'cache'),
        progress=False)
    runner = fake_runner(model)
    warnings = []
    runner.logger = SimpleNamespace(
        warning=warnings.append, info=lambda *a: None)
    other_prompts.before_train(runner)
    assert model.head.bank_key != old_key
    assert model.head.prompt_bank.shape == (4, 32)
    assert any('rebuilding' in w for w in warnings)


def test_dataset_classnames_map_wnids(tmp_path, tiny_teacher_cfg):
    hook = PromptBankHook(
        classnames='dataset', templates='vanilla',
        cache_dir=str(tmp_path), progress=False)
    model = build_model(tiny_teacher_cfg)
    runner = fake_runner(model, classes=['n01440764', 'n03888257'])
    hook.before_train(runner)
    expected = model.target_generator.encode_text(
        ['a photo of a tench.', 'a photo of a parachute.'])
    torch.testing.assert_close(model.head.prompt_bank, expected)
    with pytest.raises(ValueError, match='no .classes.'):
        hook.before_test(fake_runner(build_model(tiny_teacher_cfg)))


def test_bad_arguments():
    with pytest.raises(ValueError, match='empty'):
        PromptBankHook(classnames=[])
    with pytest.raises(ValueError, match='exactly one'):
        PromptBankHook(classnames=['a'], templates=['no placeholder'])
    with pytest.raises(ValueError, match='aggregate'):
        PromptBankHook(aggregate='sum')


def test_checkpoint_meta(hook, tiny_teacher_cfg):
    model = build_model(tiny_teacher_cfg)
    runner = fake_runner(model)
    hook.before_train(runner)
    checkpoint = dict(meta={})
    hook.before_save_checkpoint(runner, checkpoint)
    meta = checkpoint['meta']['mmbeamclip']
    assert meta['bank_key'] == model.head.bank_key
    assert meta['teacher'] == model.target_generator.teacher_id
    assert meta['num_anchors'] == 3 and meta['world_size'] == 1


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _rank_worker(rank, world_size, port, teacher_cfg, out_dir):
    import torch.distributed as dist
    dist.init_process_group(
        'gloo',
        init_method=f'tcp://127.0.0.1:{port}',
        rank=rank,
        world_size=world_size)
    model = build_model(teacher_cfg)
    calls = count_text_calls(model)
    hook = PromptBankHook(
        classnames=CLASSES,
        templates=TEMPLATES,
        cache_dir=os.path.join(out_dir, 'cache'),
        progress=False)
    hook.before_train(fake_runner(model))
    torch.save(
        dict(
            bank=model.head.prompt_bank,
            labels=model.head.anchor_labels,
            key=model.head.bank_key,
            calls=sum(calls)), os.path.join(out_dir, f'rank{rank}.pth'))
    dist.destroy_process_group()


def test_identical_on_two_ranks(tmp_path, tiny_teacher_cfg):
    mp.spawn(
        _rank_worker,
        args=(2, _free_port(), tiny_teacher_cfg, str(tmp_path)),
        nprocs=2)
    r0 = torch.load(tmp_path / 'rank0.pth')
    r1 = torch.load(tmp_path / 'rank1.pth')
    assert r0['bank'].shape == (3, 32)
    assert torch.equal(r0['bank'], r1['bank'])
    assert torch.equal(r0['labels'], r1['labels'])
    assert r0['key'] == r1['key'] != ''
    # only rank 0 ran the text tower
    assert r0['calls'] == 6 and r1['calls'] == 0
