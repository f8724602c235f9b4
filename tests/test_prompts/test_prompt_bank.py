import os

import pytest
import torch
import torch.nn.functional as F

from mmbeamclip.prompts import (build_prompt_bank, format_prompts,
                                load_prompt_bank, prompt_bank_key,
                                prompt_bank_path, save_prompt_bank)


class CountingEncoder:
    """A deterministic fake text tower that records its batches."""

    def __init__(self, dim=8):
        self.dim = dim
        self.batches = []

    def __call__(self, texts):
        self.batches.append(list(texts))
        out = []
        for t in texts:
            g = torch.Generator().manual_seed(sum(map(ord, t)) * 7 + len(t))
            out.append(torch.randn(self.dim, generator=g) * 3)
        return torch.stack(out)


def test_format_prompts():
    assert format_prompts(['cat', 'dog'], ['a {}.', 'the {}']) == [
        ['a cat.', 'the cat'], ['a dog.', 'the dog']
    ]


def test_mean_aggregate_is_the_clip_ensemble():
    enc = CountingEncoder()
    prompts = format_prompts(['cat', 'dog', 'crane'],
                             ['a {}.', 'b {}', 'c {}'])
    bank, labels = build_prompt_bank(enc, prompts, batch_size=4,
                                     progress=False)
    assert bank.shape == (3, 8) and labels.tolist() == [0, 1, 2]
    assert [len(b) for b in enc.batches] == [4, 4, 1]
    expected = F.normalize(
        F.normalize(enc(sum(prompts, [])), dim=-1).view(3, 3, 8).mean(1),
        dim=-1)
    torch.testing.assert_close(bank, expected)


def test_none_aggregate_keeps_every_prompt():
    prompts = [['a cat'], ['a dog', 'the dog', 'dog!']]
    bank, labels = build_prompt_bank(CountingEncoder(), prompts,
                                     aggregate='none', progress=False)
    assert bank.shape == (4, 8) and labels.tolist() == [0, 1, 1, 1]
    torch.testing.assert_close(bank.norm(dim=-1), torch.ones(4))


@pytest.mark.parametrize('prompts,match', [([], 'empty class list'),
                                           ([['a'], []], 'no prompts')])
def test_bad_inputs(prompts, match):
    with pytest.raises(ValueError, match=match):
        build_prompt_bank(CountingEncoder(), prompts, progress=False)
    with pytest.raises(ValueError, match='aggregate'):
        build_prompt_bank(CountingEncoder(), [['a']], aggregate='max')


def test_key_changes_with_every_input():
    base = dict(teacher_id='t', class_prompts=[['a cat']], aggregate='mean')
    key = prompt_bank_key(**base)
    assert key == prompt_bank_key(**base) and len(key) == 64
    for change in (dict(teacher_id='u'), dict(class_prompts=[['a dog']]),
                   dict(class_prompts=[['a cat'], ['a dog']]),
                   dict(aggregate='none')):
        assert prompt_bank_key(**dict(base, **change)) != key
    assert prompt_bank_key(**base, context='hypernym') != key


def test_cache_round_trip_and_corruption(tmp_path):
    bank = F.normalize(torch.randn(5, 8), dim=-1)
    labels = torch.arange(5)
    path = prompt_bank_path(str(tmp_path), 'k' * 64)
    assert load_prompt_bank(path, 'k' * 64) is None  # miss, quietly
    save_prompt_bank(path, bank, labels, 'k' * 64, meta=dict(a=1))
    assert os.listdir(tmp_path) == [os.path.basename(path)]  # no temp left
    got_bank, got_labels = load_prompt_bank(path, 'k' * 64)
    assert torch.equal(got_bank, bank) and torch.equal(got_labels, labels)
    # a file that answers for another key is not trusted
    with pytest.warns(UserWarning, match='other prompts'):
        assert load_prompt_bank(path, 'j' * 64) is None
    # truncated file
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.warns(UserWarning, match='cannot be read'):
        assert load_prompt_bank(path, 'k' * 64) is None
    # intact file, broken content
    save_prompt_bank(path, bank * 3, labels, 'k' * 64)
    with pytest.warns(UserWarning, match='unit vectors'):
        assert load_prompt_bank(path, 'k' * 64) is None
