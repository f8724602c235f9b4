"""Which anchor-vocabulary class is each class of an evaluated dataset.

The anchors CSM matches against (e.g. ImageNet-1k or a generic vocabulary)
need not be the classes a dataset is scored on. Zero-shot evaluation scores
a dataset class by its vocabulary class, found by WordNet id or by name; a
class without a unique match is an error, never a silently wrong score.
"""
import re
from typing import Dict, List, Sequence, Set

from mmpretrain.datasets.categories import IMAGENET_CATEGORIES

from mmbeamclip.prompts.presets import WNID, imagenet_wnids, wnid_names


def _norm(name: str) -> str:
    return re.sub(r'\s+', ' ', name.replace('_', ' ')).strip().lower()


def _candidates(cls: str) -> List[str]:
    """Ways to name a dataset class, most specific first."""
    out = [cls]
    if WNID.match(cls) and cls in wnid_names():
        out.append(wnid_names()[cls])
    # mmpretrain's ImageNet metainfo lists synonyms: 'tench, Tinca tinca'
    out += [part for part in cls.split(',') if part.strip()]
    return out


def map_classes(dataset_classes: Sequence[str],
                vocab_ids: Sequence[str],
                vocab_names: Sequence[str]) -> List[int]:
    """Index into the vocabulary of every dataset class.

    A class matches a vocabulary class with the same WordNet id, else the
    same name (case, ``_`` and spacing ignored; a WordNet id counts by its
    name, an mmpretrain ImageNet class string by each of its synonyms). The
    1000 class strings of mmpretrain's ``ImageNet`` dataset, in label order,
    are its WordNet ids.

    Args:
        dataset_classes (Sequence[str]): C class names or WordNet ids, in
            label order (``dataset.metainfo['classes']``).
        vocab_ids (Sequence[str]): V vocabulary identifiers.
        vocab_names (Sequence[str]): V vocabulary display names.

    Returns:
        list[int]: C indices into the vocabulary.

    Raises:
        ValueError: Naming every class without a match and every class that
            matches several vocabulary classes.
    """
    classes = [str(c) for c in dataset_classes]
    if classes == list(IMAGENET_CATEGORIES):
        classes = imagenet_wnids()
    by_id = {i: k for k, i in enumerate(vocab_ids)}
    by_name: Dict[str, Set[int]] = {}
    for k, (i, n) in enumerate(zip(vocab_ids, vocab_names)):
        for key in {_norm(i), _norm(n)}:
            by_name.setdefault(key, set()).add(k)
    out, missing, ambiguous = [], [], []
    for cls in classes:
        if cls in by_id:
            out.append(by_id[cls])
            continue
        found = None
        for cand in _candidates(cls):
            hits = by_name.get(_norm(cand), set())
            if len(hits) == 1:
                found = next(iter(hits))
                break
            if len(hits) > 1:
                ambiguous.append(
                    f'{cls!r} ({sorted(vocab_ids[h] for h in hits)[:4]})')
                found = -1
                break
        if found is None:
            missing.append(cls)
        out.append(found)
    if missing or ambiguous:
        problems = []
        if missing:
            problems.append(f'{len(missing)} classes have no match: '
                            f'{missing[:10]}{" ..." * (len(missing) > 10)}')
        if ambiguous:
            problems.append(f'{len(ambiguous)} classes match several anchor '
                            f'classes: {ambiguous[:10]}')
        raise ValueError(
            'Zero-shot evaluation cannot score the dataset against the '
            f'anchor vocabulary ({len(vocab_ids)} classes, e.g. '
            f'{list(vocab_ids[:3])}): ' + '; '.join(problems) + '. Use '
            'WordNet-id or vocabulary class names, a vocabulary that holds '
            "these classes, or PromptBankHook(eval_classes='dataset') to "
            "score with a bank built from the dataset's own class names.")
    return out
