"""Offline demo: distil a teacher into a ResNet-18 on real images, for real.

    python tools/demo.py                              # Fashion-MNIST, proxy
    python tools/demo.py --data-root DIR              # your image folder
    python tools/demo.py --teacher ViT-B-32:openai    # a real CLIP (needs
                                                      # internet or staged
                                                      # weights)

1. gets a small real dataset that works offline: Fashion-MNIST from the
   Debian package ``dataset-fashion-mnist`` (``apt-get download`` + ``dpkg
   -x``, no root needed), or any ImageNet-layout folder you name;
2. builds the CLIP-proxy teacher (a supervised ImageNet EfficientNet-Lite0's
   posterior mapped into a MiniLM text space, fitted on the dataset's
   unlabeled train images), unless ``--teacher`` names an open_clip model;
3. runs the teacher once over a few views of every train image (the
   teacher-target cache: the student later sees exactly those crops);
4. distils a ResNet-18 with BeamCLIP CSM through mmpretrain's stock
   ``tools/train.py``;
5. prints the student's linear-probe and zero-shot accuracy next to a
   random-init ResNet-18 and the teacher's own (the ceiling).

Needs ``pip install -e '.[benchmark]'``. Everything lands in ``--work-dir``;
library warnings and model-load reports go to ``<work-dir>/demo.log``.
"""
import argparse
import os
import os.path as osp

os.environ.setdefault('HF_HUB_OFFLINE', '1')

# Quiet at import (tools/library_warnings.py): flags are checked before
# stderr goes to the log.
import library_warnings  # noqa: E402,F401
# Standard library only: stderr is redirected before anything warns.
from beamclip_bench.console import stderr_to_file  # noqa: E402

from mmbeamclip.utils.arg_types import positive_int  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--data-root', default=None,
        help='ImageNet-layout folder (train/<class>/*, val/<class>/*); '
        'default: Fashion-MNIST from the Debian package')
    parser.add_argument(
        '--teacher', default='proxy',
        help="'proxy' (offline CLIP-proxy teacher), 'local-dir:DIR', or an "
        'open_clip MODEL:TAG, e.g. ViT-B-32:openai')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--profile', default='demo',
                        help="benchmark profile ('smoke' for a plumbing "
                        'check)')
    parser.add_argument('--epochs', type=positive_int, default=None,
                        help='distillation epochs (default: the demo '
                        "profile's)")
    args = parser.parse_args(argv)
    from mmbeamclip.utils import check_not_input
    check_not_input(
        osp.join(REPO, args.work_dir), {'data root': args.data_root},
        parser=parser)
    return args


def main():
    args = parse_args()
    work_dir = osp.join(REPO, args.work_dir)
    # Libraries warn as they are imported: stderr goes to the log first.
    with stderr_to_file(osp.join(work_dir, 'demo.log')):
        from beamclip_bench.demo import run_demo
        run_demo(
            work_dir,
            data_root=args.data_root,
            teacher=args.teacher,
            profile=args.profile,
            epochs=args.epochs)


if __name__ == '__main__':
    main()
