"""What the cache builder needs from the transform that defines the views.

The builder runs a dataset's pipeline with its view transform in build mode
and records the views; training replays them. The builder only knows this
interface, the transform (``ReplayCachedView`` in
``mmbeamclip.datasets.transforms``) implements it, so the dependency points
one way: datasets -> teacher_cache.
"""
from abc import ABCMeta, abstractmethod

from mmcv.transforms import BaseTransform


class CachedViewRecipe(BaseTransform, metaclass=ABCMeta):
    """A transform whose views a teacher-target cache stores.

    Attributes:
        cache_dir (str): The cache folder it replays from.
    """

    cache_dir: str

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
