"""Offline demo: distil a teacher into a ResNet-18 on real images, for real.

    python tools/demo.py                              # Fashion-MNIST, proxy
    python tools/demo.py --data-root DIR              # your image folder
    python tools/demo.py --teacher ViT-B-32:openai    # a real CLIP (needs
                                                      # internet or staged
                                                      # weights)

1. gets a small real dataset that works offline: Fashion-MNIST from the
   Debian package ``dataset-fashion-mnist`` (``apt-get download`` + ``dpkg
   -x``, no root needed), or any ImageNet-layout folder you name;
2. builds the CLIP-proxy teacher (EffNet-Lite0-ImageNet + MiniLM-L6, fitted
   on the dataset's unlabeled train images), unless ``--teacher`` names an
   open_clip model;
3. distils a ResNet-18 with BeamCLIP CSM through mmpretrain's stock
   ``tools/train.py`` for a few minutes;
4. prints the student's linear-probe and zero-shot accuracy next to a
   random-init ResNet-18 (same stock linear probe) and the teacher's own.

Needs ``pip install -e '.[benchmark]'``. Everything lands in ``--work-dir``.
"""
import argparse
import os
import os.path as osp
import sys

os.environ.setdefault('HF_HUB_OFFLINE', '1')
REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# The benchmark package (benchmarks/beamclip_bench) is not part of the wheel.
sys.path.insert(0, osp.join(REPO, 'benchmarks'))


def parse_args():
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
    parser.add_argument('--epochs', type=int, default=None,
                        help='distillation epochs (default: the demo '
                        "profile's)")
    return parser.parse_args()


def main():
    args = parse_args()
    os.chdir(REPO)
    work_dir = osp.abspath(args.work_dir)
    data_root = args.data_root
    if data_root is None:
        from beamclip_bench import fashion_mnist
        idx_dir = fashion_mnist.find_or_fetch(osp.join(work_dir, 'deb'))
        # 500 train images per class (5,000), the 10,000 test images as val.
        data_root = fashion_mnist.export_image_folder(
            idx_dir,
            osp.join(work_dir, 'fashion-mnist-32'),
            train_per_class=500,
            val_per_class=None,
            size=32)
    import quality  # noqa: I001  (benchmarks/quality.py, put on sys.path)
    from beamclip_bench.runner import PROFILES
    if args.epochs:
        PROFILES[args.profile]['epochs'] = args.epochs
    out = quality.main([
        '--profile', args.profile, '--data-root', data_root, '--teacher',
        args.teacher, '--rows', 'random,csm', '--work-dir', work_dir
    ])
    print_summary(out, data_root, work_dir)


def print_summary(out: dict, data_root: str, work_dir: str):
    """The demo's verdict: student vs random init vs teacher."""
    rows, ref = out['rows'], out['teacher']['reference']
    rand, csm = rows['random'], rows['csm']
    print('\n' + '=' * 78)
    print(f'Demo on {data_root}: {len(out["classes"])} classes, '
          f'{out["num_images"]["pretrain"]} unlabeled train images, '
          f'{out["num_images"]["val"]} val images')
    print(f'Teacher: {out["teacher"]["label"]}')
    print(f'{"top-1 on val":32s}{"linear probe":>14s}{"linear probe":>14s}'
          f'{"zero-shot":>11s}')
    print(f'{"":32s}{"(converged)":>14s}{"(stock SGD)":>14s}')
    print(f'{"ResNet-18, random init":32s}{rand["logreg_probe"]:13.1f}%'
          f'{rand["linear_probe"]:13.1f}%{"-":>11s}')
    print(f'{"ResNet-18, BeamCLIP CSM student":32s}'
          f'{csm["logreg_probe"]:13.1f}%{csm["linear_probe"]:13.1f}%'
          f'{csm.get("zero_shot", float("nan")):10.1f}%')
    print(f'{"teacher (reference)":32s}{ref["linear_probe"]:13.1f}%'
          f'{"-":>14s}{ref["zero_shot"]:10.1f}%')
    print(f'Distillation took {csm["pretrain_seconds"] / 60:.1f} min '
          f'(stock tools/train.py); details in {work_dir}')
    if 'proxy' in out['teacher']['label']:
        print('No genuine CLIP weights were used: the teacher is a '
              'CLIP-proxy built from ImageNet EfficientNet-Lite0 + MiniLM-L6.')


if __name__ == '__main__':
    main()
