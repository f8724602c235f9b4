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
file is written to a temp name and renamed (with the umask's permissions, so
a cache in a shared folder is readable by the team), so an interrupted build
leaves only whole shards behind and can resume shard by shard.

A complete manifest records every shard file's size and sha256; opening the
cache checks them (and that the embeddings are finite unit vectors), so a
truncated, deleted, edited or NaN shard is refused before training starts.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmbeamclip.utils.fileio import atomic_write, sha256_file

CACHE_VERSION = 2
MANIFEST = 'manifest.json'
SHARD_KINDS = ('emb', 'views')
# Columns of a view record: crop box x1, y1, x2, y2 (inclusive, as mmcv's
# imcrop takes it) and the horizontal-flip flag.
VIEW_FIELDS = ('x1', 'y1', 'x2', 'y2', 'flip')
VERIFY_LEVELS = ('full', 'size')
# Stored embeddings are unit vectors rounded to fp16.
NORM_TOLERANCE = 1e-2
_CHUNK_ROWS = 4096
# Caches already verified in full by this process, by file versions.
_VERIFIED = set()


class CacheMismatchError(ValueError):
    """The cache was built from another teacher, dataset or view recipe, or
    its files are not the ones the manifest records."""


class CacheMissError(LookupError):
    """A sample or view that the teacher-target cache does not hold."""


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
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
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


def _diff(name: str, expected, found) -> Optional[str]:
    if expected is None or expected == found:
        return None
    if name == 'dataset' and isinstance(expected, dict) and isinstance(
            found, dict):
        keys = [k for k in DATASET_KEYS if expected.get(k) != found.get(k)]
        return 'dataset: other ' + '; other '.join(DATASET_KEYS[k]
                                                   for k in keys)
    return f'{name}: the cache has {found!r}, the config gives {expected!r}'


def _versions(cache_dir: str, num_shards: int) -> tuple:
    paths = [osp.join(cache_dir, MANIFEST)] + [
        shard_path(cache_dir, s, k) for s in range(num_shards)
        for k in SHARD_KINDS
    ]
    return tuple(
        (p, st.st_size, st.st_mtime_ns)
        for p, st in ((p, os.stat(p)) for p in paths))


class TeacherTargetCache:
    """Read-only access to a complete, verified teacher-target cache.

    Opening checks the manifest and the shard files: with
    ``verify='size'`` that every file exists with the recorded size (a few
    stats); with ``verify='full'`` also its sha256 and that the embeddings
    are finite unit vectors (one read of the cache, at disk speed, done once
    per process and cache version). Shards are then opened memory-mapped on
    first use, so an instance is cheap to pickle into data-loader workers.

    Args:
        cache_dir (str): Cache folder written by
            :func:`mmbeamclip.teacher_cache.build_teacher_cache`.
        verify (str): ``'full'`` or ``'size'``. Defaults to ``'full'``.

    Raises:
        FileNotFoundError: There is no manifest.
        CacheMismatchError: The cache is incomplete, of another version, or
            a shard file is missing, truncated, edited or not finite.
    """

    def __init__(self, cache_dir: str, verify: str = 'full'):
        if verify not in VERIFY_LEVELS:
            raise ValueError(f'verify must be one of {VERIFY_LEVELS}, got '
                             f'{verify!r}')
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
        self.verify(verify)

    def __getstate__(self):
        # Memory maps are reopened in each process instead of pickled.
        state = dict(self.__dict__)
        state['_shards'] = {}
        return state

    @property
    def teacher_id(self) -> str:
        return self.manifest['teacher_id']

    @property
    def num_shards(self) -> int:
        return len(shard_bounds(self.num_samples, self.shard_size))

    def verify(self, level: str = 'full'):
        """Check the shard files against the manifest (see the class docs).

        Raises:
            CacheMismatchError: Naming the first bad file.
        """
        records = self.manifest.get('shards') or []
        if len(records) != self.num_shards:
            raise CacheMismatchError(
                f'{self.cache_dir}: the manifest records {len(records)} '
                f'shards, the cache needs {self.num_shards}; rebuild it.')
        for shard, record in enumerate(records):
            for kind in SHARD_KINDS:
                path = shard_path(self.cache_dir, shard, kind)
                if not osp.isfile(path):
                    raise CacheMismatchError(
                        f'{path} is missing from the teacher-target cache; '
                        'rebuild the cache with '
                        'tools/cache_teacher_targets.py.')
                size = osp.getsize(path)
                if size != record[kind]['bytes']:
                    raise CacheMismatchError(
                        f'{path} has {size} bytes, the manifest records '
                        f'{record[kind]["bytes"]}: the file is truncated or '
                        'was replaced. Rebuild the cache.')
        if level == 'size':
            return
        versions = _versions(self.cache_dir, self.num_shards)
        if versions in _VERIFIED:
            return
        for shard, record in enumerate(records):
            # Non-finite targets first: the more telling message.
            check_embeddings(self._shard(shard, 'emb'),
                             shard_path(self.cache_dir, shard, 'emb'))
            for kind in SHARD_KINDS:
                path = shard_path(self.cache_dir, shard, kind)
                if sha256_file(path) != record[kind]['sha256']:
                    raise CacheMismatchError(
                        f'{path} does not match the sha256 the manifest '
                        'records: it was edited or damaged after the build. '
                        'Rebuild the cache.')
        _VERIFIED.add(versions)

    def _shard(self, shard: int, kind: str) -> np.ndarray:
        key = (shard, kind)
        if key not in self._shards:
            self._shards[key] = np.load(
                shard_path(self.cache_dir, shard, kind), mmap_mode='r')
        return self._shards[key]

    def _check_index(self, sample_idx: int):
        if not 0 <= sample_idx < self.num_samples:
            raise CacheMissError(
                f'sample_idx {sample_idx} is not in the teacher-target cache '
                f'{self.cache_dir} ({self.num_samples} samples); was it '
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

        Raises:
            CacheMissError: A sample or view that the cache does not hold.
        """
        idx = np.asarray(sample_idx, dtype=np.int64).reshape(-1)
        view = np.asarray(view, dtype=np.int64).reshape(-1)
        bad = (idx < 0) | (idx >= self.num_samples)
        if bad.any():
            self._check_index(int(idx[bad][0]))
        bad = (view < 0) | (view >= self.num_views)
        if bad.any():
            raise CacheMissError(
                f'view {int(view[bad][0])} is not in the teacher-target '
                f'cache {self.cache_dir}, which holds views '
                f'0..{self.num_views - 1} of every sample.')
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
