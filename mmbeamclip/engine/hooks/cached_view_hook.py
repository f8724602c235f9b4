from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS
from mmpretrain.utils import get_ori_model

from mmbeamclip.datasets.transforms import ReplayCachedView, find_transforms
from mmbeamclip.teacher_cache import CacheMismatchError, dataset_fingerprint


@HOOKS.register_module()
class CachedViewHook(Hook):
    """Check a teacher-target cache against the run and publish the epoch.

    Before training it refuses a cache whose manifest does not match the
    training dataset (file list), the replay transform's view recipe or the
    teacher, and checks that the transform and the :class:`CachedTeacher`
    read the same cache. Before every epoch it tells each
    :class:`ReplayCachedView` the epoch, which selects the replayed view
    (``view_sampling='epoch'``); the epoch lives in shared memory, so
    persistent data-loader workers see it too. A cached run needs this hook:
    without a published epoch :class:`ReplayCachedView` refuses to produce
    samples, so a cache is never trained from unchecked.

    Args:
        check_dataset (bool): Hash the training file list and compare it
            with the manifest (one pass over the file list).
            Defaults to True.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, check_dataset: bool = True):
        self.check_dataset = check_dataset

    def _transforms(self, runner):
        dataset = runner.train_dataloader.dataset
        transforms = find_transforms(dataset, ReplayCachedView)
        if not transforms:
            raise ValueError(
                'CachedViewHook: the training pipeline has no '
                'ReplayCachedView, so nothing replays the cached views.')
        return transforms

    def before_train(self, runner):
        dataset = runner.train_dataloader.dataset
        teacher = get_ori_model(runner.model).target_generator
        teacher_dir = getattr(teacher, 'cache_dir', None)
        fingerprint = dataset_fingerprint(dataset) \
            if self.check_dataset else None
        for transform in self._transforms(runner):
            cache = transform.cache  # checks the view recipe
            if teacher_dir is not None and cache.manifest != \
                    teacher.cache.manifest:
                raise CacheMismatchError(
                    f'ReplayCachedView reads {transform.cache_dir} but the '
                    f'CachedTeacher reads {teacher_dir}: point both at the '
                    'same cache.')
            cache.check(
                teacher_id=getattr(teacher, 'teacher_id', None),
                dataset=fingerprint)
        runner.logger.info('Teacher-target cache matches the training '
                           'dataset, views and teacher.')

    def before_train_epoch(self, runner):
        for transform in self._transforms(runner):
            transform.set_epoch(runner.epoch)
