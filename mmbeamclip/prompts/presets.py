"""Named class-name and template lists, and how specs resolve to lists.

Templates are format strings with one ``{}`` (not lambdas, as in open_clip
and mmpretrain), so configs that name them stay serialisable.
"""
import json
import os.path as osp
import re
from typing import List, Sequence, Union

WNID = re.compile(r'^n\d{8}$')


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
}

# The same presets as class identifiers: WordNet ids tell apart classes that
# share a name (CPA looks contexts up by identifier).
CLASS_ID_PRESETS = {
    'imagenet': imagenet_wnids,
}


def _read_list(path: str) -> List[str]:
    with open(path, encoding='utf-8') as f:
        if path.endswith('.json'):
            items = json.load(f)
        else:
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
        if t.count('{}') != 1:
            raise ValueError(
                f'template {t!r} must contain exactly one "{{}}" where the '
                "class name goes, e.g. 'a photo of a {}.'")
    return templates


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
    if any(WNID.match(n) for n in names):
        lookup = dict(zip(imagenet_wnids(), imagenet_classnames()))
        unknown = [n for n in names if WNID.match(n) and n not in lookup]
        if unknown:
            raise ValueError(f'WordNet ids outside ImageNet-1k: {unknown}; '
                             'pass readable class names instead')
        names = [lookup.get(n, n) for n in names]
    return names
