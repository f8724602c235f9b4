"""On-disk layout of a teacher-target cache: manifest and shards.

A cache folder holds::

    manifest.json               what the cache was built from (see below)
    shard_00000.emb.npy         teacher embeddings, fp16, (S, N, D)
    shard_00000.views.npy       crop boxes and flips, int32, (S, N, 5)
    shard_00001.emb.npy ...

Sample ``i`` lives in shard ``i // shard_size`` at row ``i % shard_size``
(fixed-size shards are the index by sample), view ``v`` in column ``v``.
Shards are plain ``.npy`` files, opened memory-mapped, so training reads only
the rows it needs and several worker processes share the page cache. Every
file is written to a temp name and renamed (with the umask's permissions, so
a cache in a shared folder is readable by the team), so an interrupted build
leaves only whole shards behind and can resume shard by shard.

A complete manifest records every shard file's size and sha256; opening the
cache checks them (and that the embeddings are finite unit vectors), so a
truncated, deleted, edited or NaN shard is refused before training starts.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

import numpy as np

from mmbeamclip.utils.fileio import atomic_write, read_json, sha256_file
from .errors import CacheMismatchError

# Format of the teacher-target cache folders (a manifest of another version
# is refused).
TEACHER_CACHE_VERSION = 2
MANIFEST = 'manifest.json'
SHARD_KINDS = ('emb', 'views')
# Columns of a view record: crop box x1, y1, x2, y2 (inclusive, as mmcv's
# imcrop takes it) and the horizontal-flip flag.
VIEW_FIELDS = ('x1', 'y1', 'x2', 'y2', 'flip')
# Stored embeddings are unit vectors rounded to fp16.
NORM_TOLERANCE = 1e-2
_CHUNK_ROWS = 4096


def shard_path(cache_dir: str, shard: int, kind: str) -> str:
    """Path of a shard file; ``kind`` is ``'emb'`` or ``'views'``."""
    return osp.join(cache_dir, f'shard_{shard:05d}.{kind}.npy')


def shard_bounds(num_samples: int, shard_size: int) -> List[Tuple[int, int]]:
    """``[start, end)`` sample range of every shard."""
    if int(shard_size) < 1:
        raise ValueError(f'shard_size={shard_size} must be >= 1 (samples '
                         'per shard).')
    return [(s, min(s + shard_size, num_samples))
            for s in range(0, num_samples, shard_size)]


def shard_record(cache_dir: str, shard: int) -> Dict[str, dict]:
    """Size and sha256 of both files of a shard, as the manifest keeps them.
    """
    record = {}
    for kind in SHARD_KINDS:
        path = shard_path(cache_dir, shard, kind)
        record[kind] = dict(
            bytes=os.path.getsize(path), sha256=sha256_file(path))
    return record


def check_embeddings(embeddings: np.ndarray, where: str):
    """Refuse embeddings that are not finite unit vectors.

    Args:
        embeddings (ndarray): Shape (S, N, D), any float dtype (memmaps are
            read in chunks).
        where (str): What to name in the error (a shard file).

    Raises:
        CacheMismatchError: With the first bad row.
    """
    for start in range(0, len(embeddings), _CHUNK_ROWS):
        chunk = np.asarray(embeddings[start:start + _CHUNK_ROWS],
                           dtype=np.float32)
        finite = np.isfinite(chunk).all(axis=-1)
        norm = np.linalg.norm(np.where(np.isfinite(chunk), chunk, 0), axis=-1)
        bad = ~finite | (np.abs(norm - 1) > NORM_TOLERANCE)
        if bad.any():
            row, view = (int(i) for i in np.argwhere(bad)[0])
            kind = 'non-finite values' if not finite[row, view] else \
                f'norm {norm[row, view]:.3g} instead of 1'
            raise CacheMismatchError(
                f'{where}: the embedding of row {start + row}, view {view} '
                f'has {kind} ({int(bad.sum())} bad entries in this chunk); '
                'the teacher diverged or the file is damaged. Rebuild the '
                'cache with tools/cache_teacher_targets.py.')


def write_manifest(cache_dir: str, manifest: dict):
    """Write ``manifest.json`` atomically.

    A manifest marked ``complete`` is sealed first: the size and sha256 of
    every shard file are recorded under ``shards`` (and the embeddings are
    checked), so the cache can later be verified when it is opened.
    """
    if manifest.get('complete'):
        bounds = shard_bounds(manifest['dataset']['num_samples'],
                              manifest['shard_size'])
        for shard in range(len(bounds)):
            check_embeddings(
                np.load(shard_path(cache_dir, shard, 'emb'), mmap_mode='r'),
                shard_path(cache_dir, shard, 'emb'))
        manifest = dict(
            manifest,
            num_shards=len(bounds),
            shards=[shard_record(cache_dir, s) for s in range(len(bounds))])
    blob = json.dumps(manifest, indent=2, sort_keys=True).encode('utf-8')
    atomic_write(osp.join(cache_dir, MANIFEST), lambda f: f.write(blob))


def read_manifest(cache_dir: str) -> Optional[dict]:
    """The manifest of ``cache_dir``, or None if there is none."""
    path = osp.join(cache_dir, MANIFEST)
    if not osp.isfile(path):
        return None
    try:
        return read_json(path)
    except ValueError as e:
        raise CacheMismatchError(
            f'{path} is not a valid cache manifest ({e}); rebuild the cache '
            'with tools/cache_teacher_targets.py.') from e


def write_shard(cache_dir: str, shard: int, embeddings: np.ndarray,
                views: np.ndarray):
    """Write one shard; the embeddings file last, as the completion mark.

    Args:
        cache_dir (str): Cache folder.
        shard (int): Shard number.
        embeddings (ndarray): Teacher embeddings, shape (S, N, D), fp16.
        views (ndarray): View records, shape (S, N, 5), int32.

    Raises:
        CacheMismatchError: The embeddings are not finite unit vectors
            (nothing is written).
    """
    check_embeddings(embeddings, shard_path(cache_dir, shard, 'emb'))
    atomic_write(
        shard_path(cache_dir, shard, 'views'),
        lambda f: np.save(f, np.ascontiguousarray(views, dtype=np.int32)))
    atomic_write(
        shard_path(cache_dir, shard, 'emb'), lambda f: np.save(
            f, np.ascontiguousarray(embeddings, dtype=np.float16)))


def shard_is_complete(cache_dir: str, shard: int, rows: int, num_views: int,
                      embed_dim: int) -> bool:
    """Whether both files of a shard exist with the expected shapes."""
    expected = dict(emb=(rows, num_views, embed_dim), views=(rows, num_views,
                                                             len(VIEW_FIELDS)))
    for kind, shape in expected.items():
        path = shard_path(cache_dir, shard, kind)
        if not osp.isfile(path):
            return False
        try:
            array = np.load(path, mmap_mode='r')
        except (ValueError, OSError):
            return False
        if array.shape != shape:
            return False
    return True
