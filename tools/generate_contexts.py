"""Make a CPA contexts file from WordNet 3.0 for a list of classes.

    python tools/generate_contexts.py imagenet \\
        --out mmbeamclip/data/imagenet_contexts.json
    python tools/generate_contexts.py n02012849 n03126707 --out my.json
    python tools/generate_contexts.py classes.txt --out my.json

CLASSES are WordNet noun ids (``n02012849``), class names, the preset
``imagenet`` (its 1000 wnids in label order) or one .txt (one per line) /
.json (a list) file of them. A name is mapped to its *first* (most frequent)
noun synset, which may not be the sense the dataset means ("crane" -> the
bird-watching sense is not guaranteed): use WordNet ids where names are
ambiguous, and check the ``synset`` column this tool prints.

The output feeds ``PromptBankHook(contexts=dict(type='WordNetHypernyms',
file=OUT))`` (or WordNetDefinitions / WordNetSynonyms). WordNet comes from
the Debian packages ``wordnet-base`` and ``wordnet-sense-index`` read by
NLTK; the tool says what to install when it is missing.
"""
import argparse
import os.path as osp
import sys

import library_warnings  # noqa: F401  (before mmcv is imported)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument(
        'classes', nargs='+', help='wnids, names, "imagenet" or one file')
    parser.add_argument('--out', required=True, help='contexts JSON to write')
    parser.add_argument(
        '--quiet', action='store_true', help='do not print the table')
    args = parser.parse_args(argv)
    from mmbeamclip.utils import check_not_input
    check_not_input(
        args.out, {'class list': c for c in args.classes[:1]}, parser=parser)
    return args


def resolve(classes):
    """Class identifiers and the names to store (None: the first lemma)."""
    from mmbeamclip.prompts import (imagenet_classnames, imagenet_wnids,
                                    resolve_class_ids)
    if classes == ['imagenet']:
        # CLIP's curated names, so the file reads like the class list used.
        return imagenet_wnids(), imagenet_classnames()
    if len(classes) == 1 and osp.isfile(classes[0]):
        return resolve_class_ids(classes[0]), None
    return list(classes), None


def main(argv=None):
    args = parse_args(argv)
    from mmbeamclip.prompts.wordnet import (WordNetUnavailable,
                                            generate_records, load_wordnet,
                                            write_contexts_file)
    try:
        wn = load_wordnet()
    except WordNetUnavailable as e:
        print(f'generate_contexts.py: {e}', file=sys.stderr)
        return 2
    ids, names = resolve(args.classes)
    records = generate_records(ids, names, wn=wn)
    missing = [k for k, r in records.items() if r['synset'] is None]
    if not args.quiet:
        for key, r in records.items():
            hyper = ' > '.join(r.get('hypernyms', [])[:3])
            print(f'{key}\t{r["synset"]}\t{r["name"]}\t{hyper}')
    write_contexts_file(args.out, records, wn=wn)
    print(f'Wrote {len(records)} classes to {args.out} (WordNet '
          f'{wn.get_version()}).')
    if missing:
        print(
            f'WARNING: {len(missing)} classes are not in WordNet and get no '
            f'context (CPA uses their plain name): {missing[:20]}',
            file=sys.stderr)
    return 0


if __name__ == '__main__':
    from mmbeamclip.utils import WriteError
    try:
        sys.exit(main())
    except WriteError as e:  # a full disk: one line naming the file
        sys.exit(f'generate_contexts.py: error: {e}')
