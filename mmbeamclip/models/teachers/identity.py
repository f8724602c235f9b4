"""Teacher identity: what keys prompt banks and teacher-target caches.

Two teachers get the same id only if they compute the same function: same
architecture, same weight bytes, same precision. Weight files are hashed
whole (a fine-tuned teacher of the same shape differs anywhere in the file),
once per process and file version.
"""
import hashlib
import json
import os
import os.path as osp
from typing import Dict, Optional, Tuple

import open_clip

from mmbeamclip.utils.fileio import sha256_file
from mmbeamclip.utils.local_dir import (CONFIG_FILE, LOCAL_DIR_PREFIX,
                                        loaded_files)

# The precisions open_clip's create_model understands.
PRECISIONS = ('fp32', 'fp16', 'bf16', 'pure_fp16', 'pure_bf16')

_DIGESTS: Dict[Tuple[str, int, int], str] = {}


def check_precision(precision: str, owner: str = 'teacher') -> str:
    """Refuse a precision open_clip would silently run in fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f'{owner}: unknown precision={precision!r}; known '
                         f'precisions: {", ".join(PRECISIONS)}.')
    return precision


def file_sha256(path: str) -> str:
    """sha256 of a whole file, memoised by (real path, mtime, size).

    A multi-GB teacher is read once per process, however many times its id
    is asked for; a rewritten file (new mtime or size) is hashed again.

    Args:
        path (str): The file.

    Returns:
        str: The hex digest.
    """
    real = osp.realpath(path)
    stat = os.stat(real)
    key = (real, stat.st_mtime_ns, stat.st_size)
    if key not in _DIGESTS:
        _DIGESTS[key] = sha256_file(real)
    return _DIGESTS[key]


def _folder_fingerprint(folder: str) -> str:
    """Hash of the files of a ``local-dir:`` folder the teacher loads
    (config, weights, tokenizer files), by name; see :func:`loaded_files`."""
    digest = hashlib.sha256()
    for name in loaded_files(folder):
        digest.update(
            f'{name}:{file_sha256(osp.join(folder, name))}\n'.encode())
    return digest.hexdigest()


def open_clip_teacher_id(model_name: str,
                         pretrained: Optional[str] = None,
                         precision: str = 'fp32',
                         force_quick_gelu: bool = False) -> str:
    """Identity of an :class:`OpenCLIPTeacher`, computed without building it.

    Prompt banks and teacher-target caches are keyed by it, and a cached
    teacher compares it with its cache's manifest without loading weights.
    A weight file is identified by the sha256 of its whole contents, a
    ``local-dir:`` folder by the sha256 of all its files, a pretrained tag by
    its name.

    Args:
        model_name (str): open_clip model name.
        pretrained (str, optional): Tag, weight file or ``local-dir:`` folder.
        precision (str): open_clip precision. Defaults to ``'fp32'``.
        force_quick_gelu (bool): Defaults to False.

    Returns:
        str: A JSON string (model, weight source fingerprint, precision,
        QuickGELU flag, open_clip version).

    Raises:
        ValueError: Unknown precision.
        FileNotFoundError: A ``local-dir:`` folder without its config.
    """
    check_precision(precision, f'teacher {model_name!r}')
    if pretrained is None:
        source = 'random-init'
    elif pretrained.startswith(LOCAL_DIR_PREFIX):
        folder = pretrained[len(LOCAL_DIR_PREFIX):]
        if not osp.isfile(osp.join(folder, CONFIG_FILE)):
            raise FileNotFoundError(
                f'Teacher {model_name!r}: local-dir folder {folder!r} has no '
                f'{CONFIG_FILE}.')
        source = 'local-dir:sha256:' + _folder_fingerprint(folder)
    elif osp.isfile(pretrained):
        source = 'file:sha256:' + file_sha256(pretrained)
    else:
        source = f'tag:{pretrained}'
    return json.dumps(
        dict(
            model=model_name,
            source=source,
            precision=precision,
            quick_gelu=force_quick_gelu,
            open_clip=open_clip.__version__),
        sort_keys=True)
