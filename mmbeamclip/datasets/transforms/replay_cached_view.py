from typing import Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
from mmpretrain.datasets.transforms import RandomResizedCrop
from mmpretrain.registry import TRANSFORMS

from mmbeamclip.teacher_cache import CachedViewRecipe, TeacherTargetCache
from mmbeamclip.utils.ranges import check_interval, check_range

VIEW_SAMPLING = ('epoch', 'random')
# What mmcv.imresize takes (RandomResizedCrop asserts it).
INTERPOLATIONS = ('nearest', 'bilinear', 'bicubic', 'area', 'lanczos')


def _check_view_ranges(scale, crop_ratio_range, aspect_ratio_range,
                       max_attempts, interpolation):
    """Name the bad argument (``RandomResizedCrop`` only asserts)."""
    owner = 'ReplayCachedView'
    sizes = scale if isinstance(scale, (list, tuple)) else (scale, scale)
    if len(sizes) != 2:
        raise ValueError(f'{owner}: scale must be an int or (w, h), got '
                         f'{scale!r}')
    for size in sizes:
        check_range('scale', size, 1, integer=True, owner=owner)
    check_interval('crop_ratio_range', crop_ratio_range, 0, 1, owner=owner)
    check_interval('aspect_ratio_range', aspect_ratio_range, owner=owner)
    check_range('max_attempts', max_attempts, 0, integer=True, owner=owner)
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f'{owner}: interpolation must be one of '
                         f'{INTERPOLATIONS}, got {interpolation!r}')


