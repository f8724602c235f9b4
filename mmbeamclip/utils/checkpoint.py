"""Safe checkpoint loading.

mmengine checkpoints are pickles. ``torch.load(weights_only=True)`` refuses
every global that is not a tensor type or plain Python data, so a crafted
file cannot run code; mmengine's ``message_hub`` however stores
``HistoryBuffer`` objects holding numpy arrays and scalars, which the
weights-only unpickler refuses too (open-mmlab/mmengine#1655). The
allow-list below is exactly what a checkpoint saved by mmengine's runner
holds beyond that, found with
``torch.serialization.get_unsafe_globals_in_checkpoint``.
"""
import os.path as osp
import pickle
from collections import OrderedDict

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

# The functions numpy pickles arrays and scalars with; asked from numpy
# itself because 2.0 moved them from ``numpy.core`` to ``numpy._core``.
_NUMPY_RECONSTRUCT = np.ndarray(0).__reduce__()[0]
_NUMPY_SCALAR = np.float64(0).__reduce__()[0]
# mmengine pickles each HistoryBuffer's statistic methods as
# ``getattr(HistoryBuffer, 'mean')``; only these lookups are allowed.
_HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_getattr(obj, name):
    """``getattr`` as the unpickler may call it: HistoryBuffer methods only.

    A general ``getattr`` would let a crafted pickle walk from an allowed
    class to arbitrary objects.
    """
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'getattr({getattr(obj, "__name__", type(obj).__name__)}, '
        f'{name!r}) is not an mmengine checkpoint lookup')


def _empty_bytes(*args):
    """``bytes`` as the unpickler may call it: ``bytes()`` only.

    Pickle protocol 2 (torch's) writes an empty ``bytes`` object, e.g. the
    data of an empty numpy array, as the call ``bytes()``; non-empty ones go
    through ``_codecs.encode``, which torch allows. ``bytes(n)`` would let a
    crafted file allocate any amount of memory, so arguments are refused.
    """
    if args:
        raise pickle.UnpicklingError(
            f'bytes{args!r} is not an mmengine checkpoint value (only the '
            'empty bytes() of an empty numpy array is)')
    return b''


def _numpy_dtype_classes():
    # numpy>=1.25 may pickle a dtype through its class (numpy.dtypes.*).
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is None:
        return []
    return [type(np.dtype(c)) for c in '?bBhHiIlLqQefdgFDG']


CHECKPOINT_SAFE_GLOBALS = [
    HistoryBuffer,
    (_history_buffer_getattr, 'builtins.getattr'),
    (_empty_bytes, 'builtins.bytes'),
    np.ndarray,
    np.dtype,
    _NUMPY_RECONSTRUCT,
    _NUMPY_SCALAR,
    OrderedDict,
] + _numpy_dtype_classes()


def _torch_reason(exc: Exception) -> str:
    """The line of torch's weights-only error that names the culprit."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if ('GLOBAL' in line or 'Unsupported' in line
                or 'unrecognized function' in line or 'getattr' in line
                or 'Can only' in line
                or 'not an mmengine checkpoint' in line):
            # torch goes on to suggest allow-listing it: not for us.
            return line.split('. Please use')[0].replace(
                'WeightsUnpickler error: ', '')
    return lines[-1] if lines else type(exc).__name__


def load_checkpoint(filename: str, map_location='cpu'):
    """``torch.load`` a checkpoint without letting it run code.

    Args:
        filename (str): A ``.pth`` file saved by torch or mmengine.
        map_location (str | torch.device | callable | None): As in
            ``torch.load``. Defaults to ``'cpu'``.

    Returns:
        dict | OrderedDict: The checkpoint.

    Raises:
        FileNotFoundError: ``filename`` is not a file.
        pickle.UnpicklingError: The file holds objects other than tensors,
            plain Python data, numpy arrays and mmengine's HistoryBuffer,
            e.g. a crafted pickle that would run a command.
        ValueError: The file is not a torch checkpoint at all (a text file,
            a truncated download).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    with open(filename, 'rb') as f:
        head = f.read(4)
    # torch.save writes a zip archive, or (legacy) a pickle: b'\x80'.
    if not (head.startswith(b'PK\x03\x04') or head.startswith(b'\x80')):
        raise ValueError(
            f'{filename} is not a torch checkpoint (empty, text or another '
            f'kind of file: it starts with {head!r})')
    try:
        with torch.serialization.safe_globals(CHECKPOINT_SAFE_GLOBALS):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if 'Weights only load failed' not in str(exc):
            raise ValueError(
                f'{filename} is not a torch checkpoint: {exc}') from exc
        raise pickle.UnpicklingError(
            f'Refused to load {filename}: it holds objects that a '
            'checkpoint does not need, so loading it could run code '
            f'({_torch_reason(exc)}). Checkpoints are loaded with '
            'torch.load(weights_only=True) allowing tensors, plain Python '
            'data, numpy arrays and mmengine\'s HistoryBuffer only. If you '
            'trust this file, convert it once with torch.load(..., '
            'weights_only=False) and torch.save its state_dict.') from None
    except (RuntimeError, EOFError, KeyError, OSError, ValueError) as exc:
        raise ValueError(
            f'{filename} is not a torch checkpoint (empty, truncated or '
            f'another kind of file): {type(exc).__name__}: '
            f'{str(exc).splitlines()[0] if str(exc) else ""}') from exc


def load_from_local(filename, map_location):
    """mmengine's local checkpoint loader, loading safely.

    Registered for every local path (``load_from``, ``--resume``,
    ``tools/test.py``, ``Pretrained`` init) when mmbeamclip is imported.

    Args:
        filename (str): Path to a checkpoint.
        map_location (str | torch.device | None): Where to load tensors.

    Returns:
        dict | OrderedDict: The loaded checkpoint.
    """
    return load_checkpoint(filename, map_location=map_location)
