"""Data that the stock tools would skip silently or that cannot train.

Applied when ``mmbeamclip`` is imported (as :mod:`mmbeamclip.compat` is),
so every stock tool run with the plugin gets them:

1. mmpretrain's folder dataset (``CustomDataset`` without ``ann_file``)
   reads only files with its ``extensions`` and skips the others without a
   word, so a folder of ``.webp`` or ``.tiff`` images trains on a part of
   the data. The skipped files are counted and warned about, with their
   extensions.
2. A training set smaller than one batch with ``drop_last=True`` gives a
   data loader of length 0: mmengine trains 0 steps (or, iteration-based,
   loops forever) and writes "trained" checkpoints with rc 0. The training
   loops refuse it when they are built.
"""
import collections
import os
import os.path as osp
import warnings

from mmengine.logging import MMLogger
from mmengine.runner.loops import EpochBasedTrainLoop, IterBasedTrainLoop
from mmpretrain.datasets import CustomDataset

_PATCHED = '_mmbeamclip_data_checks'


class SkippedFilesWarning(UserWarning):
    """Files of a dataset folder that the dataset does not read."""


def skipped_files(folder: str, is_valid_file) -> collections.Counter:
    """Count the files under ``folder`` a folder dataset skips, by suffix.

    Args:
        folder (str): The dataset folder (walked like mmpretrain's
            ``get_samples``, following links).
        is_valid_file (Callable[[str], bool]): The dataset's file test.

    Returns:
        Counter: ``{extension: count}`` of the skipped files (hidden files
        are not counted).
    """
    counts = collections.Counter()
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith('.')]
        for name in files:
            if not name.startswith('.') and not is_valid_file(name):
                counts[osp.splitext(name)[1].lower() or '(none)'] += 1
    return counts


def _find_samples(self):
    samples = _find_samples.orig(self)
    if isinstance(self.img_prefix, str) and osp.isdir(self.img_prefix):
        counts = skipped_files(self.img_prefix, self.is_valid_file)
        if counts:
            kinds = ', '.join(f'{n} {ext}'
                              for ext, n in sorted(counts.items()))
            message = (
                f'{self.img_prefix}: {sum(counts.values())} files are not '
                f'read by {type(self).__name__} ({kinds}); it reads only '
                f'{", ".join(self.extensions)}. Convert them (e.g. to .jpg '
                'or .png) or remove them; training uses '
                f'{len(samples)} images.')
            warnings.warn(message, SkippedFilesWarning)
            MMLogger.get_current_instance().warning(message)
    return samples


def check_steps(dataloader):
    """Refuse a training data loader that gives no batch.

    Raises:
        ValueError: With the number of samples, the batch size and what to
            change.
    """
    if len(dataloader) > 0:
        return
    batch = getattr(dataloader, 'batch_size', None)
    raise ValueError(
        f'The training set has {len(dataloader.dataset)} samples, fewer '
        f'than one batch (train_dataloader.batch_size={batch}, '
        'drop_last=True): it would train 0 steps and save an untrained '
        'model. Add images, lower train_dataloader.batch_size, or set '
        'train_dataloader.drop_last=False.')


def _wrap_loop(cls):
    orig = cls.__init__

    def __init__(self, runner, dataloader, *args, **kwargs):
        orig(self, runner, dataloader, *args, **kwargs)
        check_steps(self.dataloader)

    __init__.orig = orig
    cls.__init__ = __init__


def apply():
    """Apply the checks once; later calls are no-ops."""
    if getattr(CustomDataset, _PATCHED, False):
        return
    _find_samples.orig = CustomDataset._find_samples
    CustomDataset._find_samples = _find_samples
    for cls in (EpochBasedTrainLoop, IterBasedTrainLoop):
        _wrap_loop(cls)
    setattr(CustomDataset, _PATCHED, True)
