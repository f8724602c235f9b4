"""What every part of the benchmark package shares: the repository root,
image files, a content hash and the teacher config of a ``--teacher``
argument."""
import hashlib
import json
import os
import os.path as osp
from typing import List, Optional

import torch

# The only path computed from this file: the row configs and the stock tools
# live in the repository checkout (the package is installed editable, from
# it, by the ``benchmark`` extra).
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(REPO, 'benchmarks', 'configs')

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')
LOCAL_DIR = 'local-dir:'
# Written into a proxy teacher folder; its presence names the teacher.
PROXY_META = 'proxy_meta.json'
PROXY_NAME = 'clip-proxy-effnetlite0-minilm'
# What the proxy is: its "zero-shot" knowledge is a supervised classifier's.
PROXY_LABEL = ('CLIP-proxy teacher (supervised ImageNet EfficientNet-Lite0 '
               'posterior mapped into a MiniLM-L6 text space)')


def sha(obj) -> str:
    """SHA-256 (hex) of a JSON-serialisable object, key order ignored."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def check_checkout():
    """Refuse to run where the repository checkout is missing.

    Raises:
        FileNotFoundError: The row configs or the stock tools are not
            beside the package (e.g. a non-editable wheel install).
    """
    for path in (CONFIG_DIR, osp.join(REPO, 'tools', 'train.py')):
        if not osp.exists(path):
            raise FileNotFoundError(
                f'{path} not found: the benchmark runs from a repository '
                "checkout, installed with pip install -e '.[benchmark]'")


def list_images(root: str) -> List[str]:
    """Every image file under ``root``, sorted (labels are never read)."""
    out = []
    for dirpath, _, files in os.walk(root, followlinks=True):
        out += [
            osp.join(dirpath, f) for f in files
            if f.lower().endswith(IMAGE_EXTS)
        ]
    return sorted(out)


def load_image(path: str, size: int) -> torch.Tensor:
    """An RGB image as a float tensor on 0-255, resized to ``size`` square.

    Returns:
        Tensor: Shape (3, size, size).
    """
    import numpy as np
    from PIL import Image
    img = Image.open(path).convert('RGB')
    if img.size != (size, size):
        img = img.resize((size, size), Image.BICUBIC)
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0,
                                                            1).float()


def is_proxy(spec: Optional[str]) -> bool:
    """Whether a teacher spec names a CLIP-proxy ``local-dir:`` folder."""
    return bool(spec) and spec.startswith(LOCAL_DIR) and osp.isfile(
        osp.join(spec[len(LOCAL_DIR):], PROXY_META))


def teacher_cfg(spec: str, image_size: Optional[int] = None,
                **kwargs) -> dict:
    """``OpenCLIPTeacher`` config of a ``--teacher`` argument.

    Args:
        spec (str): ``local-dir:DIR``, ``MODEL:TAG`` (e.g.
            ``ViT-B-32:openai``) or a bare ``MODEL`` (random weights, only
            with ``allow_random_init=True``).
        image_size (int, optional): Teacher input size of a ``local-dir:``
            model. Defaults to the folder's.
        **kwargs: More ``OpenCLIPTeacher`` arguments (``precision``...).

    Returns:
        dict: The teacher config.
    """
    cfg = dict(type='OpenCLIPTeacher', **kwargs)
    if spec.startswith(LOCAL_DIR):
        # For a local-dir model the name is only a label (but part of the
        # teacher id, which keys caches and prompt banks).
        folder = spec[len(LOCAL_DIR):]
        cfg.update(
            model_name=PROXY_NAME if is_proxy(spec) else osp.basename(
                osp.normpath(folder)),
            pretrained=spec)
        if image_size is not None:
            cfg['image_size'] = image_size
        return cfg
    model, _, tag = spec.partition(':')
    if not tag and not kwargs.get('allow_random_init'):
        raise ValueError(f'teacher {spec!r}: use local-dir:DIR or MODEL:TAG '
                         '(e.g. ViT-B-32:openai)')
    if model.startswith('ViT') and tag == 'openai' and \
            not model.endswith('quickgelu'):
        model += '-quickgelu'  # OpenAI weights were trained with QuickGELU
    cfg.update(model_name=model, pretrained=tag or None)
    return cfg
