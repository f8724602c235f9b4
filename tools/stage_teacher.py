"""Stage open_clip weights into a folder that loads offline.

On a machine with internet (or with a downloaded weight file):

    python tools/stage_teacher.py ViT-B-16-quickgelu openai \
        --out /shared/clip/vit-b16-openai
    python tools/stage_teacher.py ViT-B-16-quickgelu ~/Downloads/vit_b16.bin \
        --out DIR

Copy the folder to the cluster and use it in a config:

    model.target_generator.pretrained='local-dir:/shared/clip/vit-b16-openai'
"""
import argparse

import library_warnings  # noqa: F401  (before mmcv is imported)

from mmbeamclip.models.teachers import OpenCLIPTeacher, stage_open_clip
from mmbeamclip.utils import check_not_input


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('model_name', help='open_clip model name')
    parser.add_argument('pretrained', help='pretrained tag or weight file')
    parser.add_argument('--out', required=True, help='folder to create')
    parser.add_argument('--cache-dir', help='open_clip download cache')
    parser.add_argument('--force-quick-gelu', action='store_true')
    args = parser.parse_args(argv)
    check_not_input(
        args.out,
        dict(weights=args.pretrained, cache_dir=args.cache_dir),
        parser=parser)
    return args


def main():
    args = parse_args()
    pretrained = stage_open_clip(
        args.model_name,
        args.pretrained,
        args.out,
        cache_dir=args.cache_dir,
        force_quick_gelu=args.force_quick_gelu)
    # Prove the folder loads through the same path training uses.
    teacher = OpenCLIPTeacher(args.model_name, pretrained=pretrained)
    print(f'Staged {args.model_name} ({args.pretrained}) to {args.out}: '
          f'embed_dim={teacher.embed_dim}. Use '
          f"pretrained='{pretrained}'")


if __name__ == '__main__':
    import sys

    from mmbeamclip.utils import WriteError
    try:
        main()
    except WriteError as e:  # a full disk: one line naming the folder
        sys.exit(f'stage_teacher.py: error: {e}')
