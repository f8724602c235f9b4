"""One training run per work dir: a lock file with the owner's pid and host.

Two runs into one ``--work-dir`` would interleave their checkpoints,
``last_checkpoint`` and logs (epoch 1 of one run, epoch 2 of the other),
both with rc 0. :mod:`mmbeamclip.compat` wraps ``Runner.train`` so that
training takes ``<work_dir>/train.lock`` first and gives it back when it
ends, also on failure. A lock whose process is gone (same host, pid dead or
reused) is stale: it is taken over with a warning.
"""
import json
import os
import os.path as osp
import socket
import tempfile
import time
import warnings
from typing import Optional

LOCK_FILE = 'train.lock'


class WorkDirInUseError(RuntimeError):
    """Another live run holds the work dir's lock."""


def _start_time(pid: int) -> Optional[str]:
    """The kernel's start time of ``pid`` (tells a reused pid apart)."""
    try:
        with open(f'/proc/{pid}/stat', encoding='utf-8') as f:
            return f.read().rsplit(')', 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(owner: dict) -> bool:
    pid = owner.get('pid')
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    started = owner.get('started')
    return started is None or _start_time(pid) in (None, started)


def _describe(owner: dict) -> str:
    when = owner.get('since')
    since = (time.strftime(' since %Y-%m-%d %H:%M:%S', time.localtime(when))
             if isinstance(when, (int, float)) else '')
    return (f"pid {owner.get('pid')} on host {owner.get('host')!r}{since}")


def _read(path: str) -> Optional[dict]:
    try:
        with open(path, encoding='utf-8') as f:
            owner = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise WorkDirInUseError(
            f'The work dir lock {path} cannot be read ({e}); if no training '
            'runs in this work dir, delete it and run again.') from e
    return owner if isinstance(owner, dict) else {}


def acquire(work_dir: str) -> str:
    """Take ``<work_dir>/train.lock`` for this process.

    Args:
        work_dir (str): The run's work dir (created if missing).

    Returns:
        str: The lock file, for :func:`release`.

    Raises:
        WorkDirInUseError: A live run (or one on another host, whose state
            cannot be checked) holds the lock.
    """
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, LOCK_FILE)
    me = dict(pid=os.getpid(), host=socket.gethostname(),
              started=_start_time(os.getpid()), since=time.time())
    fd, tmp = tempfile.mkstemp(dir=work_dir, prefix='.', suffix='.lock')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(me, f)
        for _ in range(3):
            try:
                # A hard link appears whole and fails if the lock exists.
                os.link(tmp, path)
                return path
            except FileExistsError:
                pass
            owner = _read(path)
            if owner is None:
                continue  # released meanwhile
            if owner.get('host') != me['host'] or _alive(owner):
                raise WorkDirInUseError(
                    f'The work dir {work_dir} is in use by another training '
                    f'run ({_describe(owner)}; lock {path}). Wait for it, '
                    'or choose another --work-dir; if that run is gone, '
                    'delete the lock file.')
            warnings.warn(
                f'Taking over the stale lock {path} of a run that is gone '
                f'({_describe(owner)}).')
            os.remove(path)
        raise WorkDirInUseError(
            f'Could not take the work dir lock {path}: other runs keep '
            'taking it. Run one training per --work-dir.')
    finally:
        os.remove(tmp)


def release(path: str):
    """Remove the lock if this process still holds it."""
    try:
        with open(path, encoding='utf-8') as f:
            owner = json.load(f)
    except (OSError, ValueError):
        return
    if isinstance(owner, dict) and owner.get('pid') == os.getpid():
        os.remove(path)
