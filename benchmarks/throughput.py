"""Training throughput: plain student vs BeamCLIP online vs BeamCLIP cached.

    python benchmarks/throughput.py                       # CPU, tiny teacher
    python benchmarks/throughput.py --device cuda --teacher-name ViT-B-16 \
        --random-teacher --batch-size 256 --img-size 224 [--amp]

Measures, at the same batch and image size and in one run:
  (a) a plain supervised student step (mmpretrain ImageClassifier, ResNet-18);
  (b) a BeamCLIP step with the online teacher (OpenCLIPTeacher);
  (c) a BeamCLIP step with targets read from a teacher-target cache
      (CachedTeacher over a synthetic cache of the same format);
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
import os.path as osp
import subprocess
import sys
import tempfile
import time

# The benchmark package sits beside this script, outside the wheel.
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from beamclip_bench.common import (IMAGENET_MEAN, IMAGENET_STD,  # noqa: E402
                                   teacher_cfg)

MODES = dict(
    a='plain supervised student (ImageClassifier ResNet-18)',
    b='BeamCLIP, online teacher',
    c='BeamCLIP, cached teacher targets')
TINY_TEACHER = dict(
    embed_dim=32,
    vision_cfg=dict(
        image_size=32, layers=2, width=64, patch_size=8, head_width=32),
    text_cfg=dict(
        context_length=16, vocab_size=49408, width=32, heads=2, layers=1))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--img-size', type=int, default=64)
    parser.add_argument('--iters', type=int, default=10, help='timed steps')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument(
        '--teacher-dir',
        help='open_clip local-dir: folder (default on CPU: a generated '
        'tiny random teacher)')
    parser.add_argument(
        '--teacher-name', help='open_clip model name, e.g. ViT-B-16')
    parser.add_argument('--teacher-pretrained', help='tag or weight file')
    parser.add_argument(
        '--random-teacher',
        action='store_true',
        help='random teacher weights (speed only)')
    parser.add_argument(
        '--teacher-precision',
        default='fp32',
        help='OpenCLIPTeacher precision: fp32, fp16, bf16, pure_fp16...')
    parser.add_argument(
        '--amp', action='store_true', help='AMP optimizer wrapper (GPU)')
    parser.add_argument('--num-anchors', type=int, default=1000)
    parser.add_argument(
        '--cache-samples', type=int, default=20000,
        help='samples in the synthetic cache')
    parser.add_argument('--cache-views', type=int, default=4)
    parser.add_argument('--modes', default='abc')
    parser.add_argument('--threads', type=int, help='torch CPU threads')
    parser.add_argument(
        '--no-bank-reload', action='store_true',
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
    return parser.parse_args(argv)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ models
def online_teacher_cfg(args):
    """The online teacher of the run (random weights where asked for)."""
    if args.teacher_name:
        spec = args.teacher_name
        if args.teacher_pretrained and not args.random_teacher:
            spec += ':' + args.teacher_pretrained
        return teacher_cfg(
            spec,
            precision=args.teacher_precision,
            allow_random_init=args.random_teacher)
    return teacher_cfg(
        f'local-dir:{args.teacher_dir}', precision=args.teacher_precision)


def write_tiny_teacher(folder):
    """A random tiny open_clip model in a local-dir: folder (CPU default)."""
    import open_clip
    import torch
    from open_clip.model import CLIP

    from mmbeamclip.utils.local_dir import write_local_dir
    torch.manual_seed(0)
    write_local_dir(
        folder,
        TINY_TEACHER,
        CLIP(**TINY_TEACHER).state_dict(),
        preprocess_cfg=dict(
            mean=list(open_clip.OPENAI_DATASET_MEAN),
            std=list(open_clip.OPENAI_DATASET_STD)))


def write_synthetic_cache(cache_dir, teacher_id, embed_dim, args):
    """A complete cache in the real format, filled with random targets."""
    import numpy as np

    from mmbeamclip.teacher_cache.store import (CACHE_VERSION, shard_bounds,
                                                write_manifest, write_shard)
    rng = np.random.default_rng(0)
    shard_size = 4096
    bounds = shard_bounds(args.cache_samples, shard_size)
    for shard, (start, end) in enumerate(bounds):
        emb = rng.standard_normal((end - start, args.cache_views, embed_dim))
        emb /= np.linalg.norm(emb, axis=-1, keepdims=True)
        views = np.zeros((end - start, args.cache_views, 5), np.int32)
        write_shard(cache_dir, shard, emb.astype(np.float16), views)
    write_manifest(
        cache_dir,
        dict(
            version=CACHE_VERSION,
            teacher_id=teacher_id,
            embed_dim=embed_dim,
            dataset=dict(
                type='synthetic',
                num_samples=args.cache_samples,
                file_list_sha256=''),
            views=dict(num_views=args.cache_views, seed=0, spec={}),
            shard_size=shard_size,
            dtype='float16',
            bank_key=None,
            num_shards=len(bounds),
            complete=True))


def build_model(mode, args):
    import torch
    from mmpretrain.registry import MODELS
    preprocessor = dict(
        mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD), to_rgb=True)
    if mode == 'a':
        return MODELS.build(
            dict(
                type='ImageClassifier',
                data_preprocessor=dict(
                    type='ClsDataPreprocessor', **preprocessor),
                backbone=dict(type='ResNet', depth=18, out_indices=(3, )),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(
                    type='LinearClsHead',
                    num_classes=1000,
                    in_channels=512,
                    loss=dict(type='CrossEntropyLoss'))))
    from mmbeamclip.models.teachers import open_clip_teacher_id
    online = online_teacher_cfg(args)
    if mode == 'b':
        target = online
    else:
        target = dict(
            type='CachedTeacher',
            cache_dir=osp.join(args.workdir, 'cache'),
            teacher=online)
    embed_dim = json.load(open(osp.join(args.workdir, 'teacher.json')))[
        'embed_dim']
    if mode == 'c' and not osp.isdir(target['cache_dir']):
        keys = ('model_name', 'pretrained', 'precision', 'force_quick_gelu')
        write_synthetic_cache(
            target['cache_dir'],
            open_clip_teacher_id(**{k: online[k]
                                    for k in keys if k in online}),
            embed_dim, args)
    model = MODELS.build(
        dict(
            type='BeamCLIP',
            data_preprocessor=dict(
                type='SelfSupDataPreprocessor', **preprocessor),
            backbone=dict(type='ResNet', depth=18, out_indices=(3, )),
            neck=dict(
                type='NonLinearNeck',
                in_channels=512,
                hid_channels=2048,
                out_channels=embed_dim,
                num_layers=2,
                with_last_bn=False,
                with_avg_pool=True,
                norm_cfg=dict(type='BN1d')),
            head=dict(type='CSMHead', loss=dict(type='CSMLoss')),
            target_generator=target))
    bank = torch.nn.functional.normalize(
        torch.randn(args.num_anchors, embed_dim), dim=-1)
    model.head.set_prompt_bank(bank, torch.arange(args.num_anchors),
                               '0' * 64)
    return model


def make_batch(mode, args):
    import torch
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(0)
    n = args.batch_size
    inputs = torch.randint(
        0, 256, (n, 3, args.img_size, args.img_size),
        dtype=torch.uint8,
        generator=g)
    samples = []
    for i in range(n):
        s = DataSample()
        if mode == 'a':
            s.set_gt_label(int(torch.randint(0, 1000, (1, ), generator=g)))
        else:
            s.set_metainfo(
                dict(
                    sample_idx=int(
                        torch.randint(0, args.cache_samples, (1, ),
                                      generator=g)),
                    cache_view=int(
                        torch.randint(0, args.cache_views, (1, ),
                                      generator=g))))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def peak_memory_mb(device):
    import resource

    import torch
    if device.startswith('cuda'):
        return torch.cuda.max_memory_allocated() / 2**20, 'GPU max allocated'
    # ru_maxrss is in KiB on Linux: the whole process's peak.
    return resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024, 'CPU max RSS (process)'


def make_step(mode, args):
    """Build one setting; return a function running one training step."""
    import torch
    from mmengine.optim import build_optim_wrapper
    log(f'[{mode}] building: {MODES[mode]}')
    model = build_model(mode, args).to(args.device)
    model.train()
    wrapper = dict(
        type='AmpOptimWrapper' if args.amp else 'OptimWrapper',
        optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
    optim_wrapper = build_optim_wrapper(model, wrapper)
    batch = make_batch(mode, args)
    cuda = args.device.startswith('cuda')

    def step():
        start = time.perf_counter()
        model.train_step(batch, optim_wrapper)
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start

    return step


def summarise(mode, times, args, memory=None, memory_kind='n/a'):
    times = sorted(times)
    median = times[len(times) // 2]
    return dict(
        mode=mode,
        setting=MODES[mode],
        step_ms_median=median * 1e3,
        images_per_s=args.batch_size / median,
        images_per_s_mean=args.batch_size * len(times) / sum(times),
        peak_memory_mb=memory,
        memory_kind=memory_kind)


def run_mode(mode, args):
    """One setting alone (in its own process: peak memory is its own)."""
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    step = make_step(mode, args)
    if args.device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
    for i in range(args.warmup):
        step()
        log(f'[{mode}] warm-up {i + 1}/{args.warmup}')
    times = []
    for i in range(args.iters):
        times.append(step())
        log(f'[{mode}] step {i + 1}/{args.iters}: {times[-1] * 1e3:.0f} ms')
    memory, memory_kind = peak_memory_mb(args.device)
    return summarise(mode, times, args, memory, memory_kind)


def run_interleaved(args):
    """All settings in this process, timed steps taken round-robin.

    On a shared machine the load drifts; alternating a, b, c step by step
    exposes every setting to the same drift, so the ratios stay meaningful.
    Peak memory is then not per setting and is not reported.
    """
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    steps = {mode: make_step(mode, args) for mode in args.modes}
    for mode, step in steps.items():
        for i in range(args.warmup):
            step()
        log(f'[{mode}] warmed up')
    times = {mode: [] for mode in steps}
    for i in range(args.iters):
        for mode, step in steps.items():
            times[mode].append(step())
        log(f'[round {i + 1}/{args.iters}] ' + ', '.join(
            f'{m}: {t[-1] * 1e3:.0f} ms' for m, t in times.items()))
    return [summarise(mode, t, args) for mode, t in times.items()]


# -------------------------------------------------------------- prompt bank
def time_bank_reload(workdir, sizes=(1000, 80000)):
    """Write random realistic banks through the cache API, time reloads.

    1000 anchors is ImageNet with the 80 templates averaged per class
    (``aggregate='mean'``); 80000 keeps every prompt (``'none'``).
    """
    import torch

    from mmbeamclip.prompts.prompt_bank import (load_prompt_bank,
                                                save_prompt_bank)
    rows = []
    for k in sizes:
        name = f'{k} x 512 anchors'
        bank = torch.nn.functional.normalize(torch.randn(k, 512), dim=-1)
        path = osp.join(workdir, f'bank_{k}.pth')
        key = f'{k:064d}'
        save_prompt_bank(path, bank, torch.arange(k) % 1000, key)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            loaded = load_prompt_bank(path, key)
            times.append(time.perf_counter() - start)
            assert loaded is not None
        rows.append(
            dict(
                bank=name,
                shape=[k, 512],
                file_mb=osp.getsize(path) / 2**20,
                first_s=times[0],
                best_s=min(times)))
        log(f'[bank] {name}: reload {times[0]:.3f} s (best {min(times):.3f})')
    return rows


# --------------------------------------------------------------------- main
def hardware(device):
    import platform

    import torch
    info = dict(
        cpu=platform.processor() or platform.machine(),
        cpu_count=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        torch=torch.__version__,
        python=platform.python_version())
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    info['cpu'] = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    if device.startswith('cuda'):
        info['gpu'] = torch.cuda.get_device_name()
    try:
        info['load_avg_1min'] = os.getloadavg()[0]
    except OSError:
        pass
    return info


def report_threads():
    import torch
    return torch.get_num_threads()


def prepare(args):
    """Teacher folder and its embed_dim, shared by the per-setting runs."""
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS

    import mmbeamclip  # noqa: F401
    init_default_scope('mmpretrain')
    if not args.teacher_name and not args.teacher_dir:
        args.teacher_dir = osp.join(args.workdir, 'tiny_teacher')
        write_tiny_teacher(args.teacher_dir)
    log('[setup] building the teacher once to read its embedding size')
    teacher = MODELS.build(online_teacher_cfg(args))
    with open(osp.join(args.workdir, 'teacher.json'), 'w') as f:
        json.dump(
            dict(
                embed_dim=teacher.embed_dim,
                image_size=list(teacher.image_size),
                teacher_id=teacher.teacher_id), f)
    return teacher


def child_argv(args, mode):
    argv = [
        sys.executable,
        osp.abspath(__file__), '--only', mode, '--workdir', args.workdir
    ]
    for key, value in vars(args).items():
        if key in ('only', 'workdir', 'json', 'in_process', 'modes'):
            continue
        flag = '--' + key.replace('_', '-')
        if isinstance(value, bool):
            if value:
                argv.append(flag)
        elif value is not None:
            argv += [flag, str(value)]
    return argv


def run_child(args, mode):
    """One setting in a fresh process; its JSON result is the last line."""
    out = subprocess.run(
        child_argv(args, mode),
        stdout=subprocess.PIPE,
        check=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    args = parse_args(argv)
    if args.only:  # a child process: one setting, JSON on stdout
        from mmengine.registry import init_default_scope

        import mmbeamclip  # noqa: F401
        init_default_scope('mmpretrain')
        print(json.dumps(run_mode(args.only, args)))
        return None
    with tempfile.TemporaryDirectory() as tmp:
        args.workdir = tmp
        teacher = prepare(args)
        if args.in_process:
            results = run_interleaved(args)
        else:
            results = [run_child(args, mode) for mode in args.modes]
        banks = [] if args.no_bank_reload else time_bank_reload(
            tmp, [int(k) for k in args.bank_sizes.split(',')])
    report = dict(
        hardware=hardware(args.device),
        settings=dict(
            device=args.device,
            batch_size=args.batch_size,
            img_size=args.img_size,
            iters=args.iters,
            warmup=args.warmup,
            torch_threads=args.threads or report_threads(),
            in_process=args.in_process,
            amp=args.amp,
            teacher=teacher.teacher_id,
            teacher_image_size=list(teacher.image_size),
            teacher_precision=args.teacher_precision,
            num_anchors=args.num_anchors,
            cache=f'{args.cache_samples} samples x {args.cache_views} views'),
        results=results,
        prompt_bank_reload=banks)
    by_mode = {r['mode']: r for r in results}
    ratios = {}
    if 'a' in by_mode:
        for m in 'bc':
            if m in by_mode:
                ratios[f'{m}/a'] = by_mode[m]['step_ms_median'] / by_mode[
                    'a']['step_ms_median']
    report['step_cost_ratios'] = ratios

    hw = report['hardware']
    gpu = ', ' + hw['gpu'] if hw.get('gpu') else ''
    print(f"\nThroughput on {args.device} ({hw['cpu']}{gpu}), "
          f'batch {args.batch_size}, {args.img_size} px')
    print(f'{"setting":60s} {"img/s":>8s} {"ms/step":>8s} {"peak MB":>8s}')
    for r in results:
        memory = '-' if r['peak_memory_mb'] is None else \
            f"{r['peak_memory_mb']:.0f}"
        print(f"({r['mode']}) {r['setting']:56s} {r['images_per_s']:8.1f} "
              f"{r['step_ms_median']:8.1f} {memory:>8s}")
    for name, ratio in ratios.items():
        print(f'step cost {name}: {ratio:.3f}')
    for b in banks:
        print(f"prompt bank {b['bank']}: reload {b['first_s']:.3f} s "
              f"(best {b['best_s']:.3f} s, {b['file_mb']:.0f} MB)")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == '__main__':
    main()
