"""Equal-budget quality benchmark of BeamCLIP against its baselines.

    python benchmarks/quality.py --profile quick

Builds (or reuses) the teacher (by default the CLIP-proxy teacher), caches
its embeddings of N pre-sampled views per training image once, trains every
row with mmpretrain's stock tools/train.py on view-matched targets (same
image size, epochs, batch, optimizer and schedule), probes every backbone
with the same converged probe (and the stock SGD linear probe), and writes
benchmarks/quality_<profile>_<data folder>.json, a plot and its "## Quality"
section of benchmarks/RESULTS.md. See docs/benchmark.md.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import List, Optional

os.environ.setdefault('HF_HUB_OFFLINE', '1')
# The benchmark package sits beside this script, outside the wheel.
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from beamclip_bench import report  # noqa: E402
from beamclip_bench.common import REPO  # noqa: E402
from beamclip_bench.runner import (DEFAULT_ROWS, PROFILES, ROWS,  # noqa: E402
                                   build_teacher_spec, cache_teacher,
                                   prepare_data, run_row, summarize,
                                   teacher_reference)

from mmbeamclip.utils import atomic_write  # noqa: E402


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
    parser.add_argument('--epochs', type=int, default=None,
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
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    command = 'python benchmarks/quality.py ' + ' '.join(
        sys.argv[1:] if argv is None else argv)
    kwargs = dict(vars(args))
    kwargs['rows'] = [r for r in args.rows.split(',') if r]
    kwargs['seeds'] = [int(s) for s in args.seeds.split(',')] \
        if args.seeds else None
    return run(command=command, **kwargs)


def run(profile: str = 'quick',
        data_root: str = '../shared/data/imagenette-128',
        work_dir: str = 'work_dirs/quality',
        teacher: str = 'proxy',
        rows: Optional[List[str]] = None,
        seeds: Optional[List[int]] = None,
        epochs: Optional[int] = None,
        no_stock_probe: bool = False,
        results: Optional[str] = None,
        merge: bool = False,
        reuse_pretrain: bool = False,
        report_only: bool = False,
        out_prefix: Optional[str] = None,
        command: Optional[str] = None) -> dict:
    """Run the benchmark (see the module docs); returns its JSON record.

    Relative paths (data root, work dir) are relative to the repository.
    """
    name = profile
    profile = dict(PROFILES[name])
    if epochs:
        profile['epochs'] = epochs
    if no_stock_probe:
        profile['stock_probe'] = False
    seeds = seeds or profile['seeds']
    rows = rows or list(DEFAULT_ROWS)
    for r in rows:
        if r not in ROWS:
            raise SystemExit(f'unknown row {r!r}; known: {list(ROWS)}')
    # Only the reported profiles write next to RESULTS.md; smoke and demo
    # runs stay in the work dir.
    reported = name in ('quick', 'long', 'full')
    work_dir = osp.join(REPO, work_dir)
    if data_root == 'fashion-mnist':
        # A report needs only the folder's name, not the export.
        data_root = fashion_mnist_folder(work_dir, profile,
                                         export=not report_only)
    data_root = osp.join(REPO, data_root)
    # One JSON, plot and RESULTS.md section per (profile, data): the
    # benchmark runs on several datasets.
    dataset = osp.basename(osp.normpath(data_root))
    prefix = out_prefix or (
        osp.join(REPO, 'benchmarks', f'quality_{name}_{dataset}')
        if reported else osp.join(work_dir, f'quality_{name}'))
    title = f'## Quality: `{dataset}`, profile `{name}`'
    if results is None and reported:
        results = osp.join(REPO, 'benchmarks', 'RESULTS.md')
    if report_only:
        return write_report(prefix, results, title)
    os.makedirs(work_dir, exist_ok=True)
    env = report.environment()
    t_start = time.time()

    def log(msg):
        print(f'[quality {time.time() - t_start:7.1f}s] {msg}', flush=True)

    # Runs (and their subset lists) per (profile, data): another profile
    # or dataset in the same work dir shares its teacher and cache but
    # never its runs.
    runs_dir = osp.join(work_dir, f'{name}_{dataset}')
    data = prepare_data(data_root, runs_dir, profile)
    log(f'data: {len(data["classes"])} classes, {data["pretrain_num"]} '
        f'pre-training, {data["probe_num"]} probe, {data["val_num"]} val '
        'images')

    # Teacher: built, then its targets of every replayed view cached once.
    need_teacher = any(ROWS[r].get('teacher') for r in rows)
    tinfo = tref = None
    t0 = time.time()
    if need_teacher:
        spec = build_teacher_spec(teacher, data, profile, work_dir, log)
        tinfo = cache_teacher(spec, data, profile, work_dir, log)
        tref = teacher_reference(tinfo['cfg'], data, profile,
                                 tinfo['templates'])
        log(f'teacher reference: {tref}')
    teacher_seconds = round(time.time() - t0, 1)

    runs = [
        run_row(r, data, profile, seed, runs_dir, tinfo, log,
                reuse_pretrain=reuse_pretrain, curve=seed == seeds[0])
        for r in rows for seed in seeds
    ]
    total = round(time.time() - t_start, 1)
    commands = [command or f'python benchmarks/quality.py --profile {name}']
    # Merged runs may come from other machines: each run names its CPU and
    # each invocation keeps its own hardware, load and wall time.
    for r in runs:
        r['hardware'] = env['hardware']['cpu']
    invocations = [
        dict(command=commands[0], hardware=env['hardware'],
             versions=env['versions'], load_start=env['load_start'],
             load_end=report.load_average(), seconds=total)
    ]
    if merge and osp.isfile(prefix + '.json'):
        with open(prefix + '.json') as f:
            old = json.load(f)
        report.name_run_cpus(old)
        # A run is a (row, seed): new seeds of a row add to its old ones.
        done = {(r['row'], r['seed']) for r in runs}
        runs = [r for r in old['runs']
                if (r['row'], r['seed']) not in done] + runs
        seeds = sorted({r['seed'] for r in runs})
        rows = list(dict.fromkeys(list(old['rows']) + rows))
        commands = old['commands'] + commands
        invocations = report.invocations(old) + invocations
        total += old.get('total_seconds', 0)
        # The first run built the teacher; later ones reuse its cache.
        teacher_seconds = max(teacher_seconds,
                              old['teacher'].get('setup_seconds') or 0)
        tinfo = tinfo or old['teacher']
        tref = tref or old['teacher']['reference']
        log(f'merged with the runs of {prefix}.json')
    summary = summarize(runs)
    num_images = dict(
        pretrain=data['pretrain_num'],
        probe=data['probe_num'],
        heldout=data.get('heldout_num', 0),
        val=data['val_num'])
    out = dict(
        profile=name,
        settings=profile,
        seeds=seeds,
        data_root=data['data_root'],
        classes=data['classes'],
        num_images=num_images,
        data_description=report.describe_data(data['data_root'],
                                              data['classes'], num_images),
        teacher=dict(
            label=tinfo['label'] if tinfo else None,
            spec=tinfo['spec'] if tinfo else None,
            num_views=tinfo['num_views'] if tinfo else None,
            reference=tref,
            setup_seconds=teacher_seconds),
        rows={k: {kk: vv for kk, vv in v.items() if kk != 'runs'}
              for k, v in summary.items()},
        runs=runs,
        gap_closure=report.gap_closures(summary),
        total_seconds=total,
        load_end=invocations[-1]['load_end'],
        invocations=invocations,
        commands=commands,
        **env)
    text = json.dumps(out, indent=1).encode()
    atomic_write(prefix + '.json', lambda f: f.write(text))
    log(f'wrote {prefix}.json in {total} s total')
    _write(out, summary, prefix, results, title)
    return out


def fashion_mnist_folder(work_dir: str, profile: dict,
                         export: bool = True) -> str:
    """Fashion-MNIST as an image folder with enough images per class for
    the profile's subsets (all of them where it takes all), at its student
    size (at least the 28 px of the originals); exported unless ``export``
    is False (the folder's path only)."""
    from beamclip_bench import fashion_mnist
    n, held = profile['train_per_class'], profile.get('heldout_per_class')
    train = n + (held or 0) if n else None
    val = profile['val_per_class']
    size = max(32, profile['img_size'])
    # The settings name the folder: an export never mixes with another.
    name = f'fashion-mnist-{size}px-{train or "all"}-{val or "all"}'
    if not export:
        return osp.join(work_dir, name)
    return fashion_mnist.image_folder(
        work_dir, name, train_per_class=train, val_per_class=val,
        size=size)


def _write(out: dict, summary: dict, prefix: str, results: Optional[str],
           title: str):
    # Tables list the rows in canonical order.
    order = [r for r in ROWS if r in summary]
    tref, label = out['teacher']['reference'], out['teacher']['label']
    report.plot(summary, tref, prefix + '.png', order)
    print(report.table(summary, tref, label, order))
    if results:
        report.write_section(
            results,
            report.section_body(out, summary, tref, label, order,
                                osp.basename(prefix)) + _notes(prefix),
            title)
        print(f'updated {results}')


def write_report(prefix: str, results: Optional[str], title: str) -> dict:
    """Plot and RESULTS.md section from an existing JSON."""
    with open(prefix + '.json') as f:
        out = json.load(f)
    _write(out, summarize(out['runs']), prefix, results, title)
    return out


def _notes(prefix):
    """Hand-written findings (``<prefix>_notes.md``) for the section."""
    path = prefix + '_notes.md'
    if not osp.isfile(path):
        return ''
    with open(path) as f:
        return '\n\n' + f.read().strip()


if __name__ == '__main__':
    main()
