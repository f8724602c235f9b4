"""Fashion-MNIST from the Debian package, as an ImageNet-layout folder.

The Debian package ``dataset-fashion-mnist`` (Expat license) ships the four
idx files under ``/usr/share/datasets/fashion-mnist``. Without root it is
fetched with ``apt-get download`` and unpacked with ``dpkg -x`` (no install).
"""
import glob
import gzip
import os
import os.path as osp
import subprocess
from typing import Optional

import numpy as np

PACKAGE = 'dataset-fashion-mnist'
SYSTEM_DIR = '/usr/share/datasets/fashion-mnist'
# Label order of the idx files; folder names must not contain '/'.
CLASSES = ('T-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal',
           'shirt', 'sneaker', 'bag', 'ankle boot')


def find_or_fetch(cache_dir: str, log=print) -> str:
    """Folder with the idx ``.gz`` files: the installed package, or the .deb
    downloaded and unpacked into ``cache_dir``."""
    if osp.isfile(osp.join(SYSTEM_DIR, 'train-images-idx3-ubyte.gz')):
        return SYSTEM_DIR
    unpacked = osp.join(cache_dir, 'root')
    local = osp.join(unpacked, SYSTEM_DIR.lstrip('/'))
    if osp.isfile(osp.join(local, 'train-images-idx3-ubyte.gz')):
        return local
    os.makedirs(cache_dir, exist_ok=True)
    debs = glob.glob(osp.join(cache_dir, f'{PACKAGE}_*.deb'))
    if not debs:
        log(f'fashion-mnist: apt-get download {PACKAGE} (30.9 MB)')
        proc = subprocess.run(['apt-get', 'download', PACKAGE],
                              cwd=cache_dir, capture_output=True, text=True)
        log(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise RuntimeError(
                f'apt-get download {PACKAGE} failed ({proc.returncode}); '
                f'install the package or pass --data-root:\n{proc.stderr}')
        debs = glob.glob(osp.join(cache_dir, f'{PACKAGE}_*.deb'))
    subprocess.run(['dpkg', '-x', debs[0], unpacked], check=True)
    return local


def read_idx(path: str, offset: int) -> np.ndarray:
    with gzip.open(path, 'rb') as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def export_image_folder(idx_dir: str,
                        out: str,
                        train_per_class: Optional[int] = 300,
                        val_per_class: Optional[int] = 100,
                        size: int = 32,
                        log=print) -> str:
    """Write ``out/{train,val}/<class>/<i>.png`` (RGB, ``size`` px).

    The first N images of each class of the idx train split become
    ``train/``, of the t10k split ``val/``. Cached: an existing folder with
    the marker file is reused.
    """
    from PIL import Image
    marker = osp.join(out, '.complete')
    spec = f'{train_per_class} {val_per_class} {size}'
    if osp.isfile(marker) and open(marker).read() == spec:
        return out
    for split, prefix, n in (('train', 'train', train_per_class),
                             ('val', 't10k', val_per_class)):
        images = read_idx(
            osp.join(idx_dir, f'{prefix}-images-idx3-ubyte.gz'),
            16).reshape(-1, 28, 28)
        labels = read_idx(
            osp.join(idx_dir, f'{prefix}-labels-idx1-ubyte.gz'), 8)
        for c, name in enumerate(CLASSES):
            d = osp.join(out, split, name)
            os.makedirs(d, exist_ok=True)
            idx = np.flatnonzero(labels == c)[:n]
            for i in idx:
                img = Image.fromarray(images[i]).convert('RGB')
                img.resize((size, size), Image.BICUBIC).save(
                    osp.join(d, f'{i:05d}.png'))
    with open(marker, 'w') as f:
        f.write(spec)
    log(f'fashion-mnist: image folder at {out}')
    return out


def image_folder(work_dir: str,
                 name: str,
                 train_per_class: Optional[int],
                 val_per_class: Optional[int],
                 size: int,
                 log=print) -> str:
    """The package's idx files (fetched into ``work_dir/deb`` if needed)
    exported as ``work_dir/name`` by :func:`export_image_folder`."""
    idx_dir = find_or_fetch(osp.join(work_dir, 'deb'), log=log)
    return export_image_folder(
        idx_dir,
        osp.join(work_dir, name),
        train_per_class=train_per_class,
        val_per_class=val_per_class,
        size=size,
        log=log)


def profile_folder(work_dir: str, profile: dict, export: bool = True) -> str:
    """Fashion-MNIST as an image folder with enough images per class for
    a benchmark profile's subsets (all of them where it takes all), at its
    student size (at least the 28 px of the originals); exported unless
    ``export`` is False (the folder's path only)."""
    n, held = profile['train_per_class'], profile.get('heldout_per_class')
    train = n + (held or 0) if n else None
    val = profile['val_per_class']
    size = max(32, profile['img_size'])
    # The settings name the folder: an export never mixes with another.
    name = f'fashion-mnist-{size}px-{train or "all"}-{val or "all"}'
    if not export:
        return osp.join(work_dir, name)
    return image_folder(
        work_dir, name, train_per_class=train, val_per_class=val, size=size)
