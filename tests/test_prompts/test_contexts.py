"""CPA context sources, the shipped ImageNet contexts and bad input."""
import json
from collections import defaultdict

import pytest

from mmbeamclip.prompts import (JSONContexts, WordNetDefinitions,
                                WordNetHypernyms, WordNetSynonyms,
                                build_context_sources, class_phrases,
                                imagenet_classnames, imagenet_wnids)
from mmbeamclip.prompts.wordnet import IMAGENET_CONTEXTS, read_contexts_file
from mmbeamclip.registry import CONTEXT_SOURCES

CRANE_BIRD, CRANE_MACHINE = 'n02012849', 'n03126707'


@pytest.fixture(scope='module')
def shipped():
    return read_contexts_file(IMAGENET_CONTEXTS)


def duplicate_name_groups(shipped):
    """wnids sharing a name, under CLIP's names or WordNet's first lemma."""
    groups = []
    for names in (imagenet_classnames(),
                  [r['lemmas'][0] for r in shipped.values()]):
        by_name = defaultdict(list)
        for wnid, name in zip(imagenet_wnids(), names):
            by_name[name.lower()].append(wnid)
        groups += [g for g in by_name.values() if len(g) > 1]
    return groups


def test_shipped_contexts_cover_imagenet_in_label_order(shipped):
    assert list(shipped) == imagenet_wnids()
    for wnid, record in shipped.items():
        # the synset really is the one of the wnid, and has usable contexts
        assert record['wnid'] == wnid
        assert record['synset'].split('.')[1] == 'n'
        assert record['definition'].strip()
        assert record['hypernyms'] and record['lemmas']
    assert [r['name'] for r in shipped.values()] == imagenet_classnames()


def test_duplicated_names_get_different_contexts(shipped):
    groups = duplicate_name_groups(shipped)
    flat = {w for g in groups for w in g}
    # the well-known cases are among them
    assert {CRANE_BIRD, CRANE_MACHINE, 'n03710637', 'n03710721'} <= flat
    hyper, gloss = WordNetHypernyms(), WordNetDefinitions()
    names = dict(zip(imagenet_wnids(), imagenet_classnames()))
    for group in groups:
        for source in (hyper, gloss):
            phrases = [tuple(source.phrases(w, names[w])) for w in group]
            assert len(set(phrases)) == len(group), (type(source), group)


def test_wordnet_sources_read_the_shipped_records():
    assert WordNetHypernyms().phrases(CRANE_BIRD, 'crane') == [
        'crane, a type of wading bird', 'crane, a type of aquatic bird'
    ]
    assert WordNetHypernyms(max_contexts=1).phrases(
        CRANE_MACHINE, 'crane') == ['crane, a type of lifting device']
    (gloss, ) = WordNetDefinitions().phrases(CRANE_MACHINE, 'crane')
    assert gloss.startswith('crane, lifts and moves heavy objects')
    assert ';' not in gloss  # first clause only
    # maillot (n03710721) is also a tank suit; the class name is skipped
    assert WordNetSynonyms().phrases('n03710721', 'maillot') == ['tank suit']
    assert WordNetSynonyms().phrases(CRANE_BIRD, 'crane') == []


def test_registry_and_config_building(tmp_path):
    assert {'WordNetHypernyms', 'WordNetDefinitions', 'WordNetSynonyms',
            'JSONContexts'} <= set(CONTEXT_SOURCES.module_dict)
    sources = build_context_sources([
        dict(
            type='WordNetHypernyms', max_contexts=3,
            phrase='{context} {name}'),
        dict(type='WordNetSynonyms')
    ])
    assert [type(s) for s in sources] == [WordNetHypernyms, WordNetSynonyms]
    assert sources[0].max_contexts == 3
    assert sources[0].phrases(CRANE_BIRD, 'crane')[0] == 'wading bird crane'
    with pytest.raises(KeyError, match='Unknown context source'):
        build_context_sources(dict(type='Nope'))
    with pytest.raises(ValueError, match='empty list'):
        build_context_sources([])
    with pytest.raises(ValueError, match='must contain'):
        WordNetHypernyms(phrase='{name}')
    with pytest.raises(ValueError, match='only use the fields'):
        WordNetHypernyms(phrase='{name} {context} {other}')
    with pytest.raises(ValueError, match='max_contexts'):
        WordNetDefinitions(max_contexts=0)


def write_json(path, data):
    path.write_text(json.dumps(data))
    return str(path)


def test_json_contexts_by_id_then_name(tmp_path):
    src = JSONContexts(
        write_json(tmp_path / 'c.json', {
            'n01': ['a bird', 'with long legs'],
            'crane': 'a machine',
        }))
    ids, names = ['n01', 'n02'], ['crane', 'crane']
    assert class_phrases([src], ids, names) == [
        ['crane, a bird', 'crane, with long legs'], ['crane, a machine']
    ]


def test_json_unknown_class_is_an_error(tmp_path):
    path = write_json(tmp_path / 'c.json', {'cat': ['a pet'], 'dgo': 'x'})
    with pytest.raises(ValueError, match="match no class.*'dgo'"):
        class_phrases([JSONContexts(path)], ['cat', 'dog'], ['cat', 'dog'])
    with pytest.warns(UserWarning, match=r"1 of 2 classes.*\['dog'\]"):
        phrases = class_phrases([JSONContexts(path, allow_unknown=True)],
                                ['cat', 'dog'], ['cat', 'dog'])
    assert phrases == [['cat, a pet'], ['dog']]


@pytest.mark.parametrize('bad', [{'cat': ''}, {'cat': ['ok', ' ']},
                                 {'cat': 3}, ['cat']])
def test_json_bad_values(tmp_path, bad):
    with pytest.raises(ValueError):
        JSONContexts(write_json(tmp_path / 'c.json', bad))


def test_class_without_context_falls_back_to_plain_name():
    # the bird crane has no synonym: it keeps its plain name, with a warning
    with pytest.warns(UserWarning, match='no context'):
        phrases = class_phrases([WordNetSynonyms()],
                                [CRANE_BIRD, 'n03710721'],
                                ['crane', 'maillot'])
    assert phrases == [['crane'], ['tank suit']]
    # sources add up in order; include_plain puts the name first
    phrases = class_phrases(
        [WordNetSynonyms(), WordNetHypernyms(max_contexts=1)], ['n03710721'],
        ['maillot'],
        include_plain=True)
    assert phrases == [['maillot', 'tank suit', 'maillot, a type of swimsuit']]
