"""Data subsets of a benchmark run: seeded per-class subsets of an
ImageNet-layout folder (pre-training, probe, held-out, val) written as
mmpretrain ``CustomDataset`` annotation files."""
import os
import os.path as osp
import random
from typing import List, Optional

from .common import IMAGE_EXTS


def class_folders(root: str, split: str) -> List[str]:
    """Sorted class folder names of an ImageNet-layout split."""
    d = osp.join(root, split)
    return sorted(c for c in os.listdir(d) if osp.isdir(osp.join(d, c)))


def split_files(root: str, split: str, classes: List[str]) -> List[list]:
    """Per class, the sorted image paths relative to ``root/split``."""
    out = []
    for c in classes:
        d = osp.join(root, split, c)
        out.append(
            sorted(
                osp.join(c, f) for f in os.listdir(d)
                if f.lower().endswith(IMAGE_EXTS)))
    return out


def per_class_subset(files: List[list], n: Optional[int],
                     seed: int) -> List[list]:
    """The first ``n`` of each class after a seeded shuffle (all if None).

    Taking a prefix of one fixed shuffle makes smaller subsets nest in
    larger ones (the probe subset lies inside the pre-training subset).
    """
    return per_class_split(files, n, None, seed)[0]


def per_class_split(files: List[list], n: Optional[int],
                    heldout: Optional[int], seed: int) -> tuple:
    """A subset (as :func:`per_class_subset`) and a held-out part of
    ``heldout`` images per class, disjoint from it.

    The held-out images come after the subset in the same seeded shuffle
    (from its end when the subset takes everything else), so adding a
    held-out part does not change the subset when ``n`` leaves room.

    Returns:
        tuple[list[list], list[list]]: Subset and held-out files per class.
    """
    rng = random.Random(seed)
    subset, held = [], []
    for fs in files:
        fs = list(fs)
        rng.shuffle(fs)
        h = heldout or 0
        if n and n + h <= len(fs):
            subset.append(sorted(fs[:n]))
            held.append(sorted(fs[n:n + h]))
        else:
            if h and h >= len(fs):
                raise ValueError(
                    f'a class has {len(fs)} train images, too few for a '
                    f'held-out part of {h}')
            rest = fs[:len(fs) - h]
            subset.append(sorted(rest[:n] if n else rest))
            held.append(sorted(fs[len(fs) - h:]))
    return subset, held


def write_ann(path: str, files: List[list]) -> int:
    """An mmpretrain ``CustomDataset`` annotation file: ``path label``."""
    lines = [f'{f} {label}' for label, fs in enumerate(files) for f in fs]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return len(lines)


def prepare_data(data_root: str, work_dir: str, profile: dict,
                 seed: int = 0) -> dict:
    """Write the annotation files of the profile's subsets.

    Besides the pre-training, probe and val subsets, a profile with
    ``heldout_per_class`` gets a held-out part of train, disjoint from the
    pre-training images: every choice (anchor vocabulary, method option,
    schedule) is made on it, never on val.

    Returns:
        dict: ``classes``, ann file paths and file lists per subset.
    """
    classes = class_folders(data_root, 'train')
    if class_folders(data_root, 'val') != classes:
        raise ValueError(f'{data_root}: train/ and val/ have different '
                         'class folders')
    train = split_files(data_root, 'train', classes)
    val = split_files(data_root, 'val', classes)
    pre, heldout = per_class_split(train, profile['train_per_class'],
                                   profile.get('heldout_per_class'), seed)
    probe = per_class_subset(pre, profile['probe_per_class'], seed + 1)
    val = per_class_subset(val, profile['val_per_class'], seed + 2)
    os.makedirs(work_dir, exist_ok=True)
    data = dict(classes=classes, data_root=osp.abspath(data_root))
    subsets = [('pretrain', pre), ('probe', probe), ('val', val)]
    if any(heldout):
        subsets.append(('heldout', heldout))
    for name, files in subsets:
        ann = osp.join(work_dir, f'{name}.txt')
        data[f'{name}_num'] = write_ann(ann, files)
        data[f'{name}_ann'] = ann
        data[f'{name}_files'] = files
    return data
