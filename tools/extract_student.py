"""Write the student of a BeamCLIP checkpoint, for mmpretrain or deployment.

    python tools/extract_student.py work_dirs/x/epoch_200.pth student.pth
    python tools/extract_student.py CKPT r18.pth --torchvision
    python tools/extract_student.py CKPT r18.pt --format torchscript
    python tools/extract_student.py CKPT r18.onnx --format onnx

The default output keeps ``backbone.*`` keys: pass it to the stock linear-eval
config with ``--cfg-options model.backbone.init_cfg.checkpoint=student.pth``.
``--torchvision`` writes bare ResNet keys for ``torchvision.models.resnet18``
(``load_state_dict(sd, strict=False)``; only ``fc`` is missing).

``--format torchscript`` / ``onnx`` write the student backbone alone (no
neck, head, bank or teacher), built from the config saved in the checkpoint
(or ``--config``): input ``(N, 3, H, W)`` normalised images as the training
data preprocessor gives them, outputs the backbone's feature maps, e.g.
``(N, 512, H/32, W/32)`` for a ResNet-18. The traced example has
``--input-size`` pixels; the batch size is free. ONNX uses torch's own
exporter, which needs the ``onnx`` and ``onnxscript`` packages.

The input checkpoint is loaded without running code (a crafted pickle is
refused; its stored config is read as data, never executed, and one that is
not plain data is refused: pass ``--config``), never overwritten, and the
output is written atomically.
"""
import argparse
import importlib.util
import os.path as osp
import pickle
import sys
import tempfile

import library_warnings  # noqa: F401  (before mmcv is imported)
import torch

from mmbeamclip.utils import (atomic_torch_save, atomic_write, check_not_input,
                              extract_student)
from mmbeamclip.utils.arg_types import positive_int, ranged
from mmbeamclip.utils.checkpoint import load_checkpoint
from mmbeamclip.utils.student_extraction import (build_student_backbone,
                                                 training_config)

FORMATS = ('pth', 'torchscript', 'onnx')
# torch.onnx exports no opset older than 7.
ONNX_OPSET = ranged(int, 7)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('checkpoint', help='BeamCLIP checkpoint (.pth)')
    parser.add_argument('out', help='where to write the student')
    parser.add_argument(
        '--format',
        choices=FORMATS,
        default='pth',
        help='pth: a checkpoint (default); torchscript / onnx: the '
        'backbone as a deployable model')
    parser.add_argument(
        '--torchvision',
        action='store_true',
        help='pth only: a bare state dict without the backbone. prefix')
    parser.add_argument(
        '--config',
        help='config to build the backbone from (default: the one saved '
        'in the checkpoint)')
    parser.add_argument(
        '--input-size',
        type=positive_int,
        default=224,
        help='image size of the traced example (default 224)')
    parser.add_argument(
        '--opset', type=ONNX_OPSET, default=18, help='ONNX opset (default 18)')
    args = parser.parse_args(argv)
    if args.torchvision and args.format != 'pth':
        parser.error('--torchvision only applies to --format pth')
    return args


def export_torchscript(backbone, example, out: str):
    with torch.no_grad():
        traced = torch.jit.trace(backbone, example, strict=False)
    atomic_write(out, lambda f: torch.jit.save(traced, f))


def export_onnx(backbone, example, out: str, opset: int):
    missing = [
        name for name in ('onnx', 'onnxscript')
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise ValueError(
            'ONNX export uses torch.onnx.export, which needs the '
            f'package(s) {", ".join(missing)}: pip install '
            f'{" ".join(missing)}')
    with torch.no_grad():
        num_outputs = len(backbone(example))
    names = [f'feat{i}' for i in range(num_outputs)]
    with tempfile.TemporaryDirectory(dir=osp.dirname(osp.abspath(out))) \
            as tmp:
        path = osp.join(tmp, 'model.onnx')
        torch.onnx.export(
            backbone, (example, ),
            path,
            input_names=['images'],
            output_names=names,
            dynamic_shapes=({0: torch.export.Dim('batch')}, ),
            opset_version=opset,
            external_data=False,
            dynamo=True)
        with open(path, 'rb') as src:
            data = src.read()
    atomic_write(out, lambda f: f.write(data))


def main(argv=None):
    args = parse_args(argv)
    check_not_input(args.out,
                    dict(checkpoint=args.checkpoint, config=args.config))
    checkpoint = load_checkpoint(args.checkpoint, map_location='cpu')
    try:
        student = extract_student(checkpoint, torchvision=args.torchvision)
    except ValueError as exc:
        raise ValueError(f'{args.checkpoint}: {exc}') from None
    # The stored config is read as data (never run), and only such a config
    # is passed on: a crafted one is refused here, not in the next tool.
    cfg = training_config(checkpoint, args.config, args.checkpoint)
    if args.format == 'pth':
        if not args.torchvision and cfg is not None:
            student['meta']['cfg'] = cfg.pretty_text
        atomic_torch_save(student, args.out)
        state = student if args.torchvision else student['state_dict']
        num = sum(v.numel() for v in state.values() if v.is_floating_point())
        print(f'Wrote {len(state)} tensors ({num / 1e6:.2f} M values) to '
              f'{args.out}')
        return
    backbone = build_student_backbone(
        checkpoint, args.config, source=args.checkpoint)
    example = torch.randn(2, 3, args.input_size, args.input_size)
    if args.format == 'torchscript':
        export_torchscript(backbone, example, args.out)
    else:
        export_onnx(backbone, example, args.out, args.opset)
    print(f'Wrote the {type(backbone).__name__} backbone as {args.format} '
          f'to {args.out}')


if __name__ == '__main__':
    try:
        main()
    except (OSError, ValueError, pickle.UnpicklingError) as exc:
        # A clear one-line error, not a traceback, for bad input.
        sys.exit(f'extract_student.py: error: {exc}')
