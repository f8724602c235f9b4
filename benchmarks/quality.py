"""Equal-budget quality benchmark of BeamCLIP against its baselines.

    python benchmarks/quality.py --profile quick

Builds (or reuses) the teacher (by default the CLIP-proxy teacher), caches
its embeddings of N pre-sampled views per training image once, trains every
row with mmpretrain's stock tools/train.py on view-matched targets (same
image size, epochs, batch, optimizer and schedule), probes every backbone
with the same converged probe (and the stock SGD linear probe), and writes
benchmarks/quality_<profile>_<data folder>.json, a plot and its "## Quality"
section of benchmarks/RESULTS.md (``beamclip_bench.quality.run``). See
docs/benchmark.md.
"""
import argparse
import os
import sys

os.environ.setdefault('HF_HUB_OFFLINE', '1')

from beamclip_bench.profiles import PROFILES  # noqa: E402
from beamclip_bench.quality import run  # noqa: E402
from beamclip_bench.rows import DEFAULT_ROWS, ROWS  # noqa: E402

from mmbeamclip.utils.arg_types import positive_int  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--profile', choices=list(PROFILES), default='quick')
    parser.add_argument(
        '--data-root', default='../shared/data/imagenette-128',
        help='any ImageNet-layout folder (train/<class>/*, val/<class>/*); '
        'relative paths are relative to the repository root; '
        "'fashion-mnist': Fashion-MNIST from the Debian package, exported "
        "into the work dir at the profile's sizes (a dataset the proxy's "
        'image tower never saw)')
    parser.add_argument('--work-dir', default='work_dirs/quality')
    parser.add_argument(
        '--teacher', default='proxy',
        help="'proxy' (build the CLIP-proxy teacher from the unlabeled "
        "train images), 'local-dir:DIR', or an open_clip MODEL:TAG such as "
        'ViT-B-32:openai (needs the weights)')
    parser.add_argument('--rows', default=','.join(DEFAULT_ROWS),
                        help=f'comma list out of {",".join(ROWS)}')
    parser.add_argument('--seeds', default=None,
                        help='comma list; defaults to the profile\'s')
    parser.add_argument('--epochs', type=positive_int, default=None,
                        help="pre-training epochs; defaults to the "
                        "profile's")
    parser.add_argument(
        '--no-stock-probe', action='store_true',
        help='only the converged probe (skip the stock SGD linear probe '
        'through train.py, about a minute per run on a 2-core CPU)')
    parser.add_argument('--results', default=None,
                        help='where the Quality section goes; defaults to '
                        'benchmarks/RESULTS.md (quick, long and full '
                        'profiles only)')
    parser.add_argument(
        '--merge', action='store_true',
        help='keep the runs (row, seed) of an earlier JSON of this profile '
        'that this invocation does not redo (e.g. to add rows or seeds to '
        'an existing table)')
    parser.add_argument(
        '--reuse-pretrain', action='store_true',
        help='reuse finished pre-training runs in the work dir (only the '
        'probes run again); they must come from the same settings')
    parser.add_argument(
        '--report-only', action='store_true',
        help='only rewrite the plot and the RESULTS.md section from the '
        'JSON of this profile')
    parser.add_argument('--out-prefix', default=None,
                        help='JSON/plot prefix; defaults to '
                        'benchmarks/quality_<profile>_<data folder name>')
    args = parser.parse_args(argv)
    from beamclip_bench.common import REPO

    from mmbeamclip.utils import check_not_input
    check_not_input(
        os.path.join(REPO, args.work_dir),
        {'data root': os.path.join(REPO, args.data_root)},
        parser=parser)
    return args


def main(argv=None):
    args = parse_args(argv)
    command = 'python benchmarks/quality.py ' + ' '.join(
        sys.argv[1:] if argv is None else argv)
    kwargs = dict(vars(args))
    kwargs['rows'] = [r for r in args.rows.split(',') if r]
    kwargs['seeds'] = [int(s) for s in args.seeds.split(',')] \
        if args.seeds else None
    return run(command=command, **kwargs)


if __name__ == '__main__':
    main()
