"""Checkpoints that a full disk or a crash cannot truncate (mmengine patch).

mmengine 0.10.7 writes checkpoints in place: ``save_checkpoint`` hands the
bytes to ``LocalBackend.put`` (``open(path, 'wb')``), ``CheckpointHook``
writes ``last_checkpoint`` with ``open(path, 'w')`` and, with
``max_keep_ckpts`` or ``save_best``, removes the old checkpoint *before*
the new one is written. A write that fails half-way (full disk, file-size
limit, killed job) then leaves a truncated file under the final name, or no
good checkpoint at all. :func:`apply` (called by :mod:`mmbeamclip.compat`)
makes every local write go through :func:`~.fileio.atomic_write` and defers
the removals until the new checkpoint is on disk.
"""
import builtins
import io

from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import checkpoint_hook
from mmengine.hooks.checkpoint_hook import CheckpointHook

from .fileio import atomic_write


def _put(self, obj: bytes, filepath):
    atomic_write(str(filepath), lambda f: f.write(obj))


def _put_text(self, obj: str, filepath, encoding: str = 'utf-8'):
    data = obj.encode(encoding)
    atomic_write(str(filepath), lambda f: f.write(data))


class _AtomicTextFile(io.StringIO):
    """What ``open(path, 'w')`` returns in mmengine's checkpoint hook: the
    text is written atomically when the file is closed without error."""

    def __init__(self, path: str, encoding: str = 'utf-8'):
        super().__init__()
        self._path, self._codec = path, encoding

    def __exit__(self, exc_type, *args):
        if exc_type is None:
            data = self.getvalue().encode(self._codec)
            atomic_write(self._path, lambda f: f.write(data))
        return super().__exit__(exc_type, *args)


def _open(file, mode='r', *args, encoding=None, **kwargs):
    if mode == 'w' and isinstance(file, str) and not args and not kwargs:
        return _AtomicTextFile(file, encoding or 'utf-8')
    return builtins.open(file, mode, *args, encoding=encoding, **kwargs)


class _DeferredRemoval:
    """A file backend whose ``remove``/``rmtree`` wait for :meth:`commit`."""

    def __init__(self, backend):
        self.backend, self.pending = backend, []

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def remove(self, path):
        self.pending.append((self.backend.remove, path))

    def rmtree(self, path):
        self.pending.append((self.backend.rmtree, path))

    def commit(self, keep):
        for remove, path in self.pending:
            if path not in keep:
                remove(path)


def _keep_old_until_saved(method):
    """Run a CheckpointHook save method, removing old checkpoints only once
    the new one is written (never if the save fails)."""

    def wrapper(self, *args, **kwargs):
        backend = self.file_backend
        deferred = self.file_backend = _DeferredRemoval(backend)
        try:
            result = method(self, *args, **kwargs)
        finally:
            self.file_backend = backend
        keep = {self.last_ckpt, getattr(self, 'best_ckpt_path', None)}
        keep.update(getattr(self, 'best_ckpt_path_dict', {}).values())
        deferred.commit(keep)
        return result

    wrapper.__wrapped__ = method
    return wrapper


def apply():
    """Patch mmengine's local writes and CheckpointHook (idempotent)."""
    if getattr(CheckpointHook, '_mmbeamclip_atomic', False):
        return
    LocalBackend.put = _put
    LocalBackend.put_text = _put_text
    # CheckpointHook writes last_checkpoint with the builtin open; a module
    # global of that name shadows it for that module only.
    checkpoint_hook.open = _open
    for name in ('_save_checkpoint_with_step', '_save_best_checkpoint'):
        setattr(CheckpointHook, name,
                _keep_old_until_saved(getattr(CheckpointHook, name)))
    CheckpointHook._mmbeamclip_atomic = True