@TRANSFORMS.register_module()
class ReplayCachedView(RandomResizedCrop, CachedViewRecipe):
    """Random resized crop + horizontal flip, replayed from a teacher cache.

    Replaces ``RandomResizedCrop`` + ``RandomFlip`` in a BeamCLIP pipeline
    whose teacher targets come from a cache (:class:`CachedTeacher`). The
    cache holds N pre-sampled views per image (crop box and flip flag) and
    the teacher's embedding of each; this transform picks one view per image
    and epoch and applies exactly that crop, so the student sees the pixels
    the teacher saw. It writes the chosen view's index to ``cache_view``,
    which :class:`CachedViewHook` adds to ``PackInputs``' ``meta_keys`` so
    the cached teacher can look the target up by ``(sample_idx,
    cache_view)``.

    The cache folder is named once in a config, at
    ``model.target_generator.cache_dir``; leave ``cache_dir`` unset here and
    :class:`CachedViewHook` (or the cache builder) gives this transform the
    same folder, and the cache the :class:`CachedTeacher` has already
    opened and verified (``teacher_cache.bind_pipeline``).

    The same class samples the views when the cache is built
    (``tools/cache_teacher_targets.py`` switches it to build mode), with
    mmpretrain's ``RandomResizedCrop`` algorithm and a random state seeded by
    ``(seed, sample_idx)``: the views of an image do not depend on worker,
    rank or order, which makes builds resumable and shardable.

    Only the crop and the flip are replayed. A random photometric transform
    after this one (colour jitter, blur...) would show the student an image
    the teacher never saw; a ViT teacher is not even flip-equivariant, which
    is why the flip is part of the cached view rather than applied later.

    Required keys: ``img``, ``sample_idx``.
    Modified keys: ``img``, ``img_shape``.
    Added keys: ``cache_view``, ``flip``, ``flip_direction``
    (``cache_views`` (N, 5) in build mode, where ``img`` becomes a list of N
    views).

    Args:
        scale (int | Sequence[int]): Output size, as in ``RandomResizedCrop``.
        cache_dir (str, optional): Teacher-target cache folder. Defaults to
            None: the model's :class:`CachedTeacher` folder, bound before
            training. A folder given here must be that one.
        crop_ratio_range (tuple[float, float]): Crop area range, used when
            sampling the views. Defaults to (0.08, 1.0).
        aspect_ratio_range (tuple[float, float]): Aspect ratio range.
            Defaults to (3/4, 4/3).
        max_attempts (int): Crop sampling attempts. Defaults to 10.
        interpolation (str): Resize interpolation. Defaults to 'bilinear'.
        backend (str): Resize backend, 'cv2' or 'pillow'. Defaults to 'cv2'.
        flip_prob (float): Probability that a sampled view is flipped
            horizontally. Defaults to 0.5.
        view_sampling (str): ``'epoch'``: view ``(epoch + sample_idx) % N``,
            deterministic and resume-safe; ``'random'``: a random view each
            time. Either way :class:`CachedViewHook` must be in
            ``custom_hooks``: it checks the cache against the run and
            publishes the epoch, and the transform refuses to run without
            it. Defaults to 'epoch'.
    """

    def __init__(self,
                 scale: Union[Sequence, int],
                 cache_dir: Optional[str] = None,
                 crop_ratio_range: Tuple[float, float] = (0.08, 1.0),
                 aspect_ratio_range: Tuple[float, float] = (3. / 4., 4. / 3.),
                 max_attempts: int = 10,
                 interpolation: str = 'bilinear',
                 backend: str = 'cv2',
                 flip_prob: float = 0.5,
                 view_sampling: str = 'epoch'):
        _check_view_ranges(scale, crop_ratio_range, aspect_ratio_range,
                           max_attempts, interpolation)
        super().__init__(
            scale=scale,
            crop_ratio_range=crop_ratio_range,
            aspect_ratio_range=aspect_ratio_range,
            max_attempts=max_attempts,
            interpolation=interpolation,
            backend=backend)
        if view_sampling not in VIEW_SAMPLING:
            raise ValueError(f'view_sampling must be one of {VIEW_SAMPLING}, '
                             f'got {view_sampling!r}')
        if not 0 <= flip_prob <= 1:
            raise ValueError(f'flip_prob must be in [0, 1], got {flip_prob}')
        self.cache_dir = cache_dir
        self.flip_prob = flip_prob
        self.view_sampling = view_sampling
        # Shared memory: the hook's update reaches data-loader workers, also
        # persistent ones, which hold a pickled copy of this transform.
        # -1: no epoch published yet.
        self._epoch = torch.full((), -1, dtype=torch.long).share_memory_()
        self._cache: Optional[TeacherTargetCache] = None
        self._build: Optional[Tuple[int, int]] = None

    # ----------------------------------------------------------------- state
    def view_spec(self) -> dict:
        """The settings that decide the views, as stored in the manifest."""
        return dict(
            scale=[int(s) for s in self.scale],
            crop_ratio_range=[float(r) for r in self.crop_ratio_range],
            aspect_ratio_range=[float(r) for r in self.aspect_ratio_range],
            max_attempts=int(self.max_attempts),
            interpolation=self.interpolation,
            backend=self.backend,
            flip_prob=float(self.flip_prob))

    def set_epoch(self, epoch: int):
        """Select the views of ``epoch`` (``view_sampling='epoch'``)."""
        self._epoch.fill_(int(epoch))

    def set_build_mode(self, num_views: int, seed: int):
        """Emit all N freshly sampled views (used by the cache builder).

        Args:
            num_views (int): Views per image, N.
            seed (int): Seed of the view sampling.
        """
        if num_views < 1:
            raise ValueError(f'num_views must be >= 1, got {num_views}')
        self._build = (int(num_views), int(seed))

    def use_cache(self, cache: TeacherTargetCache):
        """Replay from an opened cache (the :class:`CachedTeacher`'s, which
        verified it), checked against this recipe.

        Raises:
            CacheMismatchError: The cache holds views of another recipe.
        """
        cache.check(view_spec=self.view_spec())
        self._cache = cache

    @property
    def cache(self) -> TeacherTargetCache:
        """The cache: the one given to :meth:`use_cache`, else ``cache_dir``
        opened (sizes checked) and checked against this recipe on first use.
        """
        if self._cache is None:
            if self.cache_dir is None:
                raise RuntimeError(
                    'ReplayCachedView has no cache_dir yet: add '
                    "dict(type='CachedViewHook') to custom_hooks, which "
                    "gives it the model's CachedTeacher cache_dir and checks "
                    'the teacher-target cache before training.')
            # Sizes only: reading every shard is the CachedTeacher's job.
            self.use_cache(TeacherTargetCache(self.cache_dir, verify='size'))
        return self._cache

    # ----------------------------------------------------------------- views
    def sample_views(self, img: np.ndarray, sample_idx: int, num_views: int,
                     seed: int) -> np.ndarray:
        """Sample N views of an image, reproducibly.

        Args:
            img (ndarray): The image, (H, W, C).
            sample_idx (int): Dataset index, part of the seed.
            num_views (int): N.
            seed (int): Build seed.

        Returns:
            ndarray: int32 rows ``x1, y1, x2, y2, flip``, shape (N, 5).
        """
        # mmpretrain's crop sampler draws from the global numpy state: seed
        # it per image and restore it, so nothing else is disturbed.
        state = np.random.get_state()
        np.random.seed([int(seed), int(sample_idx)])
        try:
            views = []
            for _ in range(num_views):
                top, left, h, w = self.rand_crop_params(img)
                flip = np.random.rand() < self.flip_prob
                views.append(
                    [left, top, left + w - 1, top + h - 1,
                     int(flip)])
        finally:
            np.random.set_state(state)
        return np.asarray(views, dtype=np.int32)

    def apply_view(self, img: np.ndarray, view: np.ndarray) -> np.ndarray:
        """Crop, resize and maybe flip, exactly as when the cache was built.

        Args:
            img (ndarray): The image, (H, W, C).
            view (ndarray): One row ``x1, y1, x2, y2, flip``.

        Returns:
            ndarray: The view, (scale_h, scale_w, C).
        """
        x1, y1, x2, y2, flip = (int(v) for v in view)
        h, w = img.shape[:2]
        if x2 >= w or y2 >= h:
            raise ValueError(
                f'cached crop box {(x1, y1, x2, y2)} lies outside the '
                f'{w}x{h} image: the images changed since the cache was '
                'built; rebuild it.')
        img = mmcv.imcrop(img, bboxes=np.array([x1, y1, x2, y2]))
        img = mmcv.imresize(
            img,
            tuple(self.scale[::-1]),
            interpolation=self.interpolation,
            backend=self.backend)
        if flip:
            img = mmcv.imflip(img, direction='horizontal')
        return img

    def choose_view(self, sample_idx: int, num_views: int) -> int:
        """The view index to replay for a sample now."""
        epoch = int(self._epoch)
        if epoch < 0:
            # The hook publishes the epoch after checking the cache against
            # the run; without it a stale cache would train unchecked (and
            # with 'epoch' sampling every image would replay one view).
            raise RuntimeError(
                f'ReplayCachedView({self.cache_dir!r}) was given no epoch: '
                "add dict(type='CachedViewHook') to custom_hooks, which "
                'checks the teacher-target cache against the training run '
                'before the first epoch.')
        if self.view_sampling == 'random':
            return int(np.random.randint(num_views))
        return (epoch + int(sample_idx)) % num_views

    def transform(self, results: dict) -> dict:
        img, sample_idx = results['img'], int(results['sample_idx'])
        if self._build is not None:
            num_views, seed = self._build
            views = self.sample_views(img, sample_idx, num_views, seed)
            results['img'] = [self.apply_view(img, v) for v in views]
            results['img_shape'] = results['img'][0].shape
            results['cache_views'] = views
            return results
        cache = self.cache
        view = self.choose_view(sample_idx, cache.num_views)
        record = cache.views(sample_idx)[view]
        results['img'] = self.apply_view(img, record)
        results['img_shape'] = results['img'].shape
        results['flip'] = bool(record[4])
        results['flip_direction'] = 'horizontal' if record[4] else None
        results['cache_view'] = view
        return results

    def __repr__(self):
        return (f'{self.__class__.__name__}(cache_dir={self.cache_dir!r}, '
                f'view_sampling={self.view_sampling!r}, '
                f'spec={self.view_spec()})')
