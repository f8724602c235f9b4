"""Read access to a complete teacher-target cache (layout in ``layout.py``).
"""
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from mmbeamclip.utils.fileio import sha256_file
from .errors import CacheMismatchError, CacheMissError
from .fingerprint import describe_difference
from .layout import (MANIFEST, NORM_TOLERANCE, SHARD_KINDS,
                     TEACHER_CACHE_VERSION, check_embeddings, read_manifest,
                     shard_bounds, shard_path)

VERIFY_LEVELS = ('full', 'size')
# Caches already verified in full by this process, by file versions.
_VERIFIED = set()


def _versions(cache_dir: str, num_shards: int) -> tuple:
    paths = [osp.join(cache_dir, MANIFEST)] + [
        shard_path(cache_dir, s, k) for s in range(num_shards)
        for k in SHARD_KINDS
    ]
    return tuple(
        (p, st.st_size, st.st_mtime_ns)
        for p, st in ((p, os.stat(p)) for p in paths))


def _identity(st: os.stat_result) -> tuple:
    """What tells one version of a file from another: a file replaced by
    a rename (how caches are written) has a new inode."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


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
        manifest_path = osp.join(cache_dir, MANIFEST)
        # Identity of every file as opened: data-loader workers reopen the
        # shards, and must not read another cache written there since.
        self._files: Dict[str, tuple] = {}
        if osp.isfile(manifest_path):
            self._files[manifest_path] = _identity(os.stat(manifest_path))
        manifest = read_manifest(cache_dir)
        if manifest is None:
            raise FileNotFoundError(
                f'No teacher-target cache in {cache_dir!r} (no {MANIFEST}). '
                'Build it first: python tools/cache_teacher_targets.py '
                'CONFIG (see docs/teacher_cache.md).')
        if manifest.get('version') != TEACHER_CACHE_VERSION:
            raise CacheMismatchError(
                f'{cache_dir}: teacher-target cache version '
                f'{manifest.get("version")}, this mmbeamclip reads version '
                f'{TEACHER_CACHE_VERSION}; rebuild it.')
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
        self._check_manifest()

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
                self._files[path] = _identity(os.stat(path))
                size = self._files[path][2]
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

    def _replaced(self, path: str) -> CacheMismatchError:
        return CacheMismatchError(
            f'The teacher-target cache {self.cache_dir} changed while in use '
            f'({osp.basename(path)} was replaced or edited since the cache '
            'was opened): a run must not read two caches at once. Do not '
            'rebuild a cache a run is reading; restart the run.')

    def _check_manifest(self):
        path = osp.join(self.cache_dir, MANIFEST)
        try:
            now = _identity(os.stat(path))
        except FileNotFoundError:
            now = None
        if now != self._files.get(path):
            raise self._replaced(path)

    def _shard(self, shard: int, kind: str) -> np.ndarray:
        key = (shard, kind)
        if key not in self._shards:
            self._check_manifest()
            path = shard_path(self.cache_dir, shard, kind)
            try:
                f = open(path, 'rb')
            except FileNotFoundError:
                raise self._replaced(path) from None
            with f:
                # Map the file checked, not whatever the name points at now.
                if _identity(os.fstat(f.fileno())) != self._files.get(path):
                    raise self._replaced(path)
                fmt = np.lib.format
                read_header = fmt.read_array_header_1_0 if fmt.read_magic(
                    f) == (1, 0) else fmt.read_array_header_2_0
                shape, fortran, dtype = read_header(f)
                self._shards[key] = np.memmap(
                    f,
                    dtype=dtype,
                    mode='r',
                    offset=f.tell(),
                    shape=shape,
                    order='F' if fortran else 'C')
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
        views = np.asarray(self._shard(shard, 'views')[row])
        x1, y1, x2, y2, flip = views.T
        bad = (x1 < 0) | (y1 < 0) | (x2 < x1) | (y2 < y1) | (
            (flip != 0) & (flip != 1))
        if bad.any():
            # Checked where used: verify='size' does not read the shards.
            raise CacheMismatchError(
                f'{shard_path(self.cache_dir, shard, "views")}: the view '
                f'record {views[bad][0].tolist()} of sample {sample_idx} is '
                'not a crop box x1<=x2, y1<=y2 (>= 0) with flip 0 or 1: the '
                'file is damaged. Rebuild the cache.')
        return views

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
        self._check_targets(out, idx)
        return out

    def _check_targets(self, targets: np.ndarray, idx: np.ndarray):
        # Checked where used: verify='size' does not read the shards.
        norm = np.linalg.norm(targets.astype(np.float32), axis=-1)
        bad = ~(np.abs(norm - 1) <= NORM_TOLERANCE)
        if bad.any():
            i = int(np.argmax(bad))
            shard = int(idx[i]) // self.shard_size
            raise CacheMismatchError(
                f'{shard_path(self.cache_dir, shard, "emb")}: the target of '
                f'sample {int(idx[i])} has norm {norm[i]:.4g}, not 1: the '
                'file is damaged. Rebuild the cache with '
                'tools/cache_teacher_targets.py.')

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
        recorded = self.manifest
        problems = [
            describe_difference(name, expected, found)
            for name, expected, found in (
                ('teacher', teacher_id, recorded['teacher_id']),
                ('dataset', dataset, recorded['dataset']),
                ('view recipe', view_spec, recorded['views']['spec']))
        ]
        problems = [p for p in problems if p]
        if problems:
            raise CacheMismatchError(
                f'The teacher-target cache {self.cache_dir} does not match '
                'the config:\n  ' + '\n  '.join(problems) +
                '\nRebuild it with tools/cache_teacher_targets.py for this '
                'config, or point cache_dir at a matching cache.')
