"""Build the generic anchor vocabulary from WordNet 3.0.

    python tools/build_vocabulary.py \\
        --out mmbeamclip/data/wordnet_generic.json

The vocabulary is for CSM on images of unknown classes: anchors that cover
what photos show, without a class list. It holds

* every noun synset whose lexicographer file is about things one can see
  (``noun.artifact``, ``noun.animal``, ``noun.plant``, ``noun.food``,
  ``noun.object``), that is a common noun (not an instance such as a
  city, not capitalised) and that people use: at least ``--min-count``
  sense-tagged occurrences (WordNet's SemCor counts) over its lemmas;
* the 1000 ImageNet-1k classes, under CLIP's curated names, so an ImageNet
  subset can be scored against it by WordNet id.

Each synset gets one display name, unique across the vocabulary
(case-insensitive): its first lemma, else its next free lemma, else it is
left out (the more frequent sense keeps the name). The output is a contexts
file (``tools/generate_contexts.py`` format), keyed by WordNet id in id
order, so CPA's WordNet sources read its hypernyms and glosses without
WordNet. Use it with ``PromptBankHook(classnames='wordnet_generic')``.
"""
import argparse
import sys

import library_warnings  # noqa: F401  (before mmcv is imported)

from mmbeamclip.utils.arg_types import positive_int

# The WordNet lexicographer files (of mmbeamclip.prompts.wordnet's
# WORDNET_LEXNAMES) whose nouns name things a photo can show.
VOCABULARY_LEXNAMES = ('noun.artifact', 'noun.animal', 'noun.plant',
                       'noun.food', 'noun.object')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('--out', required=True, help='vocabulary to write')
    parser.add_argument(
        '--min-count',
        type=positive_int,
        default=1,
        help='least sense-tagged occurrences of a synset (1)')
    return parser.parse_args(argv)


def frequency(synset) -> int:
    return sum(lemma.count() for lemma in synset.lemmas())


def select_synsets(wn, min_count: int = 1):
    """Concrete, used, common-noun synsets of :data:`VOCABULARY_LEXNAMES`."""
    out = []
    for synset in wn.all_synsets('n'):
        if synset.lexname() not in VOCABULARY_LEXNAMES or \
                synset.instance_hypernyms():
            continue
        if not synset.lemma_names()[0][:1].islower():
            continue
        if frequency(synset) >= min_count:
            out.append(synset)
    return out


def build_vocabulary(wn, min_count: int = 1) -> dict:
    """Context records of the vocabulary, keyed by WordNet id, id order."""
    from mmbeamclip.prompts import imagenet_classnames, imagenet_wnids
    from mmbeamclip.prompts.wordnet import find_synset, synset_record
    records, taken = {}, set()
    for wnid, name in zip(imagenet_wnids(), imagenet_classnames()):
        records[wnid] = synset_record(find_synset(wn, wnid), name)
        taken.add(name.lower())
    others = sorted(
        select_synsets(wn, min_count),
        key=lambda s: (-frequency(s), s.name()))
    for synset in others:
        wnid = f'n{synset.offset():08d}'
        if wnid in records:
            continue
        free = [
            n.replace('_', ' ') for n in synset.lemma_names()
            if n.replace('_', ' ').lower() not in taken
        ]
        if not free:
            continue
        records[wnid] = synset_record(synset, free[0])
        taken.add(free[0].lower())
    return dict(sorted(records.items()))


def main(argv=None):
    args = parse_args(argv)
    from mmbeamclip.prompts.wordnet import (WordNetUnavailable, load_wordnet,
                                            write_contexts_file)
    try:
        wn = load_wordnet()
    except WordNetUnavailable as e:
        print(f'build_vocabulary.py: {e}', file=sys.stderr)
        return 2
    records = build_vocabulary(wn, args.min_count)
    write_contexts_file(
        args.out, records, wn=wn, generator='tools/build_vocabulary.py')
    print(f'Wrote {len(records)} classes to {args.out} (WordNet '
          f'{wn.get_version()}).')
    return 0


if __name__ == '__main__':
    from mmbeamclip.utils import WriteError
    try:
        sys.exit(main())
    except WriteError as e:  # a full disk: one line naming the file
        sys.exit(f'build_vocabulary.py: error: {e}')
