"""Identity of a dataset, as a teacher-target cache manifest records it."""
import hashlib
import os
import os.path as osp
from typing import Dict, Optional, Tuple


def _file_state(path: str) -> Tuple[str, int, int]:
    """(path, size, mtime) of an image, the cheap stand-in for its pixels."""
    try:
        stat = os.stat(path)
    except OSError:
        return path, -1, -1
    return path, stat.st_size, int(stat.st_mtime)


def dataset_fingerprint(dataset) -> Dict[str, object]:
    """Identity of a dataset: its file list and the state of its files.

    ``file_list_sha256`` hashes the ordered paths (relative to the dataset's
    ``data_root``, so moving the dataset keeps the cache valid) and labels:
    adding, removing, reordering or relabelling images (which would shift
    ``sample_idx``) changes it. ``file_stats_sha256`` hashes every image
    file's **size and modification time** (whole seconds), not its pixels:
    reading a million images at every start would cost minutes, a stat
    costs microseconds. Images replaced under the same names change it;
    a copy of the dataset must keep modification times (``cp -p``,
    ``rsync -a``) or the cache is refused as built from other images.

    Args:
        dataset: An mmengine ``BaseDataset`` (or wrapper) with
            ``get_data_info``.

    Returns:
        dict: ``type``, ``num_samples``, ``file_list_sha256`` and
        ``file_stats_sha256``.
    """
    root = getattr(dataset, 'data_root', None) or ''
    names, stats = hashlib.sha256(), hashlib.sha256()
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        path = info.get('img_path')
        rel = osp.relpath(path, root) if path is not None and root else path
        names.update(f'{rel}\t{info.get("gt_label", "")}\n'.encode())
        if path is not None:
            _, size, mtime = _file_state(path)
            stats.update(f'{size}\t{mtime}\n'.encode())
    return dict(
        type=type(dataset).__name__,
        num_samples=len(dataset),
        file_list_sha256=names.hexdigest(),
        file_stats_sha256=stats.hexdigest())


DATASET_KEYS = dict(
    type='dataset type',
    num_samples='number of samples',
    file_list_sha256='file list or labels (images added, removed, '
    'reordered or relabelled)',
    file_stats_sha256='image files (size or modification time: the images '
    'changed, or were copied without keeping modification times)')


def describe_difference(name: str, expected, found) -> Optional[str]:
    """What differs between a configured and a recorded manifest entry.

    Args:
        name (str): The entry (``'dataset'`` is described key by key).
        expected: What the run gives; None means "not checked".
        found: What the manifest records.

    Returns:
        str | None: A readable difference, or None if there is none.
    """
    if expected is None or expected == found:
        return None
    if name == 'dataset' and isinstance(expected, dict) and isinstance(
            found, dict):
        keys = [k for k in DATASET_KEYS if expected.get(k) != found.get(k)]
        return 'dataset: other ' + '; other '.join(DATASET_KEYS[k]
                                                   for k in keys)
    return f'{name}: the cache has {found!r}, the config gives {expected!r}'
