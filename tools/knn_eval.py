"""Weighted k-NN accuracy of a frozen BeamCLIP student on an image folder.

    python tools/knn_eval.py work_dirs/x/epoch_200.pth --data-root DIR
    python tools/knn_eval.py student.pth --data-root DIR --out knn.json

CHECKPOINT is a BeamCLIP training checkpoint or the output of
``tools/extract_student.py`` (``backbone.*`` keys). The backbone is built from
the config saved in it (read as data, never executed) or ``--config`` (a
ResNet-18 when there is none), and images are normalised with that config's
data preprocessor mean and std.
``--data-root`` is an ImageNet-layout folder (``train/<class>/*``,
``val/<class>/*``): the train split is the memory bank, the val split is
classified. Features are the backbone's last feature map, average pooled and
L2-normalised; the k nearest train features vote with weight
``exp(cosine / T)`` (the protocol of Wu et al. 2018, also used by MoCo, DINO
and SEED: k = 20 and 200, T = 0.07). Labels are used only for the votes.
"""
import argparse
import json
import pickle
import sys
import time

import library_warnings  # noqa: F401  (before mmcv is imported)
import torch
import torch.nn.functional as F
from mmengine.dataset import default_collate
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS, MODELS
from torch.utils.data import DataLoader

from mmbeamclip.evaluation import knn_accuracy
from mmbeamclip.utils import atomic_write_text, check_not_input
from mmbeamclip.utils.arg_types import (non_negative_int, positive_float,
                                        positive_int)
from mmbeamclip.utils.checkpoint import load_checkpoint
from mmbeamclip.utils.student_extraction import (build_student_backbone,
                                                 training_config)

DEFAULT_BACKBONE = dict(type='ResNet', depth=18, out_indices=(3, ))
IMAGENET_MEAN = [123.675, 116.28, 103.53]
IMAGENET_STD = [58.395, 57.12, 57.375]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('checkpoint', help='BeamCLIP or student checkpoint')
    parser.add_argument(
        '--data-root', required=True,
        help='ImageNet-layout folder with train/ and val/')
    parser.add_argument(
        '--config', help='config for the backbone and normalisation '
        '(default: the one saved in the checkpoint)')
    parser.add_argument(
        '--k', type=positive_int, nargs='+', default=[20, 200],
        help='neighbour counts (default: 20 200)')
    parser.add_argument(
        '--temperature', type=positive_float, default=0.07,
        help='T of the exp(cos / T) weights (default 0.07)')
    parser.add_argument(
        '--img-size', type=positive_int, default=224,
        help='center crop size; the short edge is resized to 8/7 of it '
        '(default 224)')
    parser.add_argument('--batch-size', type=positive_int, default=64)
    parser.add_argument('--workers', type=non_negative_int, default=2)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', help='also write the results as JSON')
    return parser.parse_args(argv)


def build_loader(data_root, split, img_size, batch_size, workers):
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='ResizeEdge', scale=img_size * 8 // 7, edge='short',
             backend='pillow'),
        dict(type='CenterCrop', crop_size=img_size),
        dict(type='PackInputs'),
    ]
    dataset = DATASETS.build(
        dict(type='CustomDataset', data_root=data_root, data_prefix=split,
             pipeline=pipeline))
    return DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=workers,
        shuffle=False,
        collate_fn=default_collate)


@torch.no_grad()
def extract_features(backbone, preprocessor, loader, device):
    """Pooled, L2-normalised features (N, D) and labels (N, )."""
    feats, labels = [], []
    for data in loader:
        data = preprocessor(data, False)
        out = backbone(data['inputs'].to(device))[-1]
        if out.dim() == 4:
            out = out.mean(dim=(2, 3))
        feats.append(F.normalize(out.float(), dim=1).cpu())
        labels.extend(int(s.gt_label) for s in data['data_samples'])
    return torch.cat(feats), torch.tensor(labels)


def preprocessor_config(cfg):
    """mmpretrain's ClsDataPreprocessor with the training normalisation."""
    pre = dict(cfg.model.get('data_preprocessor', {})) if cfg else {}
    return dict(
        type='ClsDataPreprocessor',
        mean=pre.get('mean', IMAGENET_MEAN),
        std=pre.get('std', IMAGENET_STD),
        to_rgb=pre.get('to_rgb', True))


def main(argv=None):
    args = parse_args(argv)
    check_not_input(
        args.out,
        dict(checkpoint=args.checkpoint, config=args.config,
             data_root=args.data_root))
    init_default_scope('mmpretrain')
    # Data first: a wrong folder fails before the model is built.
    loaders = {
        split: build_loader(args.data_root, split, args.img_size,
                            args.batch_size, args.workers)
        for split in ('train', 'val')
    }
    classes = {
        split: list(loader.dataset.metainfo['classes'])
        for split, loader in loaders.items()
    }
    if classes['train'] != classes['val']:
        raise ValueError(
            f'{args.data_root}: train/ and val/ hold different class '
            'folders, so val labels would not match the votes (only in '
            f'train/: {sorted(set(classes["train"]) - set(classes["val"]))}'
            f', only in val/: '
            f'{sorted(set(classes["val"]) - set(classes["train"]))})')
    checkpoint = load_checkpoint(args.checkpoint, map_location='cpu')
    cfg = training_config(checkpoint, args.config, args.checkpoint)
    backbone = build_student_backbone(
        checkpoint, args.config, default=DEFAULT_BACKBONE,
        source=args.checkpoint).to(args.device)
    preprocessor = MODELS.build(preprocessor_config(cfg))
    start = time.time()
    bank, bank_labels = extract_features(backbone, preprocessor,
                                         loaders['train'], args.device)
    query, query_labels = extract_features(backbone, preprocessor,
                                           loaders['val'], args.device)
    num_classes = len(classes['train'])
    print(f'k-NN on {args.data_root}: {num_classes} classes, '
          f'{len(bank)} train / {len(query)} val images, '
          f'{bank.shape[1]}-d features ({time.time() - start:.1f} s), '
          f'T={args.temperature}')
    results = {}
    for k in args.k:
        # A small folder has fewer train images than k: all of them vote.
        used = min(k, len(bank))
        acc = knn_accuracy(query, query_labels, bank, bank_labels,
                           num_classes, used, args.temperature)
        results[f'k{k}'] = dict(acc, k_used=used)
        note = f' ({used} used)' if used < k else ''
        print(f'k={k}{note}: ' + '  '.join(
            f'{name} {value:.2f}' for name, value in acc.items()))
    if args.out:
        atomic_write_text(
            args.out,
            json.dumps(dict(checkpoint=args.checkpoint,
                            data_root=args.data_root, classes=num_classes,
                            num_train=len(bank), num_val=len(query),
                            temperature=args.temperature, results=results),
                       indent=1))
    return results


if __name__ == '__main__':
    try:
        main()
    except (OSError, ValueError, pickle.UnpicklingError) as exc:
        sys.exit(f'knn_eval.py: error: {exc}')
