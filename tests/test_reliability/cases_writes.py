"""Bad-input rows: writes that could destroy a file (issue 19).

Each write runs under a real file-size limit (``RLIMIT_FSIZE``, with
``SIGXFSZ`` ignored so the write fails with ``EFBIG`` as on a full disk)
over a previous good file, which must stay readable. The same faults go
through the stock tools in ``tests/test_tools/test_train_writes.py``.
"""
import contextlib
import json
import os
import os.path as osp
import resource
import signal
import socket
import subprocess
from collections import deque
from types import SimpleNamespace

import numpy as np
import torch
from case import Case
from mmengine.fileio import get_file_backend
from mmengine.hooks import CheckpointHook, checkpoint_hook
from mmengine.logging import MessageHub
from mmengine.runner.checkpoint import save_checkpoint

import mmbeamclip  # noqa: F401  (applies the atomic-write patches)
from mmbeamclip.prompts import load_or_build_prompt_bank, save_prompt_bank
from mmbeamclip.prompts.wordnet import write_contexts_file
from mmbeamclip.teacher_cache.layout import (read_manifest, shard_path,
                                             write_manifest, write_shard)
from mmbeamclip.utils import WriteError, work_dir_lock

# Above anything pytest itself writes during a row; below what rows write.
LIMIT = 1 << 20
BIG = torch.zeros(1 << 19)  # 2 MiB of float32


