"""templates x contexts -> prompts: counts, order, bounds."""
import pytest

from mmbeamclip.prompts import compose_prompts, format_prompts

TEMPLATES = ['a photo of a {}.', 'itap of the {}.', '{} in the wild']
PHRASES = [['crane, a type of bird', 'crane, a type of wading bird'],
           ['crane, a type of device'], ['maillot', 'tank suit', 'swimsuit']]


def test_every_template_context_combination():
    prompts = compose_prompts(TEMPLATES, PHRASES)
    assert [len(p) for p in prompts] == [6, 3, 9]
    for phrases, got in zip(PHRASES, prompts):
        expected = {t.replace('{}', p) for t in TEMPLATES for p in phrases}
        assert set(got) == expected and len(got) == len(expected)
    # template-major: every context with the first template comes first
    assert prompts[2][:3] == [
        'a photo of a maillot.', 'a photo of a tank suit.',
        'a photo of a swimsuit.'
    ]


def test_deterministic_and_bounded():
    assert compose_prompts(TEMPLATES, PHRASES) == compose_prompts(
        list(TEMPLATES), [list(p) for p in PHRASES])
    full = compose_prompts(TEMPLATES, PHRASES)
    for bound in (1, 2, 4, 100):
        got = compose_prompts(TEMPLATES, PHRASES, max_prompts=bound)
        assert [len(p) for p in got] == [min(bound, len(f)) for f in full]
        assert all(g == f[:bound] for g, f in zip(got, full))
    with pytest.raises(ValueError, match='max_prompts'):
        compose_prompts(TEMPLATES, PHRASES, max_prompts=0)


def test_plain_names_equal_format_prompts():
    names = ['cat', 'dog']
    assert compose_prompts(TEMPLATES, [[n] for n in names]) == format_prompts(
        names, TEMPLATES)
