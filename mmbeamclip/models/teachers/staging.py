"""Stage open_clip weights into a ``local-dir:`` folder for offline use."""
import os
import os.path as osp
import tempfile
from typing import Optional

import open_clip

from mmbeamclip.utils.local_dir import write_local_dir


def check_writable(out_dir: str):
    """Fail now, not after a multi-GB download, if ``out_dir`` cannot be
    created: probe its nearest existing parent with a real temp file (a
    permission check alone misses read-only mounts and root).

    Raises:
        PermissionError: Naming the folder that is not writable.
    """
    parent = osp.dirname(osp.abspath(out_dir))
    while not osp.isdir(parent):
        if osp.exists(parent):
            raise NotADirectoryError(f'Cannot create {out_dir}: {parent} is '
                                     'a file.')
        parent = osp.dirname(parent)
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix='.write-probe-')
    except OSError as e:
        raise PermissionError(
            f'Cannot create {out_dir}: {parent} is not writable ({e}). Pick '
            'another --out folder.') from e
    os.close(fd)
    os.remove(probe)


def stage_open_clip(model_name: str,
                    pretrained: str,
                    out_dir: str,
                    cache_dir: Optional[str] = None,
                    force_quick_gelu: bool = False) -> str:
    """Save an open_clip model as ``open_clip_config.json`` + weights.

    Run it where the weights can be had (a tag downloads them once; a file is
    read as is). The folder then loads anywhere, offline, with
    ``OpenCLIPTeacher(model_name, pretrained='local-dir:<out_dir>')``; its
    config, preprocessing and tokenizer come from the folder. The folder is
    written next to ``out_dir`` and renamed into place, so an interrupted run
    leaves nothing half-written, with the umask's permissions (a folder
    under a shared path is readable by the team). Where ``out_dir`` cannot
    be written it fails before any download.

    Args:
        model_name (str): open_clip model name, e.g. ``'ViT-B-16-quickgelu'``.
        pretrained (str): Pretrained tag or weight file.
        out_dir (str): Folder to create.
        cache_dir (str, optional): open_clip download cache.
        force_quick_gelu (bool): Store ``quick_gelu=True`` in the config.

    Returns:
        str: ``'local-dir:<out_dir>'``, the value for ``pretrained``.
    """
    if osp.exists(out_dir):
        raise FileExistsError(f'{out_dir} exists; remove it or pick another')
    check_writable(out_dir)
    model = open_clip.create_model(
        model_name,
        pretrained=pretrained,
        cache_dir=cache_dir,
        force_quick_gelu=force_quick_gelu,
        require_pretrained=True)
    model_cfg = open_clip.get_model_config(model_name)
    if model_cfg is None:
        raise ValueError(f'no open_clip config for {model_name!r}')
    if force_quick_gelu:
        model_cfg['quick_gelu'] = True
    preprocess = dict(open_clip.get_model_preprocess_cfg(model))
    # open_clip reads a local-dir: model's Hugging Face tokenizer (SigLIP,
    # HF text towers) from the folder itself, so it travels with the weights.
    hf_tokenizer = getattr(open_clip.get_tokenizer(model_name), 'tokenizer',
                           None)
    save_tokenizer = getattr(hf_tokenizer, 'save_pretrained', None)
    return write_local_dir(
        out_dir,
        model_cfg,
        model.state_dict(),
        preprocess_cfg=preprocess,
        write_extra=save_tokenizer,
        source=dict(
            model_name=model_name, pretrained=osp.basename(pretrained)))
