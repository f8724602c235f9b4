"""tools/generate_contexts.py on a handful of WordNet ids and names."""
import json

import pytest
from tool_loader import load_tool

from mmbeamclip.prompts import WordNetHypernyms, WordNetSynonyms
from mmbeamclip.prompts import wordnet as wnmod

needs_wordnet = pytest.mark.skipif(
    not wnmod.wordnet_records_available(),
    reason='WordNet 3.0 not installed (apt-get install wordnet-base '
    'wordnet-sense-index; pip install nltk); CI installs it')


@needs_wordnet
def test_generates_a_file_the_sources_read(tmp_path, capsys):
    out = str(tmp_path / 'ctx.json')
    ids = ['n02012849', 'n03126707', 'n03710721', 'n04008634', 'tabby',
           'notawordatall']
    assert load_tool('generate_contexts').main(ids + ['--out', out]) == 0
    captured = capsys.readouterr()
    assert "['notawordatall']" in captured.err
    with open(out) as f:
        classes = json.load(f)['classes']
    assert list(classes) == ids  # input order kept
    assert classes['n02012849']['synset'] == 'crane.n.05'
    assert classes['n03126707']['synset'] == 'crane.n.04'
    assert classes['tabby']['synset'] == 'tabby.n.01'  # first noun sense
    assert classes['notawordatall']['synset'] is None
    # the WordNet sources use the file as they use the shipped one
    hyper = WordNetHypernyms(file=out, max_contexts=1)
    assert hyper.phrases('n02012849', 'crane') == [
        'crane, a type of wading bird'
    ]
    assert hyper.phrases('n03126707', 'crane') == [
        'crane, a type of lifting device'
    ]
    assert hyper.phrases('notawordatall', 'x') == []
    assert WordNetSynonyms(file=out).phrases('n03710721',
                                             'maillot') == ['tank suit']


@needs_wordnet
def test_class_list_from_a_file(tmp_path):
    txt = tmp_path / 'classes.txt'
    txt.write_text('n01440764\ngoldfish\n')
    out = str(tmp_path / 'ctx.json')
    assert load_tool('generate_contexts').main(
        [str(txt), '--out', out, '--quiet']) == 0
    with open(out) as f:
        classes = json.load(f)['classes']
    assert [r['synset'] for r in classes.values()] == [
        'tench.n.01', 'goldfish.n.01'
    ]


def test_missing_wordnet_names_the_packages(tmp_path, monkeypatch, capsys):
    def unavailable():
        raise wnmod.WordNetUnavailable(wnmod.WORDNET_HELP)

    monkeypatch.setattr(wnmod, 'load_wordnet', unavailable)
    code = load_tool('generate_contexts').main(
        ['n02012849', '--out', str(tmp_path / 'x.json')])
    err = capsys.readouterr().err
    assert code == 2
    assert 'apt-get install wordnet-base wordnet-sense-index' in err
    assert 'nltk' in err and not (tmp_path / 'x.json').exists()
