"""Stage open_clip weights into a ``local-dir:`` folder for offline use."""
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Optional

import torch

CONFIG_FILE = 'open_clip_config.json'
WEIGHTS_FILE = 'open_clip_pytorch_model.bin'


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
    leaves nothing half-written.

    Args:
        model_name (str): open_clip model name, e.g. ``'ViT-B-16-quickgelu'``.
        pretrained (str): Pretrained tag or weight file.
        out_dir (str): Folder to create.
        cache_dir (str, optional): open_clip download cache.
        force_quick_gelu (bool): Store ``quick_gelu=True`` in the config.

    Returns:
        str: ``'local-dir:<out_dir>'``, the value for ``pretrained``.
    """
    import open_clip
    if osp.exists(out_dir):
        raise FileExistsError(f'{out_dir} exists; remove it or pick another')
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
    parent = osp.dirname(osp.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix='.staging-')
    try:
        with open(osp.join(tmp, CONFIG_FILE), 'w') as f:
            json.dump(
                dict(
                    model_cfg=model_cfg,
                    preprocess_cfg=preprocess,
                    source=dict(model_name=model_name,
                                pretrained=osp.basename(pretrained))),
                f,
                indent=2)
        torch.save(model.state_dict(), osp.join(tmp, WEIGHTS_FILE))
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return f'local-dir:{out_dir}'
