"""Write a student-only checkpoint from a BeamCLIP training checkpoint.

    python tools/extract_student.py work_dirs/x/epoch_200.pth student.pth
    python tools/extract_student.py work_dirs/x/epoch_200.pth r18.pth --torchvision

The default output keeps ``backbone.*`` keys: pass it to the stock linear-eval
config with ``--cfg-options model.backbone.init_cfg.checkpoint=student.pth``.
``--torchvision`` writes bare ResNet keys for ``torchvision.models.resnet18``
(``load_state_dict(sd, strict=False)``; only ``fc`` is missing).
"""
import argparse

import torch

from mmbeamclip.utils import atomic_torch_save, extract_student


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint', help='BeamCLIP checkpoint (.pth)')
    parser.add_argument('out', help='where to write the student checkpoint')
    parser.add_argument(
        '--torchvision',
        action='store_true',
        help='write a bare state dict without the backbone. prefix')
    return parser.parse_args()


def main():
    args = parse_args()
    # mmengine checkpoints pickle logging objects: weights-only loading
    # (the torch>=2.6 default) rejects them.
    checkpoint = torch.load(
        args.checkpoint, map_location='cpu', weights_only=False)
    student = extract_student(checkpoint, torchvision=args.torchvision)
    atomic_torch_save(student, args.out)
    state = student if args.torchvision else student['state_dict']
    num = sum(v.numel() for v in state.values() if v.is_floating_point())
    print(f'Wrote {len(state)} tensors ({num / 1e6:.2f} M values) to '
          f'{args.out}')


if __name__ == '__main__':
    main()
