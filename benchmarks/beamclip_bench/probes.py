"""Probes of a frozen backbone: pooled features of the whole image, the
converged logistic-regression probe and the held-out probe curve of a
run's intermediate checkpoints."""
import glob
import json
import os
import os.path as osp
from typing import Callable, Dict, List, Optional

import torch
from mmpretrain.models import ResNet

from mmbeamclip.models.teachers import IMAGENET_MEAN, IMAGENET_STD
from mmbeamclip.utils import atomic_write
from mmbeamclip.utils.checkpoint import load_checkpoint
from .common import load_image


@torch.no_grad()
def encode_images(encode: Callable, files: List[list], root: str,
                  size: int, batch_size: int) -> tuple:
    """``encode`` of whole images (resized to ``size``, normalised with the
    students' ImageNet mean/std), batch by batch.

    Args:
        encode (Callable): Maps a batch (B, 3, size, size) to (B, D).
        files (list[list]): Per class, paths relative to ``root``.

    Returns:
        tuple[Tensor, Tensor]: Features (N, D) and labels (N,).
    """
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    paths = [(osp.join(root, f), c) for c, fs in enumerate(files) for f in fs]
    out = []
    for i in range(0, len(paths), batch_size):
        x = torch.stack(
            [load_image(p, size) for p, _ in paths[i:i + batch_size]])
        out.append(encode((x - mean) / std))
    return torch.cat(out), torch.tensor([c for _, c in paths])


def load_backbone(checkpoint: Optional[str], seed: int = 0) -> ResNet:
    """A ResNet-18 with a checkpoint's ``backbone.`` weights (None: random
    init, seeded), in eval mode."""
    torch.manual_seed(seed)
    net = ResNet(depth=18, out_indices=(3, ))
    if checkpoint is not None:
        # Loaded safely: a crafted pickle never runs here either.
        state = load_checkpoint(checkpoint)['state_dict']
        state = {
            k[len('backbone.'):]: v
            for k, v in state.items() if k.startswith('backbone.')
        }
        net.load_state_dict(state, strict=True)
    else:
        net.init_weights()
    net.eval()  # mmpretrain's ResNet.train() returns None, not the module
    return net


def backbone_features(checkpoint: Optional[str], files: List[list],
                      root: str, img_size: int, seed: int = 0,
                      batch_size: int = 128) -> tuple:
    """Pooled ResNet-18 features of a fixed (whole-image) view.

    Returns:
        tuple[Tensor, Tensor]: Features (N, 512) and labels (N,).
    """
    net = load_backbone(checkpoint, seed)
    return encode_images(lambda x: net(x)[-1].mean((2, 3)), files, root,
                         img_size, batch_size)


def fit_logreg(xtr: torch.Tensor, ytr: torch.Tensor, xva: torch.Tensor,
               yva: torch.Tensor) -> float:
    """Converged linear probe: L-BFGS logistic regression (scikit-learn) on
    standardised frozen features, train -> val.

    Unlike a short SGD schedule it has no learning rate to get wrong, so it
    measures the features rather than the optimiser.

    Returns:
        float: Val top-1 (%).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    clf = make_pipeline(StandardScaler(),
                        LogisticRegression(max_iter=2000, C=1.0))
    clf.fit(xtr.numpy(), ytr.numpy())
    return 100 * float(clf.score(xva.numpy(), yva.numpy()))


def logreg_probe(checkpoint: Optional[str], data: dict, profile: dict,
                 seed: int = 0,
                 splits=('val', 'heldout')) -> Dict[str, float]:
    """:func:`fit_logreg` on a backbone's pooled features of the whole
    image, probe subset -> val (the teacher reference's protocol), and
    probe subset -> the held-out part of train where the data has one.

    Returns:
        dict: ``val`` top-1 (%) and, with a held-out part, ``heldout``.
    """
    size = profile['img_size']
    root = data['data_root']
    xtr, ytr = backbone_features(checkpoint, data['probe_files'],
                                 osp.join(root, 'train'), size, seed)
    out = {}
    for name, split in (('val', 'val'), ('heldout', 'train')):
        if name not in splits or not data.get(f'{name}_files'):
            continue
        x, y = backbone_features(checkpoint, data[f'{name}_files'],
                                 osp.join(root, split), size, seed)
        out[name] = fit_logreg(xtr, ytr, x, y)
    return out


def probe_curve(pre_dir: str, final: str, data: dict, profile: dict,
                seed: int) -> List[list]:
    """Held-out probe accuracy of a run's intermediate checkpoints, which
    are removed once probed (the final one is probed by the caller).

    Each result goes to ``probe_curve.json`` in ``pre_dir`` (atomically)
    before its checkpoint is removed, so a reused or interrupted run keeps
    the points already probed.

    Returns:
        list[list]: ``[epoch, held-out top-1 (%)]`` pairs, epoch order.
    """
    record = osp.join(pre_dir, 'probe_curve.json')
    done = {}
    if osp.exists(record):
        with open(record) as f:
            done = {int(e): acc for e, acc in json.load(f)}
    for path in glob.glob(osp.join(pre_dir, 'epoch_*.pth')):
        if osp.samefile(path, final):
            continue
        epoch = int(osp.basename(path)[len('epoch_'):-len('.pth')])
        if epoch not in done:
            acc = logreg_probe(path, data, profile, seed,
                               splits=('heldout', ))
            done[epoch] = acc['heldout']
            text = json.dumps(sorted(done.items())).encode()
            atomic_write(record, lambda f: f.write(text))
        os.remove(path)
    return [list(p) for p in sorted(done.items())]
