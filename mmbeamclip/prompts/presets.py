"""Named class-name and template lists, and how specs resolve to lists.

Templates are format strings with one ``{}`` (not lambdas, as in open_clip
and mmpretrain), so configs that name them stay serialisable.
"""
import os.path as osp
import string
import warnings
from functools import lru_cache
from typing import Dict, List, Sequence, Union

from mmbeamclip.prompts.wordnet import (GENERIC_VOCABULARY, IMAGENET_CONTEXTS,
                                        WNID, read_contexts_file)
from mmbeamclip.utils.fileio import read_json


def _open_clip_templates(name: str) -> List[str]:
    from open_clip import zero_shot_metadata

    # open_clip stores lambdas; calling one with '{}' gives its format string.
    return [t('{}') for t in getattr(zero_shot_metadata, name)]


def imagenet_classnames() -> List[str]:
    """The 1000 ImageNet-1k class names (CLIP's curated list), label order."""
    from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES
    return list(IMAGENET_CLASSNAMES)


def imagenet_wnids() -> List[str]:
    """The 1000 ImageNet-1k WordNet ids in label order (shipped with timm)."""
    from timm.data import ImageNetInfo
    return list(ImageNetInfo('imagenet-1k').label_names())


@lru_cache(maxsize=None)
def _shipped_records(path: str) -> Dict[str, dict]:
    return read_contexts_file(path)


def imagenet_wordnet_classnames() -> List[str]:
    """The 1000 ImageNet-1k classes as WordNet spells them, label order.

    The first lemma of each synset, so the names are as ambiguous as
    WordNet's: two "crane"s, two "maillot"s, "Cardigan" (the corgi) next to
    "cardigan" (the sweater). CLIP's curated list (``'imagenet'``) already
    disambiguates them; this one leaves CPA something to act on.
    """
    records = _shipped_records(IMAGENET_CONTEXTS)
    return [records[w]['lemmas'][0] for w in imagenet_wnids()]


def generic_vocabulary_wnids() -> List[str]:
    """The WordNet ids of the generic anchor vocabulary shipped with
    mmbeamclip (concrete noun synsets, see ``tools/build_vocabulary.py``)."""
    return list(_shipped_records(GENERIC_VOCABULARY))


def generic_vocabulary_names() -> List[str]:
    """The display names of the generic vocabulary, in its order."""
    return [r['name'] for r in _shipped_records(GENERIC_VOCABULARY).values()]


@lru_cache(maxsize=None)
def wnid_names() -> Dict[str, str]:
    """Display name of every WordNet id mmbeamclip ships a name for.

    The generic vocabulary's names, with CLIP's curated ImageNet-1k names
    taking precedence for the ImageNet classes.
    """
    names = {
        w: r['name']
        for w, r in _shipped_records(GENERIC_VOCABULARY).items()
    }
    names.update(zip(imagenet_wnids(), imagenet_classnames()))
    return names


TEMPLATE_PRESETS = {
    # CLIP's 80 prompt-engineered ImageNet templates.
    'openai_imagenet': lambda: _open_clip_templates(
        'OPENAI_IMAGENET_TEMPLATES'),
    # The 7-template subset CLIP recommends when compute is short.
    'simple_imagenet': lambda: _open_clip_templates(
        'SIMPLE_IMAGENET_TEMPLATES'),
    'vanilla': lambda: ['a photo of a {}.'],
}

CLASSNAME_PRESETS = {
    'imagenet': imagenet_classnames,
    'imagenet_wordnet': imagenet_wordnet_classnames,
    'wordnet_generic': generic_vocabulary_names,
}

# The same presets as class identifiers: WordNet ids tell apart classes that
# share a name (CPA looks contexts up by identifier).
CLASS_ID_PRESETS = {
    'imagenet': imagenet_wnids,
    'imagenet_wordnet': imagenet_wnids,
    'wordnet_generic': generic_vocabulary_wnids,
}


def _read_list(path: str) -> List[str]:
    if path.endswith('.json'):
        items = read_json(path)
    else:
        with open(path, encoding='utf-8') as f:
            items = [line.strip() for line in f if line.strip()]
    if not isinstance(items, list) or not all(
            isinstance(i, str) for i in items):
        raise ValueError(f'{path} must hold a list of strings')
    return items


def _resolve(spec: Union[str, Sequence[str]], presets: dict,
             what: str) -> List[str]:
    if isinstance(spec, str):
        if spec in presets:
            return presets[spec]()
        if osp.isfile(spec):
            return _read_list(spec)
        raise ValueError(
            f'{what} {spec!r} is neither a preset ({sorted(presets)}) nor an '
            'existing .txt (one per line) or .json (a list) file')
    return [str(s) for s in spec]


