"""Offline WordNet: lexnames, live lookup, and the shipped file's origin."""
import pytest

from mmbeamclip.prompts import imagenet_wnids
from mmbeamclip.prompts import wordnet as wnmod
from mmbeamclip.prompts.wordnet import (IMAGENET_CONTEXTS, WORDNET_LEXNAMES,
                                        generate_records, lexnames_text,
                                        read_contexts_file)

needs_wordnet = pytest.mark.skipif(
    not wnmod.wordnet_records_available(),
    reason='WordNet 3.0 not installed (apt-get install wordnet-base '
    'wordnet-sense-index; pip install nltk); CI installs it')


def test_lexnames_table():
    lines = lexnames_text().splitlines()
    assert len(lines) == len(WORDNET_LEXNAMES) == 45
    assert lines[0] == '00\tadj.all\t3'
    assert lines[5] == '05\tnoun.animal\t1'
    assert lines[-1] == '44\tadj.ppl\t3'


def test_missing_wordnet_says_what_to_install(tmp_path, monkeypatch):
    try:
        import nltk
        monkeypatch.setattr(nltk.data, 'path', [str(tmp_path / 'none')])
    except ImportError:  # no nltk at all: must fail the same way
        pass
    monkeypatch.setenv('NLTK_DATA', str(tmp_path / 'none'))
    monkeypatch.setenv('WNSEARCHDIR', str(tmp_path))
    wnmod.load_wordnet.cache_clear()
    try:
        with pytest.raises(wnmod.WordNetUnavailable,
                           match='wordnet-base wordnet-sense-index'):
            wnmod.load_wordnet()
    finally:
        wnmod.load_wordnet.cache_clear()


@needs_wordnet
def test_shipped_file_matches_wordnet():
    """The shipped records are what the generator makes (spot check)."""
    shipped = read_contexts_file(IMAGENET_CONTEXTS)
    wnids = imagenet_wnids()[::97]
    fresh = generate_records(wnids, [shipped[w]['name'] for w in wnids])
    assert fresh == {w: shipped[w] for w in wnids}


@needs_wordnet
def test_names_map_to_first_noun_synset():
    records = generate_records(['golden retriever', 'qwertyuiop'])
    assert records['golden retriever']['synset'] == 'golden_retriever.n.01'
    assert records['golden retriever']['hypernyms'][0] == 'retriever'
    assert records['qwertyuiop'] == dict(name='qwertyuiop', synset=None)


@needs_wordnet
def test_sources_look_up_classes_missing_from_the_file():
    from mmbeamclip.prompts import WordNetHypernyms
    src = WordNetHypernyms(max_contexts=1)
    assert src.phrases('golden retriever', 'golden retriever') == [
        'golden retriever, a type of retriever'
    ]
    assert src.phrases('qwertyuiop', 'qwertyuiop') == []
