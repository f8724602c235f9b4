from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS
from mmpretrain.utils import get_ori_model

from mmbeamclip.datasets.transforms import ReplayCachedView, find_transforms
from mmbeamclip.models.teachers import CachedTeacher
from mmbeamclip.teacher_cache import bind_pipeline, dataset_fingerprint


@HOOKS.register_module()
class CachedViewHook(Hook):
    """Bind the replayed views to the teacher-target cache, check it against
    the run and publish the epoch.

    Before training it gives every :class:`ReplayCachedView` the folder and
    the opened cache of the model's :class:`CachedTeacher` (a transform that
    names another folder is refused), adds ``cache_view`` to the
    ``meta_keys`` of ``PackInputs`` (see
    :func:`mmbeamclip.teacher_cache.bind_pipeline`), and refuses a cache
    whose manifest does not match the training dataset (file list), the
    view recipe or the teacher. This happens before an epoch-based loop
    starts its data-loader workers, so they inherit it. Before every epoch
    it tells each :class:`ReplayCachedView` the epoch, which selects the
    replayed view (``view_sampling='epoch'``); the epoch lives in shared
    memory, so persistent workers see it too. A cached run needs this hook:
    without it :class:`ReplayCachedView` refuses to produce samples, so a
    cache is never trained from unchecked.

    Args:
        check_dataset (bool): Hash the training file list and compare it
            with the manifest (one pass over the file list).
            Defaults to True.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, check_dataset: bool = True):
        self.check_dataset = check_dataset

    def before_train(self, runner):
        loader = runner.train_dataloader
        if hasattr(runner.train_loop, 'dataloader_iterator') and \
                getattr(loader, 'num_workers', 0) > 0:
            # IterBasedTrainLoop starts its workers when it is built, before
            # any hook, so they would miss the folder and the epoch.
            raise ValueError(
                'CachedViewHook: an iteration-based train loop starts its '
                'data-loader workers before hooks run; train from a '
                'teacher-target cache with EpochBasedTrainLoop (or '
                'num_workers=0).')
        teacher = get_ori_model(runner.model).target_generator
        cached = isinstance(teacher, CachedTeacher)
        replays = bind_pipeline(
            loader.dataset,
            teacher.cache_dir if cached else None,
            cache=teacher.cache if cached else None)
        fingerprint = dataset_fingerprint(loader.dataset) \
            if self.check_dataset else None
        caches = {id(r.cache): r.cache for r in replays}  # checks the recipe
        for cache in caches.values():
            cache.check(
                teacher_id=getattr(teacher, 'teacher_id', None),
                dataset=fingerprint)
        runner.logger.info('Teacher-target cache matches the training '
                           'dataset, views and teacher.')

    def before_train_epoch(self, runner):
        for transform in find_transforms(runner.train_dataloader.dataset,
                                         ReplayCachedView):
            transform.set_epoch(runner.epoch)
