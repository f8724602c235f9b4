"""What the cache builder needs from the transform that defines the views.

The builder runs a dataset's pipeline with its view transform in build mode
and records the views; training replays them. The builder only knows this
interface, the transform (``ReplayCachedView`` in
``mmbeamclip.datasets.transforms``) implements it, so the dependency points
one way: datasets -> teacher_cache.
"""
import os.path as osp
from abc import ABCMeta, abstractmethod
from typing import List, Optional

from mmcv.transforms import BaseTransform
from mmpretrain.datasets.transforms import PackInputs

from .errors import CacheMismatchError


class CachedViewRecipe(BaseTransform, metaclass=ABCMeta):
    """A transform whose views a teacher-target cache stores.

    Attributes:
        cache_dir (str | None): The cache folder it replays from; None until
            :func:`bind_pipeline` gives it the run's folder.
    """

    cache_dir: Optional[str]

    @abstractmethod
    def view_spec(self) -> dict:
        """The settings that decide the views, as stored in the manifest."""

    @abstractmethod
    def set_build_mode(self, num_views: int, seed: int):
        """Emit all N sampled views of each image (``img`` becomes a list)
        and their records under ``cache_views`` (N, 5)."""

    @abstractmethod
    def set_epoch(self, epoch: int):
        """Select the views of ``epoch`` (training)."""

    @abstractmethod
    def use_cache(self, cache):
        """Replay from an opened, verified :class:`TeacherTargetCache`
        instead of opening ``cache_dir`` again."""

    def bind_cache_dir(self, cache_dir: str):
        """Take the run's cache folder; refuse another one given explicitly.

        Raises:
            CacheMismatchError: The transform names another folder.
        """
        if self.cache_dir is not None and \
                osp.realpath(self.cache_dir) != osp.realpath(cache_dir):
            raise CacheMismatchError(
                f'{type(self).__name__} reads {self.cache_dir!r} but the '
                f'model\'s CachedTeacher reads {cache_dir!r}. Name the '
                'teacher-target cache once, at '
                'model.target_generator.cache_dir, and leave the '
                "transform's cache_dir unset.")
        self.cache_dir = cache_dir


def find_transforms(dataset, cls=CachedViewRecipe) -> list:
    """All transforms of type ``cls`` in a dataset's pipeline.

    Looks through dataset wrappers (``.dataset`` / ``.datasets``) and nested
    ``Compose``-like transforms (``.transforms``).

    Args:
        dataset: An mmengine dataset or wrapper.
        cls (type): Transform class. Defaults to :class:`CachedViewRecipe`
            (i.e. ``ReplayCachedView``).

    Returns:
        list: The matching transform instances.
    """
    found = []

    def visit_transform(t):
        if isinstance(t, cls):
            found.append(t)
        for child in getattr(t, 'transforms', None) or []:
            visit_transform(child)

    def visit_dataset(d):
        if d is None:
            return
        pipeline = getattr(d, 'pipeline', None)
        if pipeline is not None:
            visit_transform(pipeline)
        visit_dataset(getattr(d, 'dataset', None))
        for child in getattr(d, 'datasets', None) or []:
            visit_dataset(child)

    visit_dataset(dataset)
    return found


def bind_pipeline(dataset,
                  cache_dir: Optional[str],
                  cache=None,
                  meta_key: str = 'cache_view') -> List[CachedViewRecipe]:
    """Point a dataset's view transforms at the run's teacher-target cache.

    A config names the teacher-target cache folder once, at
    ``model.target_generator.cache_dir`` (a :class:`CachedTeacher`); its view
    transforms (``ReplayCachedView`` without ``cache_dir``) get it here, the
    one place where the folder is resolved: :class:`CachedViewHook` calls it
    before training, the cache builder before building. ``meta_key`` is
    added to the ``meta_keys`` of the pipeline's ``PackInputs``, so the
    replayed view reaches the model without a hand-written key list.

    Args:
        dataset: The training dataset (or a wrapper of it).
        cache_dir (str | None): The run's cache folder. None (a teacher that
            is not cached) keeps each transform's own folder.
        cache (TeacherTargetCache, optional): The cache, already opened and
            verified (by the :class:`CachedTeacher`); the transforms replay
            from it instead of opening the folder again.
        meta_key (str): ``'cache_view'`` (training: the replayed view) or
            ``'cache_views'`` (building: the records of all views).

    Returns:
        list[CachedViewRecipe]: The bound transforms.

    Raises:
        ValueError: The pipeline has no view transform, or one has no
            folder.
        CacheMismatchError: A transform names another folder than
            ``cache_dir``.
    """
    replays = find_transforms(dataset)
    if not replays:
        raise ValueError(
            'The training pipeline has no ReplayCachedView, so nothing '
            'replays the cached views.')
    for replay in replays:
        if cache_dir is not None:
            replay.bind_cache_dir(cache_dir)
        elif replay.cache_dir is None:
            raise ValueError(
                f'{type(replay).__name__} has no cache_dir and the model\'s '
                'target_generator is not a CachedTeacher to take it from: '
                'set model.target_generator.cache_dir (CachedTeacher).')
        if cache is not None:
            replay.use_cache(cache)
    for pack in find_transforms(dataset, PackInputs):
        if meta_key not in pack.meta_keys:
            pack.meta_keys = tuple(pack.meta_keys) + (meta_key, )
    return replays
