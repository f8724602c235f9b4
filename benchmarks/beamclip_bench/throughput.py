"""Training throughput on the shipped configs: plain student vs BeamCLIP
with the online teacher vs BeamCLIP on cached teacher targets (the logic of
``benchmarks/throughput.py``).

Each setting is a shipped config, loaded and overridden (teacher, neck
width): (a) the supervised row's ``ImageClassifier`` on the shipped
image-folder config, (b) ``configs/beamclip/beamclip_resnet18_vit-b32-
openai_1xb32-2e_imagefolder.py``, (c) its ``-cached`` variant, whose
teacher-target cache is built over generated images through
:func:`mmbeamclip.teacher_cache.build_teacher_cache_from_config`. Data
loading is excluded: every step reuses one pre-made uint8 batch.
"""
import json
import os
import os.path as osp
import subprocess
import sys
import time

import torch

from .common import CONFIG_DIR, REPO, teacher_cfg
from .row_configs import set_cache_dir
from .tiny_clip import write_tiny_clip

MODES = dict(
    a='plain supervised student (ImageClassifier ResNet-18)',
    b='BeamCLIP, online teacher',
    c='BeamCLIP, cached teacher targets')
CONFIGS = dict(
    a=osp.join(CONFIG_DIR, 'supervised_resnet18.py'),
    b=osp.join(REPO, 'configs', 'beamclip',
               'beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py'),
    c=osp.join(
        REPO, 'configs', 'beamclip',
        'beamclip_resnet18_vit-b32-openai-cached_1xb32-2e_imagefolder.py'))
NUM_CLASSES = 1000


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def online_teacher_cfg(args) -> dict:
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


def mode_config(mode: str, args, embed_dim: int):
    """The shipped config of a setting, pointed at the run's teacher,
    its embedding size and (cached) the run's cache over the generated
    images of ``args.workdir``."""
    from mmengine.config import Config
    cfg = Config.fromfile(CONFIGS[mode])
    if mode == 'a':
        cfg.model['head']['num_classes'] = NUM_CLASSES
        cfg.model['data_preprocessor']['num_classes'] = NUM_CLASSES
        return cfg
    cfg.model['neck']['out_channels'] = embed_dim
    if mode == 'b':
        cfg.model['target_generator'] = online_teacher_cfg(args)
        return cfg
    cfg.model['target_generator']['teacher'] = online_teacher_cfg(args)
    set_cache_dir(cfg, osp.join(args.workdir, 'cache'))
    dataset = cfg.train_dataloader['dataset']
    dataset.update(data_root=osp.join(args.workdir, 'images'),
                   data_prefix='train')
    cfg.train_dataloader['num_workers'] = 0
    return cfg


def write_images(root: str, num: int, size: int):
    """``num`` random RGB images in one class folder of ``root/train``."""
    import numpy as np
    from PIL import Image
    folder = osp.join(root, 'train', 'images')
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(num):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(osp.join(folder, f'{i:06d}.png'))


def build_cache(args, embed_dim: int) -> dict:
    """The cached setting's teacher-target cache, built by the package's
    builder over ``args.cache_samples`` generated images."""
    from mmbeamclip.teacher_cache import build_teacher_cache_from_config
    write_images(osp.join(args.workdir, 'images'), args.cache_samples,
                 args.img_size)
    cfg = mode_config('c', args, embed_dim)
    log(f'[setup] caching the teacher: {args.cache_samples} images x '
        f'{args.cache_views} views')
    return build_teacher_cache_from_config(
        cfg, device=args.device, num_views=args.cache_views,
        batch_size=args.batch_size, num_workers=0, progress=False)


def build_model(mode: str, args):
    """The setting's model, with a random prompt bank for BeamCLIP."""
    from mmpretrain.registry import MODELS
    with open(osp.join(args.workdir, 'teacher.json')) as f:
        embed_dim = json.load(f)['embed_dim']
    model = MODELS.build(mode_config(mode, args, embed_dim).model)
    if mode != 'a':
        bank = torch.nn.functional.normalize(
            torch.randn(args.num_anchors, embed_dim), dim=-1)
        model.head.set_prompt_bank(bank, torch.arange(args.num_anchors),
                                   '0' * 64)
    return model


def make_batch(mode: str, args) -> dict:
    """One fixed batch of random uint8 images (labels, or cache indices
    and views)."""
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(0)
    n = args.batch_size
    inputs = torch.randint(
        0, 256, (n, 3, args.img_size, args.img_size),
        dtype=torch.uint8,
        generator=g)
    samples = []
    for _ in range(n):
        s = DataSample()
        if mode == 'a':
            s.set_gt_label(
                int(torch.randint(0, NUM_CLASSES, (1, ), generator=g)))
        else:
            idx, view = (int(torch.randint(0, k, (1, ), generator=g))
                         for k in (args.cache_samples, args.cache_views))
            s.set_metainfo(dict(sample_idx=idx, cache_view=view))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def peak_memory_mb(device: str) -> tuple:
    import resource
    if device.startswith('cuda'):
        return torch.cuda.max_memory_allocated() / 2**20, 'GPU max allocated'
    # ru_maxrss is in KiB on Linux: the whole process's peak.
    return resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss / 1024, 'CPU max RSS (process)'


def make_step(mode: str, args):
    """Build one setting; return a function running one training step."""
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


def summarize_steps(mode: str, times, args, memory=None,
                    memory_kind='n/a') -> dict:
    """Median step time, images/s and peak memory of one setting."""
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


def run_mode(mode: str, args) -> dict:
    """One setting alone (in its own process: peak memory is its own)."""
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
    return summarize_steps(mode, times, args, memory, memory_kind)


