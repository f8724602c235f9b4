"""On-disk layout of a teacher-target cache: manifest, shards, lookups.

A cache folder holds::

    manifest.json               what the cache was built from (see below)
    shard_00000.emb.npy         teacher embeddings, fp16, (S, N, D)
    shard_00000.views.npy       crop boxes and flips, int32, (S, N, 5)
    shard_00001.emb.npy ...

Sample ``i`` lives in shard ``i // shard_size`` at row ``i % shard_size``
(fixed-size shards are the index by sample), view ``v`` in column ``v``.
Shards are plain ``.npy`` files, opened memory-mapped, so training reads only
the rows it needs and several worker processes share the page cache. Every
file is written to a temp name and renamed, so an interrupted build leaves
only whole shards behind and can resume shard by shard.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmbeamclip.utils.fileio import atomic_write

CACHE_VERSION = 1
MANIFEST = 'manifest.json'
# Columns of a view record: crop box x1, y1, x2, y2 (inclusive, as mmcv's
# imcrop takes it) and the horizontal-flip flag.
VIEW_FIELDS = ('x1', 'y1', 'x2', 'y2', 'flip')


class CacheMismatchError(ValueError):
    """The cache was built from another teacher, dataset or view recipe."""


def shard_path(cache_dir: str, shard: int, kind: str) -> str:
    """Path of a shard file; ``kind`` is ``'emb'`` or ``'views'``."""
    return osp.join(cache_dir, f'shard_{shard:05d}.{kind}.npy')


def shard_bounds(num_samples: int, shard_size: int) -> List[Tuple[int, int]]:
    """``[start, end)`` sample range of every shard."""
    return [(s, min(s + shard_size, num_samples))
            for s in range(0, num_samples, shard_size)]


def write_manifest(cache_dir: str, manifest: dict):
    """Write ``manifest.json`` atomically."""
    blob = json.dumps(manifest, indent=2, sort_keys=True).encode('utf-8')
    atomic_write(osp.join(cache_dir, MANIFEST), lambda f: f.write(blob))


def read_manifest(cache_dir: str) -> Optional[dict]:
    """The manifest of ``cache_dir``, or None if there is none."""
    path = osp.join(cache_dir, MANIFEST)
    if not osp.isfile(path):
        return None
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def write_shard(cache_dir: str, shard: int, embeddings: np.ndarray,
                views: np.ndarray):
    """Write one shard; the embeddings file last, as the completion mark.

    Args:
        cache_dir (str): Cache folder.
        shard (int): Shard number.
        embeddings (ndarray): Teacher embeddings, shape (S, N, D), fp16.
        views (ndarray): View records, shape (S, N, 5), int32.
    """
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


def dataset_fingerprint(dataset) -> Dict[str, object]:
    """Identity of a dataset: its length and a hash of its ordered file list.

    Paths are taken relative to the dataset's ``data_root``, so moving the
    dataset keeps the cache valid while adding, removing or reordering
    images (which would shift ``sample_idx``) invalidates it.

    Args:
        dataset: An mmengine ``BaseDataset`` (or wrapper) with
            ``get_data_info``.

    Returns:
        dict: ``type``, ``num_samples`` and ``file_list_sha256``.
    """
    root = getattr(dataset, 'data_root', None) or ''
    digest = hashlib.sha256()
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        path = info.get('img_path')
        if path is not None and root:
            path = osp.relpath(path, root)
        digest.update(f'{path}\t{info.get("gt_label", "")}\n'.encode())
    return dict(
        type=type(dataset).__name__,
        num_samples=len(dataset),
        file_list_sha256=digest.hexdigest())


def _diff(name: str, expected, found) -> Optional[str]:
    if expected is None or expected == found:
        return None
    return f'{name}: the cache has {found!r}, the config gives {expected!r}'


class TeacherTargetCache:
    """Read-only access to a complete teacher-target cache.

    Shards are opened memory-mapped on first use, so an instance is cheap to
    create and to pickle into data-loader workers.

    Args:
        cache_dir (str): Cache folder written by
            :func:`mmbeamclip.teacher_cache.build_teacher_cache`.

    Raises:
        FileNotFoundError: There is no manifest.
        CacheMismatchError: The cache is incomplete or of another version.
    """

    def __init__(self, cache_dir: str):
        self.cache_dir = cache_dir
        manifest = read_manifest(cache_dir)
        if manifest is None:
            raise FileNotFoundError(
                f'No teacher-target cache in {cache_dir!r} (no {MANIFEST}). '
                'Build it first: python tools/cache_teacher_targets.py '
                'CONFIG (see docs/teacher_cache.md).')
        if manifest.get('version') != CACHE_VERSION:
            raise CacheMismatchError(
                f'{cache_dir}: cache version {manifest.get("version")}, this '
                f'mmbeamclip reads version {CACHE_VERSION}; rebuild it.')
        if not manifest.get('complete'):
            raise CacheMismatchError(
                f'{cache_dir}: the cache build did not finish; run '
                'tools/cache_teacher_targets.py again with the same config '
                'to resume it.')
        self.manifest = manifest
        self.num_samples = int(manifest['dataset']['num_samples'])
        self.num_views = int(manifest['views']['num_views'])
        self.embed_dim = int(manifest['embed_dim'])
        self.shard_size = int(manifest['shard_size'])
        self._shards: Dict[Tuple[int, str], np.ndarray] = {}

    def __getstate__(self):
        # Memory maps are reopened in each process instead of pickled.
        state = dict(self.__dict__)
        state['_shards'] = {}
        return state

    @property
    def teacher_id(self) -> str:
        return self.manifest['teacher_id']

    def _shard(self, shard: int, kind: str) -> np.ndarray:
        key = (shard, kind)
        if key not in self._shards:
            self._shards[key] = np.load(
                shard_path(self.cache_dir, shard, kind), mmap_mode='r')
        return self._shards[key]

    def _check_index(self, sample_idx: int):
        if not 0 <= sample_idx < self.num_samples:
            raise IndexError(
                f'sample_idx {sample_idx} is outside the cache '
                f'({self.num_samples} samples in {self.cache_dir}); was it '
                'built from this dataset?')

    def views(self, sample_idx: int) -> np.ndarray:
        """The recorded views of one sample.

        Args:
            sample_idx (int): Dataset index.

        Returns:
            ndarray: ``(N, 5)`` int32 rows ``x1, y1, x2, y2, flip``.
        """
        self._check_index(sample_idx)
        shard, row = divmod(sample_idx, self.shard_size)
        return np.asarray(self._shard(shard, 'views')[row])

    def lookup(self, sample_idx: Sequence[int],
               view: Sequence[int]) -> np.ndarray:
        """Teacher embeddings of ``(sample, view)`` pairs.

        Args:
            sample_idx (Sequence[int]): Dataset indices, length B.
            view (Sequence[int]): View index of each sample, length B.

        Returns:
            ndarray: fp16 embeddings, shape (B, D).
        """
        idx = np.asarray(sample_idx, dtype=np.int64).reshape(-1)
        view = np.asarray(view, dtype=np.int64).reshape(-1)
        bad = (idx < 0) | (idx >= self.num_samples)
        if bad.any():
            self._check_index(int(idx[bad][0]))
        if ((view < 0) | (view >= self.num_views)).any():
            raise IndexError(f'views {view.tolist()} outside '
                             f'[0, {self.num_views})')
        out = np.empty((len(idx), self.embed_dim), np.float16)
        shard, row = np.divmod(idx, self.shard_size)
        # One fancy-indexed read per shard instead of one per sample.
        for s in np.unique(shard):
            mask = shard == s
            out[mask] = self._shard(int(s), 'emb')[row[mask], view[mask]]
        return out

    def check(self,
              teacher_id: Optional[str] = None,
              dataset: Optional[dict] = None,
              view_spec: Optional[dict] = None):
        """Refuse a cache built from anything else than what is configured.

        Args:
            teacher_id (str, optional): Expected teacher identity.
            dataset (dict, optional): Expected :func:`dataset_fingerprint`.
            view_spec (dict, optional): Expected view recipe (crop and flip
                settings of the replay transform).

        Raises:
            CacheMismatchError: With every difference found.
        """
        problems = [
            _diff('teacher', teacher_id, self.manifest['teacher_id']),
            _diff('dataset', dataset, self.manifest['dataset']),
            _diff('view recipe', view_spec, self.manifest['views']['spec']),
        ]
        problems = [p for p in problems if p]
        if problems:
            raise CacheMismatchError(
                f'The teacher-target cache {self.cache_dir} does not match '
                'the config:\n  ' + '\n  '.join(problems) +
                '\nRebuild it with tools/cache_teacher_targets.py for this '
                'config, or point cache_dir at a matching cache.')
