"""Equal-budget quality benchmark of BeamCLIP against its baselines.

    python benchmarks/quality.py --profile quick

Builds (or reuses) the CLIP-proxy teacher, caches its image embeddings once,
trains every row with mmpretrain's stock tools/train.py (same image size,
epochs, batch, optimizer and schedule), linear-probes every backbone with
the same stock recipe, and writes benchmarks/quality_<profile>.json, a plot
and the "## Quality" section of benchmarks/RESULTS.md. See docs/benchmark.md.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

os.environ.setdefault('HF_HUB_OFFLINE', '1')
REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from beamclip_bench import report  # noqa: E402
from beamclip_bench.runner import (DEFAULT_ROWS, PROFILES,  # noqa: E402
                                         ROWS, build_teacher_cache,
                                         config_available, gap_closure,
                                         prepare_data, run_row, summarize,
                                         teacher_cfg, teacher_reference)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--profile', choices=list(PROFILES), default='quick')
    parser.add_argument(
        '--data-root', default='../shared/data/imagenette-128',
        help='any ImageNet-layout folder (train/<class>/*, val/<class>/*); '
        'relative paths are relative to the repository root')
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
    parser.add_argument('--results', default=None,
                        help='where the Quality section goes; defaults to '
                        'benchmarks/RESULTS.md (quick/full profiles only)')
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
                        'benchmarks/quality_<profile>')
    return parser.parse_args(argv)


def main(argv=None):
    cwd = os.getcwd()
    try:
        return run(argv)
    finally:
        os.chdir(cwd)


def run(argv=None):
    args = parse_args(argv)
    profile = dict(PROFILES[args.profile])
    seeds = [int(s) for s in args.seeds.split(',')] if args.seeds else \
        profile['seeds']
    rows = [r for r in args.rows.split(',') if r]
    for r in rows:
        if r not in ROWS:
            raise SystemExit(f'unknown row {r!r}; known: {list(ROWS)}')
    # Relative paths (data root, work dir) are relative to the repository.
    os.chdir(REPO)
    if args.report_only:
        return write_report(args)
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    t_start = time.time()

    def log(msg):
        print(f'[quality {time.time() - t_start:7.1f}s] {msg}', flush=True)

    data = prepare_data(args.data_root, work_dir, profile)
    log(f'data: {len(data["classes"])} classes, {data["pretrain_num"]} '
        f'pre-training, {data["probe_num"]} probe, {data["val_num"]} val '
        'images')

    # Teacher: built, then every needed image embedded once.
    need_teacher = any(ROWS[r].get('teacher') for r in rows)
    teacher = tref = None
    t0 = time.time()
    if need_teacher or args.teacher == 'proxy':
        spec = args.teacher
        if spec == 'proxy':
            from beamclip_bench.proxy import build_proxy_teacher
            spec = build_proxy_teacher(
                osp.join(work_dir, 'proxy_teacher'),
                osp.join(data['data_root'], 'train'),
                max_images=profile['proxy_max_images'],
                image_size=profile['teacher_size'],
                steps=profile['proxy_steps'],
                max_classes=profile['proxy_max_classes'],
                log=log)
        tcfg = teacher_cfg(spec, profile['teacher_size'])
        paths = [
            osp.join(data['data_root'], split, f)
            for split, subset in (('train', 'pretrain'), ('val', 'val'))
            for fs in data[f'{subset}_files'] for f in fs
        ]
        cache_file = osp.join(work_dir, 'teacher_cache.pth')
        cache = build_teacher_cache(tcfg, paths, cache_file,
                                    profile['teacher_size'], log=log)
        teacher = dict(
            cfg=tcfg, cache_file=cache_file,
            embed_dim=int(cache['embeds'].shape[1]), spec=spec)
        tref = teacher_reference(cache, tcfg, data)
        log(f'teacher reference: {tref}')
    teacher_seconds = round(time.time() - t0, 1)

    results, pending = [], []
    for row in rows:
        if not config_available(row):
            log(f'row {row}: pending (no config {ROWS[row]["config"]})')
            pending.append(row)
            continue
        for seed in seeds:
            results.append(
                run_row(row, data, profile, seed, work_dir, teacher, log,
                        reuse_pretrain=args.reuse_pretrain))
    total = round(time.time() - t_start, 1)
    # Only the reported profiles write next to RESULTS.md; smoke and demo
    # runs stay in the work dir.
    reported = args.profile in ('quick', 'full')
    prefix = args.out_prefix or osp.join(
        osp.join(REPO, 'benchmarks') if reported else work_dir,
        f'quality_{args.profile}')
    commands = ['python benchmarks/quality.py ' +
                ' '.join(sys.argv[1:] if argv is None else argv)]
    if args.merge and osp.isfile(prefix + '.json'):
        with open(prefix + '.json') as f:
            old = json.load(f)
        # A run is a (row, seed): new seeds of a row add to its old ones.
        done = {(r['row'], r['seed']) for r in results}
        results = [
            r for r in old['runs'] if (r['row'], r['seed']) not in done
        ] + results
        seeds = sorted({r['seed'] for r in results})
        pending = [r for r in pending if r not in {x['row'] for x in results}]
        rows = list(dict.fromkeys(list(old['rows']) + old['pending'] + rows))
        commands = old.get('commands', [old.get('command')]) + commands
        total += old.get('total_seconds', 0)
        # The first run built the teacher; later ones reuse its caches.
        teacher_seconds = max(teacher_seconds,
                              old['teacher'].get('setup_seconds') or 0)
        log(f'merged with the runs of {prefix}.json')
    summary = summarize(results)
    # Rows run in the order asked for; tables list them in canonical order.
    rows = [r for r in ROWS if r in rows]
    is_proxy = teacher is not None and osp.isfile(
        osp.join(teacher['spec'][len('local-dir:'):], 'proxy_meta.json')) \
        if teacher and teacher['spec'].startswith('local-dir:') else False
    teacher_label = ('CLIP-proxy teacher (EffNet-Lite0-ImageNet + MiniLM-L6)'
                     if is_proxy else f'teacher {args.teacher}')
    out = dict(
        profile=args.profile,
        settings=profile,
        seeds=seeds,
        data_root=data['data_root'],
        classes=data['classes'],
        num_images=dict(
            pretrain=data['pretrain_num'],
            probe=data['probe_num'],
            val=data['val_num']),
        teacher=dict(
            label=teacher_label,
            spec=teacher['spec'] if teacher else None,
            reference=tref,
            setup_seconds=teacher_seconds),
        rows={k: {kk: vv for kk, vv in v.items() if kk != 'runs'}
              for k, v in summary.items()},
        runs=results,
        pending=pending,
        gap_closure={
            key: {r: gap_closure(summary, r, key)
                  for r in summary}
            for key in ('logreg_probe', 'linear_probe')
        },
        total_seconds=total,
        versions=report.versions(),
        hardware=report.hardware(),
        commands=commands)
    with open(prefix + '.json', 'w') as f:
        json.dump(out, f, indent=1)
    report.plot(summary, tref, prefix + '.png', rows)
    log(f'wrote {prefix}.json and {prefix}.png in {total} s total')
    print(report.table(summary, tref, teacher_label, rows))

    results_md = args.results
    if results_md is None and reported:
        results_md = osp.join(REPO, 'benchmarks', 'RESULTS.md')
    if results_md:
        report.write_section(
            results_md,
            report.section_body(out, summary, tref, teacher_label, rows,
                                osp.basename(prefix)) + _notes(prefix))
        log(f'updated {results_md}')
    return out


def write_report(args):
    """Plot and RESULTS.md section from an existing JSON."""
    prefix = args.out_prefix or osp.join(REPO, 'benchmarks',
                                         f'quality_{args.profile}')
    with open(prefix + '.json') as f:
        out = json.load(f)
    out.setdefault('commands', [out.get('command')])
    summary = summarize(out['runs'])
    rows = [r for r in ROWS if r in set(out['rows']) | set(out['pending'])]
    tref, label = out['teacher']['reference'], out['teacher']['label']
    report.plot(summary, tref, prefix + '.png', rows)
    results_md = args.results or osp.join(REPO, 'benchmarks', 'RESULTS.md')
    report.write_section(
        results_md,
        report.section_body(out, summary, tref, label, rows,
                            osp.basename(prefix)) + _notes(prefix))
    print(report.table(summary, tref, label, rows))
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