def run_interleaved(args) -> list:
    """All settings in this process, timed steps taken round-robin.

    On a shared machine the load drifts; alternating a, b, c step by step
    exposes every setting to the same drift, so the ratios stay meaningful.
    Peak memory is then not per setting and is not reported.
    """
    if args.threads:
        torch.set_num_threads(args.threads)
    steps = {mode: make_step(mode, args) for mode in args.modes}
    for mode, step in steps.items():
        for _ in range(args.warmup):
            step()
        log(f'[{mode}] warmed up')
    times = {mode: [] for mode in steps}
    for i in range(args.iters):
        for mode, step in steps.items():
            times[mode].append(step())
        log(f'[round {i + 1}/{args.iters}] ' + ', '.join(
            f'{m}: {t[-1] * 1e3:.0f} ms' for m, t in times.items()))
    return [summarize_steps(mode, t, args) for mode, t in times.items()]


def time_bank_reload(workdir: str, sizes=(1000, 80000)) -> list:
    """Write random realistic banks through the cache API, time reloads.

    1000 anchors is ImageNet with the 80 templates averaged per class
    (``aggregate='mean'``); 80000 keeps every prompt (``'none'``).
    """
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
            if loaded is None:
                raise RuntimeError(f'prompt bank {path} did not reload')
        rows.append(
            dict(bank=name, shape=[k, 512],
                 file_mb=osp.getsize(path) / 2**20, first_s=times[0],
                 best_s=min(times)))
        log(f'[bank] {name}: reload {times[0]:.3f} s (best {min(times):.3f})')
    return rows


def prepare(args):
    """The teacher (its folder, embed_dim in ``teacher.json``) and, for the
    cached setting, its cache: shared by the per-setting runs."""
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS

    import mmbeamclip  # noqa: F401
    init_default_scope('mmpretrain')
    if not args.teacher_name and not args.teacher_dir:
        args.teacher_dir = write_tiny_clip(
            osp.join(args.workdir, 'tiny_teacher'))
    log('[setup] building the teacher once to read its embedding size')
    teacher = MODELS.build(online_teacher_cfg(args))
    with open(osp.join(args.workdir, 'teacher.json'), 'w') as f:
        json.dump(
            dict(
                embed_dim=teacher.embed_dim,
                image_size=list(teacher.image_size),
                teacher_id=teacher.teacher_id), f)
    if 'c' in args.modes:
        build_cache(args, teacher.embed_dim)
    return teacher


def child_argv(args, mode: str) -> list:
    """The command line that runs one setting in a fresh process."""
    argv = [
        sys.executable,
        osp.join(REPO, 'benchmarks', 'throughput.py'), '--only', mode,
        '--workdir', args.workdir
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


def run_child(args, mode: str) -> dict:
    """One setting in a fresh process; its JSON result is the last line."""
    out = subprocess.run(
        child_argv(args, mode), stdout=subprocess.PIPE, check=True,
        text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_only(args) -> dict:
    """A child process: one setting."""
    from mmengine.registry import init_default_scope

    import mmbeamclip  # noqa: F401
    init_default_scope('mmpretrain')
    return run_mode(args.only, args)


def run(args) -> dict:
    """Time the settings of ``args.modes`` (and the prompt-bank reload) in
    a temporary folder; returns the report, also printed."""
    import tempfile

    from .environment import hardware, load_average, versions
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
        hardware=hardware(),
        versions=versions(),
        load_end=load_average(),
        settings=settings(args, teacher),
        results=results,
        prompt_bank_reload=banks,
        step_cost_ratios=step_cost_ratios(results))
    print_report(report, args)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)
    return report


def settings(args, teacher) -> dict:
    """What the run measured, for its report."""
    return dict(
        device=args.device,
        batch_size=args.batch_size,
        img_size=args.img_size,
        iters=args.iters,
        warmup=args.warmup,
        torch_threads=args.threads or torch.get_num_threads(),
        in_process=args.in_process,
        amp=args.amp,
        configs={m: osp.relpath(CONFIGS[m], REPO) for m in args.modes},
        teacher=teacher.teacher_id,
        teacher_image_size=list(teacher.image_size),
        teacher_precision=args.teacher_precision,
        num_anchors=args.num_anchors,
        cache=f'{args.cache_samples} samples x {args.cache_views} views')


def step_cost_ratios(results: list) -> dict:
    """Median step time of (b) and (c) over (a)'s, where measured."""
    by_mode = {r['mode']: r for r in results}
    if 'a' not in by_mode:
        return {}
    base = by_mode['a']['step_ms_median']
    return {f'{m}/a': by_mode[m]['step_ms_median'] / base
            for m in 'bc' if m in by_mode}


def print_report(report: dict, args):
    hw = report['hardware']
    gpu = ', ' + hw['gpu'] if hw.get('gpu') else ''
    print(f"\nThroughput on {args.device} ({hw['cpu']}{gpu}), "
          f'batch {args.batch_size}, {args.img_size} px')
    print(f'{"setting":60s} {"img/s":>8s} {"ms/step":>8s} {"peak MB":>8s}')
    for r in report['results']:
        memory = '-' if r['peak_memory_mb'] is None else \
            f"{r['peak_memory_mb']:.0f}"
        print(f"({r['mode']}) {r['setting']:56s} {r['images_per_s']:8.1f} "
              f"{r['step_ms_median']:8.1f} {memory:>8s}")
    for name, ratio in report['step_cost_ratios'].items():
        print(f'step cost {name}: {ratio:.3f}')
    for b in report['prompt_bank_reload']:
        print(f"prompt bank {b['bank']}: reload {b['first_s']:.3f} s "
              f"(best {b['best_s']:.3f} s, {b['file_mb']:.0f} MB)")
