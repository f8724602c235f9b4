"""Files that are never half-written and that teammates can read.

Prompt banks, teacher-target shards, staged teachers and checkpoints are
written to a temporary sibling and renamed into place, so a crash never
leaves a truncated file under the final name. ``tempfile`` creates its files
0600 and folders 0700; the final permissions follow the umask instead, as
for any ``open(path, 'w')``, so caches under a shared folder stay readable
by the team.
"""
import contextlib
import errno
import hashlib
import io
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import IO, Callable, Dict, Iterator, Optional

import torch

CACHE_ENV = 'MMBEAMCLIP_CACHE'


def cache_root(*parts: str) -> str:
    """``$MMBEAMCLIP_CACHE/<parts>``, else ``~/.cache/mmbeamclip/<parts>``.

    Args:
        *parts (str): Sub-folders, e.g. ``'prompt_banks'``.

    Returns:
        str: The absolute, user-expanded path (not created).
    """
    root = os.environ.get(CACHE_ENV, osp.join('~', '.cache', 'mmbeamclip'))
    return osp.abspath(osp.join(osp.expanduser(root), *parts))


def sha256_file(path: str, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a whole file, read in chunks (any size, constant memory).

    Args:
        path (str): The file.
        chunk_size (int): Bytes per read. Defaults to 1 MiB.

    Returns:
        str: The hex digest.
    """
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(chunk_size), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _umask() -> int:
    # The only portable way to read the umask is to set it.
    mask = os.umask(0)
    os.umask(mask)
    return mask


NO_SPACE = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


class WriteError(OSError):
    """A file could not be written (full disk, file-size limit, read-only
    folder); the file that was there before is unchanged."""

    def __str__(self):
        return self.strerror  # one line; the errno is in ``self.errno``


def write_error(path: str, exc: OSError) -> WriteError:
    """A one-line :class:`WriteError` naming ``path`` and why it failed."""
    reason = exc.strerror or str(exc)
    name = errno.errorcode.get(exc.errno, '') if exc.errno else ''
    hint = ('free some space or raise the file-size limit (ulimit -f)'
            if exc.errno in NO_SPACE else
            'make the folder writable or choose another path')
    return WriteError(
        exc.errno, f'Could not write {path}: {reason}'
        f'{f" ({name})" if name else ""}; any previous file there is '
        f'unchanged. To fix: {hint}, then run again.')


class _Stream:
    """A file object numpy does not recognise as a real file: it then
    writes through ``write`` (an ``OSError`` with its errno) instead of
    ``tofile``, which reports a full disk as "N requested and M written"."""

    def __init__(self, f):
        self._f = f

    def write(self, data):
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)


def atomic_write(path: str, write: Callable[[IO[bytes]], None]):
    """Write a file through ``write(f)`` into a temp file, then rename it.

    The data is fsync'ed before the rename, so after a crash or a full disk
    the file holds either its old or its new content, never part of it.

    Args:
        path (str): Destination; its folder is created.
        write (Callable): Called with a binary file object.

    Raises:
        WriteError: The write failed (an ``OSError`` naming ``path``).
    """
    tmp = None
    try:
        folder = osp.dirname(osp.abspath(path))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix='.', suffix='.tmp')
        with os.fdopen(fd, 'wb') as f:
            write(_Stream(f))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None and osp.exists(tmp):
            os.remove(tmp)
        if isinstance(e, OSError) and not isinstance(e, WriteError):
            raise write_error(path, e) from e
        raise


def atomic_write_text(path: str, text: str):
    """Write UTF-8 text through :func:`atomic_write`."""
    data = text.encode('utf-8')
    atomic_write(path, lambda f: f.write(data))


def atomic_torch_save(obj, path: str):
    """``torch.save`` through :func:`atomic_write`."""
    # Serialised in memory first: torch's zip writer turns a failed write
    # into a RuntimeError without errno, the file write keeps the OSError.
    with io.BytesIO() as buffer:
        torch.save(obj, buffer)
        data = buffer.getvalue()
    atomic_write(path, lambda f: f.write(data))


@contextlib.contextmanager
def atomic_dir(out_dir: str) -> Iterator[str]:
    """Fill a folder under a temporary name, then rename it into place.

    Example:
        >>> with atomic_dir('/shared/clip/vit-b16') as tmp:
        ...     write_files_into(tmp)

    Args:
        out_dir (str): The folder to create; it must not exist.

    Yields:
        str: The temporary folder to fill.

    Raises:
        FileExistsError: ``out_dir`` exists.
    """
    if osp.exists(out_dir):
        raise FileExistsError(f'{out_dir} exists; remove it or pick another')
    parent = osp.dirname(osp.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix='.tmp-')
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        os.rename(tmp, out_dir)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError) and e.errno in NO_SPACE:
            raise write_error(out_dir, e) from e
        raise


def _same_path(a: str, b: str) -> bool:
    a, b = osp.abspath(osp.expanduser(a)), osp.abspath(osp.expanduser(b))
    if a == b or osp.realpath(a) == osp.realpath(b):
        return True
    try:  # a hard link, or another spelling through a bind mount
        return osp.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def check_not_input(out: Optional[str],
                    inputs: Dict[str, Optional[str]],
                    parser=None):
    """Refuse an output path that is one of a tool's inputs.

    Compared by path, through links (``realpath``) and by inode
    (``samefile``), so a symlink, a hard link or another spelling of the
    input is refused too.

    Args:
        out (str | None): The path the tool would write (None: no output).
        inputs (dict[str, str | None]): ``{what: path}`` of the inputs,
            e.g. ``{'checkpoint': 'epoch_1.pth'}``; None values are skipped.
        parser (argparse.ArgumentParser, optional): A tool's parser: exit
            through it with one line (status 2) instead of raising.

    Raises:
        ValueError: ``out`` is one of ``inputs``; the message names both.
    """
    if not out:
        return
    for what, path in inputs.items():
        if path and _same_path(out, path):
            message = (f'{out} is the input {what} {path}; writing there '
                       'would destroy it. Pick another output path.')
            if parser is not None:
                parser.exit(2, f'{parser.prog}: error: {message}\n')
            raise ValueError(message)


def loads_json(text: str, source: str):
    """``json.loads`` whose every failure is one ``ValueError`` line.

    Args:
        text (str): JSON text.
        source (str): Where it came from (a file, an option), named in the
            error.

    Raises:
        ValueError: ``text`` is not JSON, or is nested so deeply that the
            parser would raise ``RecursionError`` (a crafted file).
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f'{source} is not valid JSON: {exc}') from None
    except RecursionError:
        raise ValueError(
            f'{source} is not valid JSON: it is nested too deeply to '
            'read (RecursionError)') from None


def read_json(path: str):
    """A JSON file, read with :func:`loads_json` (UTF-8).

    Raises:
        ValueError: The file is not UTF-8 or not JSON, or nests too deep.
        OSError: The file cannot be read.
    """
    try:
        with open(path, encoding='utf-8') as f:
            text = f.read()
    except UnicodeDecodeError as exc:
        raise ValueError(
            f'{path} is not valid JSON: not UTF-8 text ({exc.reason} at '
            f'byte {exc.start})') from None
    return loads_json(text, path)
