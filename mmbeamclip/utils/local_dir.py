"""open_clip ``local-dir:`` folders: ``open_clip_config.json`` + weights.

The format open_clip loads with ``pretrained='local-dir:<folder>'``: model
config, preprocessing and tokenizer all come from the folder. Staged real
CLIP weights, the benchmark's proxy teacher and the tests' tiny teachers are
all written here, so they load through one path.
"""
import json
import os
import os.path as osp
import stat
from typing import Callable, Optional

import torch

from .fileio import atomic_dir, read_json

LOCAL_DIR_PREFIX = 'local-dir:'
CONFIG_FILE = 'open_clip_config.json'
WEIGHTS_FILE = 'open_clip_pytorch_model.bin'
# Files of a folder open_clip may load: weights (any of these suffixes) and
# the tokenizer files a Hugging Face tokenizer reads from the folder.
WEIGHT_SUFFIXES = ('.safetensors', '.bin', '.pth', '.pt', '.npz')
TOKENIZER_FILES = ('tokenizer.json', 'tokenizer_config.json',
                   'special_tokens_map.json', 'added_tokens.json',
                   'vocab.txt', 'vocab.json', 'merges.txt', 'spiece.model',
                   'sentencepiece.bpe.model', 'tokenizer.model',
                   'config.json')


def loaded_files(folder: str):
    """The files of a ``local-dir:`` folder the teacher loads.

    Only the config, weight and tokenizer files at the top of the folder
    (other files and sub-folders are never read), and only regular files: a
    link to a device or a FIFO (e.g. ``/dev/zero``) would make hashing the
    folder hang.

    Args:
        folder (str): The folder.

    Returns:
        List[str]: Sorted file names, relative to ``folder``.

    Raises:
        ValueError: One of them is not a regular file.
    """
    names = sorted(
        n for n in os.listdir(folder)
        if n == CONFIG_FILE or n in TOKENIZER_FILES or (
            n.endswith(WEIGHT_SUFFIXES) and not n.startswith('.')))
    for name in names:
        path = osp.join(folder, name)
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            kind = 'a FIFO' if stat.S_ISFIFO(mode) else 'a device' if (
                stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) else 'a folder' \
                if stat.S_ISDIR(mode) else 'not a regular file'
            if osp.islink(path):
                kind += f' (a link to {os.readlink(path)!r})'
            raise ValueError(
                f'{path} in the teacher folder is {kind}, not a regular '
                'file; the teacher would read it, so replace it with the '
                'real file or remove it.')
    return names


def write_local_dir(out_dir: str,
                    model_cfg: dict,
                    state_dict: dict,
                    preprocess_cfg: Optional[dict] = None,
                    extra_files: Optional[dict] = None,
                    write_extra: Optional[Callable[[str], None]] = None,
                    **extra) -> str:
    """Write an open_clip ``local-dir:`` folder atomically.

    Args:
        out_dir (str): The folder to create; it must not exist.
        model_cfg (dict): open_clip model config (``embed_dim``,
            ``vision_cfg``, ``text_cfg``...).
        state_dict (dict): The model's weights.
        preprocess_cfg (dict, optional): ``mean``, ``std``, ``size``...
        extra_files (dict, optional): ``{name: source path}`` copied into
            the folder (e.g. a Hugging Face text tower).
        write_extra (Callable, optional): Called with the (temporary)
            folder to write more files into it, e.g. a Hugging Face
            tokenizer's ``save_pretrained``.
        **extra: More JSON fields for the config file (e.g. ``source``).

    Returns:
        str: ``'local-dir:<out_dir>'``, the value for ``pretrained``.
    """
    import shutil
    config = dict(model_cfg=model_cfg, **extra)
    if preprocess_cfg is not None:
        config['preprocess_cfg'] = preprocess_cfg
    with atomic_dir(out_dir) as tmp:
        for name, src in (extra_files or {}).items():
            shutil.copy(src, osp.join(tmp, name))
        with open(osp.join(tmp, CONFIG_FILE), 'w', encoding='utf-8') as f:
            json.dump(config, f, indent=2)
        torch.save(state_dict, osp.join(tmp, WEIGHTS_FILE))
        if write_extra is not None:
            write_extra(tmp)
    return LOCAL_DIR_PREFIX + out_dir


def read_local_dir_config(folder: str) -> dict:
    """The parsed ``open_clip_config.json`` of a ``local-dir:`` folder.

    Raises:
        FileNotFoundError: The folder has no config file.
        ValueError: The config file is not valid JSON.
    """
    path = osp.join(folder, CONFIG_FILE)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{folder!r} has no {CONFIG_FILE}')
    try:
        return read_json(path)
    except ValueError as e:
        # read_json names the file; say what it is for.
        raise ValueError(f'{e} (the open_clip config of local-dir:{folder}; '
                         'stage the teacher again)') from None