def resolve_templates(spec: Union[str, Sequence[str]]) -> List[str]:
    """Templates from a preset name, a file or a list; each is validated.

    Raises:
        ValueError: If the list is empty or a template lacks exactly one
            ``{}`` placeholder.
    """
    templates = _resolve(spec, TEMPLATE_PRESETS, 'templates')
    if not templates:
        raise ValueError('the template list is empty')
    for t in templates:
        check_template(t)
    return templates


def check_template(template: str):
    """Refuse a template that ``str.format`` would not fill with a name.

    A template holds exactly one ``{}`` and nothing else in braces; a
    literal brace is written ``{{`` or ``}}``. Checking here makes a typo
    such as ``{kind}`` or a stray ``{`` fail when the config is read, not
    when the bank is built.

    Raises:
        ValueError: Naming the template and the problem.
    """
    hint = ('must contain exactly one "{}" where the class name goes and no '
            'other braces (write a literal brace as "{{" or "}}"), e.g. '
            "'a photo of a {}.'")
    try:
        fields = [(name, spec, conv)
                  for _, name, spec, conv in string.Formatter().parse(
                      template) if name is not None]
    except ValueError as e:  # a stray '{' or '}'
        raise ValueError(f'template {template!r} {hint} ({e})') from e
    if fields != [('', '', None)]:
        named = [f'{{{n}}}' for n, _, _ in fields if n]
        extra = f' (found {", ".join(named)})' if named else ''
        raise ValueError(f'template {template!r} {hint}{extra}')


def resolve_class_ids(spec: Union[str, Sequence[str]]) -> List[str]:
    """Class identifiers from a preset name, a file or a list.

    Like :func:`resolve_classnames` but keeps WordNet ids (the ``'imagenet'``
    preset gives its 1000 wnids in label order); other entries are names.

    Raises:
        ValueError: If the list is empty.
    """
    ids = _resolve(spec, CLASS_ID_PRESETS, 'classnames')
    if not ids:
        raise ValueError(
            'the class list is empty: a prompt bank needs at least one class')
    return ids


def resolve_classnames(spec: Union[str, Sequence[str]]) -> List[str]:
    """Class names from a preset name, a file or a list.

    ImageNet WordNet ids (``'n01440764'``, the folder names of an
    ImageNet-layout dataset) are replaced by their ImageNet class names.

    Raises:
        ValueError: If the list is empty or holds an unknown WordNet id.
    """
    names = _resolve(spec, CLASSNAME_PRESETS, 'classnames')
    if not names:
        raise ValueError(
            'the class list is empty: a prompt bank needs at least one class')
    check_names(names)
    if any(WNID.match(n) for n in names):
        lookup = wnid_names()
        unknown = [n for n in names if WNID.match(n) and n not in lookup]
        if unknown:
            raise ValueError(
                f'WordNet ids outside ImageNet-1k and the wordnet_generic '
                f'vocabulary: {unknown[:10]}; pass readable class names '
                'instead')
        names = [lookup.get(n, n) for n in names]
    return names


def check_names(names: Sequence[str]):
    """Refuse class names that cannot be encoded as text.

    A class folder whose name is not valid UTF-8 reaches Python as a string
    with surrogate escapes, which no tokenizer (and no JSON cache key) can
    encode.

    Raises:
        ValueError: Naming the class (escaped).
    """
    for n in names:
        try:
            n.encode('utf-8')
        except UnicodeEncodeError as e:
            raise ValueError(
                f'class name {ascii(n)} is not valid UTF-8 text (a folder '
                'name in another encoding?); rename the class folder or pass '
                f'the class names explicitly ({e.reason})') from e


def warn_meaningless_names(names: Sequence[str], where: str = 'dataset'):
    """Warn when class names carry no words (folders ``0``, ``1``, ...).

    Prompts such as "a photo of a 3." tell the teacher nothing, so the
    anchors are arbitrary points of its text space.
    """
    bare = [n for n in names if not any(ch.isalpha() for ch in n)]
    if bare:
        warnings.warn(
            f'classnames={where!r}: {len(bare)} of {len(names)} class names '
            f'contain no letters ({bare[:10]}'
            f'{" ..." if len(bare) > 10 else ""}), so their prompts carry '
            'no meaning for the teacher. Name the '
            'class folders, pass classnames= a list or file of real names, '
            "or use a vocabulary preset ('imagenet', 'wordnet_generic').")
