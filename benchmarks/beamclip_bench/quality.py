"""The equal-budget quality benchmark behind ``benchmarks/quality.py``.

Builds (or reuses) the teacher, caches its embeddings of N pre-sampled
views per training image once, trains every row with mmpretrain's stock
``tools/train.py`` on view-matched targets (same image size, epochs, batch,
optimizer and schedule), probes every backbone with the same converged
probe (and the stock SGD linear probe), and writes the results JSON, a plot
and its section of ``benchmarks/RESULTS.md``.
"""
import os
import os.path as osp
import time
from typing import List, Optional

from . import report
from .common import REPO
from .environment import environment
from .fashion_mnist import profile_folder
from .profiles import PROFILES
from .results import invocation, merge_runs, num_images, read, record, write
from .rows import DEFAULT_ROWS, ROWS, check_rows
from .runs import run_row
from .statistics import summarize
from .subsets import prepare_data
from .teacher import build_teacher_spec, cache_teacher, teacher_reference

# Only these profiles write next to RESULTS.md; smoke and demo runs stay in
# the work dir.
REPORTED = ('quick', 'long', 'full')


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
    profile = profile_settings(name, epochs, no_stock_probe)
    rows = rows or list(DEFAULT_ROWS)
    check_rows(rows)
    work_dir = osp.join(REPO, work_dir)
    if data_root == 'fashion-mnist':
        # A report needs only the folder's name, not the export.
        data_root = profile_folder(work_dir, profile, export=not report_only)
    data_root = osp.join(REPO, data_root)
    prefix, results, title = outputs(name, data_root, work_dir, out_prefix,
                                     results)
    if report_only:
        return write_report(prefix, results, title)
    os.makedirs(work_dir, exist_ok=True)
    env = environment()
    t_start = time.time()

    def log(msg):
        print(f'[quality {time.time() - t_start:7.1f}s] {msg}', flush=True)

    # Runs (and their subset lists) per (profile, data): another profile
    # or dataset in the same work dir shares its teacher and cache but
    # never its runs.
    runs_dir = osp.join(
        work_dir, f'{name}_{osp.basename(osp.normpath(data_root))}')
    data = prepare_data(data_root, runs_dir, profile)
    log(f'data: {len(data["classes"])} classes, {data["pretrain_num"]} '
        f'pre-training, {data["probe_num"]} probe, {data["val_num"]} val '
        'images')
    setup = setup_teacher(teacher, rows, data, profile, work_dir, log)
    seeds = seeds or profile['seeds']
    runs = [
        run_row(r, data, profile, seed, runs_dir, setup['teacher'], log,
                reuse_pretrain=reuse_pretrain, curve=seed == seeds[0])
        for r in rows for seed in seeds
    ]
    part = invocation(
        runs, seeds, command or f'python benchmarks/quality.py --profile '
        f'{name}', env, round(time.time() - t_start, 1))
    part.update(setup)
    old = read(prefix + '.json') if merge else None
    if old is not None:
        part = merge_runs(part, old)
        log(f'merged with the runs of {prefix}.json')
    out = record(
        name, profile, data, part, env,
        report.describe_data(data['data_root'], data['classes'],
                             num_images(data)))
    write(prefix + '.json', out)
    log(f'wrote {prefix}.json in {out["total_seconds"]} s total')
    render(out, summarize(out['runs']), prefix, results, title)
    return out


def profile_settings(name: str, epochs: Optional[int],
                     no_stock_probe: bool) -> dict:
    """A profile's settings with the command line's overrides."""
    profile = dict(PROFILES[name])
    if epochs:
        profile['epochs'] = epochs
    if no_stock_probe:
        profile['stock_probe'] = False
    return profile


def outputs(name: str, data_root: str, work_dir: str,
            out_prefix: Optional[str], results: Optional[str]) -> tuple:
    """Where a run writes: the JSON/plot prefix, the RESULTS.md file (None:
    none) and its section's title.

    One JSON, plot and RESULTS.md section per (profile, data): the
    benchmark runs on several datasets.
    """
    reported = name in REPORTED
    dataset = osp.basename(osp.normpath(data_root))
    prefix = out_prefix or (
        osp.join(REPO, 'benchmarks', f'quality_{name}_{dataset}')
        if reported else osp.join(work_dir, f'quality_{name}'))
    if results is None and reported:
        results = osp.join(REPO, 'benchmarks', 'RESULTS.md')
    return prefix, results, f'## Quality: `{dataset}`, profile `{name}`'


def setup_teacher(spec: str, rows: List[str], data: dict, profile: dict,
                  work_dir: str, log) -> dict:
    """The teacher built, its targets of every replayed view cached once,
    and its reference, where a row reads it.

    Returns:
        dict: ``teacher`` (:func:`cache_teacher`'s record, None where no
        row reads a teacher), ``reference`` and ``teacher_seconds``.
    """
    tinfo = tref = None
    t0 = time.time()
    if any(ROWS[r].get('teacher') for r in rows):
        spec = build_teacher_spec(spec, data, profile, work_dir, log)
        tinfo = cache_teacher(spec, data, profile, work_dir, log)
        tref = teacher_reference(tinfo['cfg'], data, profile,
                                 tinfo['templates'])
        log(f'teacher reference: {tref}')
    return dict(teacher=tinfo, reference=tref,
                teacher_seconds=round(time.time() - t0, 1))


def render(out: dict, summary: dict, prefix: str, results_md: Optional[str],
           title: str):
    """The plot, the table on stdout and (where asked for) the RESULTS.md
    section of a results record."""
    # Tables list the rows in canonical order.
    order = [r for r in ROWS if r in summary]
    tref, label = out['teacher']['reference'], out['teacher']['label']
    report.plot(summary, tref, prefix + '.png', order)
    print(report.table(summary, tref, label, order))
    if results_md:
        report.write_section(
            results_md,
            report.section_body(out, summary, tref, label, order,
                                osp.basename(prefix)) + notes(prefix),
            title)
        print(f'updated {results_md}')


def write_report(prefix: str, results_md: Optional[str], title: str) -> dict:
    """Plot and RESULTS.md section from an existing JSON."""
    out = read(prefix + '.json')
    if out is None:
        raise FileNotFoundError(f'{prefix}.json: no results to report')
    render(out, summarize(out['runs']), prefix, results_md, title)
    return out


def notes(prefix: str) -> str:
    """Hand-written findings (``<prefix>_notes.md``) for the section."""
    path = prefix + '_notes.md'
    if not osp.isfile(path):
        return ''
    with open(path) as f:
        return '\n\n' + f.read().strip()
