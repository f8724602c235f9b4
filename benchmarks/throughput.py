"""Training throughput: plain student vs BeamCLIP online vs BeamCLIP cached.

    python benchmarks/throughput.py                       # CPU, tiny teacher
    python benchmarks/throughput.py --device cuda --teacher-name ViT-B-16 \
        --random-teacher --batch-size 256 --img-size 224 [--amp]

Measures, at the same batch and image size and in one run, on the shipped
configs (``beamclip_bench.throughput``):
  (a) a plain supervised student step (mmpretrain ImageClassifier, ResNet-18);
  (b) a BeamCLIP step with the online teacher (OpenCLIPTeacher);
  (c) a BeamCLIP step with targets read from a teacher-target cache
      (CachedTeacher over a cache of generated images, built by the
      package's builder);
and prints images/s, peak memory and the step-cost ratios b/a and c/a (the
issue's target: c/a <= 1.10). Each setting runs in its own process so that
CPU peak memory (max RSS) is per setting. Data loading is excluded: every
step reuses one pre-made uint8 batch (the replay transform costs what the
random crop it replaces costs). It also times reloading realistic-size
prompt banks from the cache (target <= 1 s).
"""
import argparse
import json
import os

os.environ.setdefault('HF_HUB_OFFLINE', '1')

from beamclip_bench import throughput  # noqa: E402

from mmbeamclip.utils import arg_types  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--batch-size',
                        type=arg_types.positive_int,
                        default=32)
    parser.add_argument('--img-size', type=arg_types.positive_int, default=64)
    parser.add_argument('--iters',
                        type=arg_types.positive_int,
                        default=10,
                        help='timed steps')
    parser.add_argument('--warmup', type=arg_types.non_negative_int, default=2)
    parser.add_argument(
        '--teacher-dir',
        help='open_clip local-dir: folder (default on CPU: a generated '
        'tiny random teacher)')
    parser.add_argument('--teacher-name',
                        help='open_clip model name, e.g. ViT-B-16')
    parser.add_argument('--teacher-pretrained', help='tag or weight file')
    parser.add_argument('--random-teacher',
                        action='store_true',
                        help='random teacher weights (speed only)')
    parser.add_argument(
        '--teacher-precision',
        default='fp32',
        help='OpenCLIPTeacher precision: fp32, fp16, bf16, pure_fp16...')
    parser.add_argument('--amp',
                        action='store_true',
                        help='AMP optimizer wrapper (GPU)')
    parser.add_argument('--num-anchors',
                        type=arg_types.positive_int,
                        default=1000)
    parser.add_argument(
        '--cache-samples',
        type=arg_types.positive_int,
        default=256,
        help='generated images the cached setting\'s teacher-target cache '
        'is built over (by the package\'s builder)')
    parser.add_argument('--cache-views',
                        type=arg_types.positive_int,
                        default=4)
    parser.add_argument('--modes', default='abc')
    parser.add_argument('--threads',
                        type=arg_types.positive_int,
                        help='torch CPU threads')
    parser.add_argument('--no-bank-reload',
                        action='store_true',
                        help='skip the prompt-bank reload timing')
    parser.add_argument(
        '--bank-sizes',
        default='1000,80000',
        help='anchors of the prompt banks whose reload is timed')
    parser.add_argument(
        '--in-process',
        action='store_true',
        help='run all settings in this process, steps interleaved '
        '(robust to load drift on a shared machine; no peak memory)')
    parser.add_argument('--json', help='also write the results here')
    parser.add_argument('--workdir', help=argparse.SUPPRESS)
    parser.add_argument('--only', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from mmbeamclip.utils import check_not_input
    check_not_input(
        args.json,
        dict(teacher_dir=args.teacher_dir,
             teacher_pretrained=args.teacher_pretrained),
        parser=parser)
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.only:  # a child process: one setting, JSON on stdout
        print(json.dumps(throughput.run_only(args)))
        return None
    return throughput.run(args)


if __name__ == '__main__':
    main()