@contextlib.contextmanager
def file_size_limit(limit=LIMIT):
    """A soft file-size limit for this process, restored afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def _kept(path, check):
    """Run a write; afterwards ``path`` still holds its old bytes and
    ``check(path)`` reads it."""

    def wrap(write):

        def run(ctx):
            data = open(path(ctx), 'rb').read()
            try:
                with file_size_limit():
                    write(ctx)
            finally:
                assert open(path(ctx), 'rb').read() == data, 'file damaged'
                check(path(ctx))
                left = [n for n in os.listdir(osp.dirname(path(ctx)))
                        if n.endswith('.tmp')]
                assert not left, f'temporary files left: {left}'

        return run

    return wrap


def _ckpt(ctx):
    path = str(ctx.tmp_path / 'epoch_1.pth')
    if not osp.exists(path):
        torch.save({'state_dict': {'w': torch.ones(2)}}, path)
    return path


def _load(path):
    torch.load(path, map_location='cpu', weights_only=True)


@_kept(_ckpt, _load)
def _save_over_checkpoint(ctx):
    save_checkpoint({'state_dict': {'w': BIG}}, _ckpt(ctx))


def _last(ctx):
    path = str(ctx.tmp_path / 'last_checkpoint')
    if not osp.exists(path):
        with open(path, 'w') as f:
            f.write(_ckpt(ctx))
    return path


@_kept(_last, lambda p: None)
def _write_last_checkpoint(ctx):
    # What CheckpointHook does after each save (its module's `open`).
    with checkpoint_hook.open(_last(ctx), 'w') as f:
        f.write('x' * (LIMIT + 1))


@_kept(_ckpt, _load)
def _max_keep_removal(ctx):
    hook = CheckpointHook(interval=1, max_keep_ckpts=1)
    hook.out_dir = str(ctx.tmp_path)
    hook.file_backend = get_file_backend(hook.out_dir)
    hook.keep_ckpt_ids = deque([1], 1)
    runner = SimpleNamespace(
        work_dir=hook.out_dir,
        message_hub=MessageHub.get_instance('cases-writes'),
        save_checkpoint=lambda out_dir, name, *a, **k: save_checkpoint(
            {'state_dict': {'w': BIG}}, osp.join(out_dir, name)))
    # Epoch 2 fails to save: mmengine removed epoch 1 before writing it.
    hook._save_checkpoint_with_step(runner, 2, meta={})


class _Teacher:
    teacher_id = 'cases-writes'

    def encode_text(self, texts):
        return torch.nn.functional.normalize(
            torch.randn(len(texts), BIG.numel() // 2), dim=-1)


def _bank(ctx):
    path = str(ctx.tmp_path / 'banks' / 'prompt_bank_k.pth')
    if not osp.exists(path):
        # A good bank of other prompts: the next run rebuilds and rewrites.
        save_prompt_bank(path, torch.eye(2), torch.arange(2), key='old')
    return path


@_kept(_bank, _load)
def _rewrite_bank(ctx):
    load_or_build_prompt_bank(
        _Teacher(), [['a cat'], ['a dog']], key='k',
        cache_dir=osp.dirname(_bank(ctx)), progress=False)


def _shard(ctx):
    path = shard_path(str(ctx.tmp_path / 'cache'), 0, 'emb')
    if not osp.exists(path):
        write_shard(osp.dirname(path), 0, _unit((2, 1, 8)),
                    np.zeros((2, 1, 5), np.int32))
    return path


def _unit(shape):
    emb = np.random.randn(*shape)
    return (emb / np.linalg.norm(emb, axis=-1, keepdims=True)).astype(
        np.float16)


@_kept(_shard, lambda p: np.load(p))
def _rewrite_shard(ctx):
    rows = 1 << 16
    write_shard(osp.dirname(_shard(ctx)), 0, _unit((rows, 1, 8)),
                np.zeros((rows, 1, 5), np.int32))


def _manifest(ctx):
    folder = str(ctx.tmp_path / 'cache')
    if read_manifest(folder) is None:
        write_manifest(folder, dict(complete=False))
    return osp.join(folder, 'manifest.json')


@_kept(_manifest, lambda p: read_manifest(osp.dirname(p)))
def _rewrite_manifest(ctx):
    write_manifest(osp.dirname(_manifest(ctx)),
                   dict(complete=False, pad='x' * LIMIT))


def _contexts(ctx):
    path = str(ctx.tmp_path / 'vocabulary.json')
    if not osp.exists(path):
        write_contexts_file(path, {'n1': dict(name='cat')})
    return path


@_kept(_contexts, lambda p: json.load(open(p)))
def _rewrite_contexts(ctx):
    records = {f'n{i}': dict(name='x' * 64) for i in range(LIMIT // 64)}
    write_contexts_file(_contexts(ctx), records)


def _big_config(ctx):
    from mmbeamclip.utils import load_tool_config
    path = ctx.tmp_path / 'big_config.py'
    # mmengine parses a temporary copy of the config, in TMPDIR.
    path.write_text('x = 1\n#' + 'x' * LIMIT + '\n')
    with file_size_limit():
        load_tool_config(str(path))


def _lock(owner):

    def run(ctx):
        work_dir = str(ctx.tmp_path / 'work')
        os.makedirs(work_dir)
        path = osp.join(work_dir, 'train.lock')
        with open(path, 'w') as f:
            f.write(owner(ctx) if callable(owner) else owner)
        lock = work_dir_lock.acquire(work_dir)
        # Taken over: this process now holds it, and releases it.
        assert json.load(open(lock))['pid'] == os.getpid()
        work_dir_lock.release(lock)
        assert not osp.exists(lock)

    return run


def _owner(pid=None, host=None):

    def make(ctx):
        if pid is None:
            proc = subprocess.Popen(['true'])
            proc.wait()
        return json.dumps(dict(pid=pid or proc.pid,
                               host=host or socket.gethostname()))

    return make


FULL = ('could not write', 'file too large', 'unchanged')
CASES = [
    Case('checkpoint-full-disk', 'data-loss', _save_over_checkpoint,
         WriteError, FULL + ('epoch_1.pth', ),
         what='a checkpoint saved over a good `epoch_1.pth` (a retrain into '
         'the same work dir) hits a full disk: mmengine wrote in place and '
         'left it truncated; now a temp file is renamed, the old file is '
         'kept and the error names it'),
    Case('last-checkpoint-full-disk', 'data-loss', _write_last_checkpoint,
         WriteError, FULL + ('last_checkpoint', ),
         what='`last_checkpoint` written on a full disk: was emptied in '
         'place (a `--resume` then finds nothing); now kept'),
    Case('max-keep-ckpts-full-disk', 'data-loss', _max_keep_removal,
         WriteError, FULL + ('epoch_2.pth', ),
         what='`max_keep_ckpts=1` and the next checkpoint hits a full disk: '
         'mmengine removed `epoch_1.pth` before writing `epoch_2.pth`, '
         'leaving no checkpoint; old ones are now removed only once the new '
         'one is written'),
    Case('prompt-bank-full-disk', 'handled', _rewrite_bank, UserWarning,
         FULL + ('prompt_bank_k.pth', 'in memory'),
         what='a prompt bank rebuilt over an older one on a full disk: the '
         'old file is kept, training goes on with the bank in memory, and '
         'the warning names the file and the reason'),
    Case('cache-shard-full-disk', 'traceback', _rewrite_shard, WriteError,
         FULL + ('shard_00000', ),
         what='a teacher-target shard rewritten on a full disk: the old '
         'shard is kept (already atomic); the error now names the shard '
         'instead of a bare `[Errno 27] File too large`'),
    Case('cache-manifest-full-disk', 'traceback', _rewrite_manifest,
         WriteError, FULL + ('manifest.json', ),
         what='the cache manifest rewritten on a full disk: kept, the error '
         'names it'),
    Case('contexts-file-full-disk', 'data-loss', _rewrite_contexts,
         WriteError, FULL + ('vocabulary.json', ),
         what='`tools/build_vocabulary.py` / `generate_contexts.py --out` '
         'over an existing file on a full disk: was truncated in place, now '
         'kept (also `knn_eval.py --out`, `ambiguity_report.py --out`)'),
    Case('config-copy-full-disk', 'traceback', _big_config, WriteError,
         ('could not write', 'temporary copy', 'big_config.py',
          'file too large'),
         what='a full TMPDIR while mmengine writes its temporary copy of '
         'the config (`Config.fromfile`, through our tools and '
         '`tools/train.py` / `test.py`): one line naming the copy and the '
         'config, not a bare `OSError: [Errno 27] File too large`'),
    Case('work-dir-locked', 'data-loss', _lock(_owner(pid=os.getpid())),
         work_dir_lock.WorkDirInUseError,
         ('in use', f'pid {os.getpid()}', 'train.lock', 'another --work-dir'),
         what='a second training into a work dir whose lock a live process '
         'of this host holds: refused (both ran with rc 0 and interleaved '
         'checkpoints and logs)'),
    Case('work-dir-lock-stale', 'handled', _lock(_owner()), UserWarning,
         ('stale lock', 'train.lock'),
         what='a lock left by a run that is gone (dead pid on this host): '
         'taken over with a warning naming it'),
    Case('work-dir-lock-other-host', 'data-loss',
         _lock(_owner(pid=1, host='elsewhere')),
         work_dir_lock.WorkDirInUseError, ('elsewhere', 'delete the lock'),
         what='a lock held from another host (a shared file system), whose '
         'process cannot be checked: refused, saying to delete the lock '
         'if that run is gone'),
    Case('work-dir-lock-garbage', 'handled', _lock('{not json'),
         work_dir_lock.WorkDirInUseError, ('cannot be read', 'train.lock'),
         what='an unreadable lock file: refused with the file named and '
         'what to do'),
]
