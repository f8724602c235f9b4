"""Tables, plots and the ``## Quality`` section of benchmarks/RESULTS.md.

The report writes only what the run measured or was given: its own load
average, hardware, versions and data are recorded by :func:`environment` and
:func:`describe_data`, never assumed.
"""
import os.path as osp
import re
from typing import Dict, List, Optional

from mmbeamclip.prompts import imagenet_wnids
from mmbeamclip.utils import atomic_write
from . import statistics
from .results import invocations
from .rows import ROWS, row_epochs, rows_where

SECTION = '## Quality'


def _fmt(row: dict, key: str, digits: int = 1) -> str:
    """``mean ± std (SE e)`` over seeds, the mean alone for one seed."""
    if row.get(key) is None:
        return '–'
    s = f'{row[key]:.{digits}f}'
    if row.get(key + '_std') is not None:
        s += (f' ± {row[key + "_std"]:.{digits}f} '
              f'(SE {row[key + "_se"]:.{digits}f})')
    return s


def describe_data(data_root: str, classes: List[str],
                  num_images: Dict[str, int]) -> str:
    """One sentence about the data the run was given, from the data."""
    shown = ', '.join(classes[:10]) + (', ...' if len(classes) > 10 else '')
    text = (f'`{data_root}`: {len(classes)} classes ({shown}); '
            f'{num_images["pretrain"]} train images for pre-training '
            '(labels only used by the supervised row), '
            f'{num_images["probe"]} labelled train images for the probes, '
            + (f'{num_images["heldout"]} other train images as the held-out '
               'split on which choices are made, '
               if num_images.get('heldout') else '') +
            f'{num_images["val"]} val images for every reported number '
            '(fixed seeded per-class subsets, nested)')
    known = set(imagenet_wnids())
    inet = [c for c in classes if c in known]
    if inet:
        text += (f'. {len(inet)} of the {len(classes)} class folders are '
                 'ImageNet-1k WordNet ids: an ImageNet-trained teacher '
                 '(like the proxy\'s image tower) was trained on these '
                 'classes, possibly on these very images, so its numbers '
                 'and what students inherit are inflated relative to data '
                 'it never saw')
    else:
        text += ('. No class folder is an ImageNet-1k WordNet id; whether '
                 'the teacher saw similar images is not known from the data')
    return text + '.'


def _describe_hardware(hw) -> str:
    if isinstance(hw, str):  # JSON of an older run
        return hw
    return (f'{hw["cpu"]}, {hw["logical_cpus"]} logical CPUs '
            f'({hw["usable_cpus"]} usable, {hw["torch_threads"]} torch '
            f'threads), {hw["gpu"] or "no GPU"}')


def _describe_load(out: dict) -> str:
    start, end = out.get('load_start'), out.get('load_end')
    if not start or not end:
        return 'not recorded'
    return (f'{start[0]:.1f} / {start[1]:.1f} / {start[2]:.1f} at the start, '
            f'{end[0]:.1f} / {end[1]:.1f} / {end[2]:.1f} at the end (1 / 5 / '
            '15 min)')


def _describe_where(out: dict) -> List[str]:
    """Hardware, load, wall time and versions, per invocation where the
    runs were merged from several."""
    calls = invocations(out)
    gpu = any(isinstance(c['hardware'], dict) and c['hardware']['gpu']
              for c in calls)
    cpu_only = '' if gpu else (
        ' CPU only: every number comes from a short CPU schedule, not the '
        'paper\'s.')
    versions = [c['versions'] for c in calls]
    lines = []
    if len(calls) == 1:
        lines += [
            f'- **Load average of this run** (wall times depend on it; rows '
            f'ran one after another): {_describe_load(calls[0])}.',
            f'- **Hardware:** {_describe_hardware(calls[0]["hardware"])}. '
            f'Total wall time {out["total_seconds"] / 60:.1f} min.' +
            cpu_only,
        ]
    else:
        lines.append(
            f'- **Where it ran:** {len(calls)} invocations, merged (rows ran '
            'one after another within each; wall times compare only within '
            'one machine, and each run names its CPU in the JSON); total '
            f'wall time {out["total_seconds"] / 60:.1f} min.' + cpu_only)
        lines += [
            f'  - `{c["command"]}`: {_describe_hardware(c["hardware"])}; '
            f'load {_describe_load(c)}; '
            f'{(c.get("seconds") or 0) / 60:.1f} min.' for c in calls
        ]
    if all(v == versions[-1] for v in versions):
        lines.append('- **Versions:** ' + ', '.join(
            f'{k} {v}' for k, v in versions[-1].items()) + '.')
    else:
        lines += ['- **Versions:**'] + [
            f'  - `{c["command"]}`: ' +
            ', '.join(f'{k} {v}' for k, v in c['versions'].items())
            for c in calls
        ]
    return lines


def _short_cpu(cpu: str) -> str:
    """'Intel(R) Xeon(R) Processor' -> 'Intel Xeon'."""
    return ' '.join(cpu.replace('(R)', '').replace('(TM)', '').split()[:2])


def table(rows: Dict[str, dict], teacher: Optional[dict],
          teacher_label: str, order: List[str]) -> str:
    lines = [
        '| row | backbone passes / image | linear probe, converged (%) | '
        'held-out train split, converged (%) | '
        'linear probe, stock SGD recipe (%) | zero-shot (%) | gap closure '
        '(converged / stock) | pre-train wall (s) |',
        '| --- | --- | --- | --- | --- | --- | --- | --- |'
    ]
    # Rows run on different machines: each wall time names its CPU.
    cpus = {c for r in rows.values() for c in r.get('hardware') or []}
    for name in order:
        if name not in rows:
            continue
        r = rows[name]
        wall = _fmt(r, 'pretrain_seconds', 0)
        if len(cpus) > 1 and r.get('hardware') and r.get('pretrain_seconds'):
            wall += ' on ' + ' + '.join(_short_cpu(c) for c in r['hardware'])
        gcs = []
        for key in statistics.PROBES:
            gc = statistics.row_gap_closure(rows, name, key)
            if gc is not None and not statistics.gap_established(rows, key):
                gcs.append('n/a (no gap)')
            else:
                gcs.append('–' if gc is None else f'{gc:.2f}')
        passes = r.get('passes')
        lines.append(
            f'| {r["label"]} | {"–" if passes is None else passes} | '
            f'{_fmt(r, "logreg_probe")} | {_fmt(r, "logreg_heldout")} | '
            f'{_fmt(r, "linear_probe")} | '
            f'{_fmt(r, "zero_shot")} | {" / ".join(gcs)} | '
            f'{wall} |')
    if teacher:
        lines.append(f'| **ceiling:** {teacher_label} | – | '
                     f'{teacher["linear_probe"]:.1f} | – | – | '
                     f'{teacher["zero_shot"]:.1f} | – | – |')
    return '\n'.join(lines)


def plot(rows: Dict[str, dict], teacher: Optional[dict], path: str,
         order: List[str]):
    """Probe accuracy per row with error bars (std over seeds), the
    teacher as the ceiling, the pre-training curves and, where the run
    made them, the held-out probe curves per epoch."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    curves = {
        n: r['probe_curve']
        for n in order if n in rows for r in rows[n]['runs'][:1]
        if r.get('probe_curve')
    }
    fig, axes = plt.subplots(
        1, 3 if curves else 2, figsize=(19 if curves else 13, 4.5))
    ax1, ax2 = axes[:2]
    names = [n for n in order if n in rows and
             rows[n].get('logreg_probe') is not None]
    labels = [rows[n]['label'] for n in names]
    conv = [rows[n]['logreg_probe'] for n in names]
    conv_err = [rows[n].get('logreg_probe_std') or 0 for n in names]
    stock = [rows[n].get('linear_probe') or 0 for n in names]
    stock_err = [rows[n].get('linear_probe_std') or 0 for n in names]
    ys = list(range(len(labels)))
    ax1.barh([y - 0.2 for y in ys], conv, xerr=conv_err, height=0.4,
             color='tab:blue', capsize=3,
             label='converged (logistic regression)')
    if any(stock):
        ax1.barh([y + 0.2 for y in ys], stock, xerr=stock_err, height=0.4,
                 color='tab:orange', capsize=3,
                 label='stock SGD recipe (short)')
    if teacher:
        ax1.axvline(teacher['linear_probe'], color='k', ls='--',
                    label=f'teacher ceiling ({teacher["linear_probe"]:.1f})')
    ax1.set_yticks(ys)
    ax1.set_yticklabels(labels, fontsize=8)
    ax1.invert_yaxis()
    ax1.set_xlabel('linear-probe top-1 (%), error bar: std over seeds')
    ax1.legend(fontsize=7, loc='upper right')  # random init: short bar
    for y, v, e in zip(ys, conv, conv_err):
        ax1.text(v + e + 0.8, y - 0.2, f'{v:.1f}', va='center', fontsize=7)
    for n in order:
        if n not in rows:
            continue
        curve = rows[n]['runs'][0].get('curve')
        if curve:
            xs, ls = zip(*curve)
            # Losses differ per method: show each relative to its start.
            ax2.plot(xs, [v / ls[0] for v in ls], label=rows[n]['label'])
    ax2.set_xlabel('iteration')
    ax2.set_ylabel('training loss / initial loss')
    ax2.legend(fontsize=7)
    ax2.set_title('pre-training curves (first seed)')
    if curves:
        for n, curve in curves.items():
            xs, ys_ = zip(*curve)
            axes[2].plot(xs, ys_, marker='o', label=rows[n]['label'])
        axes[2].set_xlabel('pre-training epoch')
        axes[2].set_ylabel('converged probe top-1 (%), held-out train split')
        axes[2].set_title('probe per epoch (first seed)')
        axes[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_section(results_md: str, body: str, title: str = SECTION):
    """Replace (or append) the section headed ``title`` (a ``## `` line),
    leave the rest."""
    text = open(results_md).read() if osp.isfile(results_md) else \
        '# Benchmark results\n'
    section = f'{title}\n\n{body.strip()}\n'
    pattern = re.compile('^' + re.escape(title) + r'\n.*?(?=^## |\Z)',
                         re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + '\n', text).rstrip() + '\n'
    else:
        text = text.rstrip() + '\n\n' + section
    # RESULTS.md holds every section: a crash must not truncate it.
    data = text.encode()
    atomic_write(results_md, lambda f: f.write(data))


def comparisons(rows: Dict[str, dict], key: str = 'logreg_probe') -> list:
    """Markdown lines of :func:`statistics.comparisons`: the CSM row chosen
    on the held-out split against the baselines, each difference with its
    SE and whether it is established (> 2 SE), and its gap closure."""
    cmp = statistics.comparisons(rows, key)
    if cmp is None:
        return []
    held = ', '.join(f'{rows[n]["label"]} {mean:.1f}'
                     for n, mean in cmp['heldout'])
    lines = [
        f'- **CSM with its best settings, chosen on the held-out train '
        f'split** (mean converged probe there: {held}): '
        f'**{rows[cmp["best"]]["label"]}**. On val:'
    ]
    for c in cmp['against']:
        verdict = 'established' if c['established'] else 'not established'
        passes = c['passes']
        cost = 'equal backbone passes' if passes[0] == passes[1] else (
            f'{passes[0]} vs {passes[1]} backbone passes per image')
        lines.append(f'  - vs {rows[c["row"]]["label"]}: {c["diff"]:+.1f} '
                     f'points (SE of the difference {c["se"]:.1f}; '
                     f'{verdict}, > 2 SE needed; {cost})')
    if cmp['gap'] is not None:
        gap, se = cmp['gap']
        lines.append(f'  - gap closure: undefined here, supervised − SimCLR '
                     f'= {gap:+.1f} points (SE {se:.1f}) is no gap')
    elif cmp['gap_closure'] is not None:
        lines.append(f'  - gap closure (row − SimCLR) / (supervised − '
                     f'SimCLR): {cmp["gap_closure"]:.2f} (target ≥ 0.80)')
    return lines


def section_body(out: dict, rows: Dict[str, dict], teacher: Optional[dict],
                 teacher_label: str, order: List[str], prefix: str) -> str:
    """Markdown of the ``## Quality`` section for one benchmark run."""
    s = out['settings']
    n = out['num_images']
    views = out['teacher'].get('num_views')
    lines = [
        f'Equal-budget quality benchmark, profile `{out["profile"]}`, '
        f'seeds {out["seeds"]}. Commands (from the repository root):',
        '',
        '```bash',
        *out['commands'],
        '```',
        '',
        table(rows, teacher, teacher_label, order),
        '',
        f'![linear probe and training curves]({prefix}.png) '
        f'(raw numbers: `benchmarks/{prefix}.json`)',
        '',
        *comparisons(rows),
        '- **Numbers:** mean ± sample standard deviation over the seeds, '
        'with the standard error of the mean (SE = std / √n) of each '
        'number; compare two rows only where they differ by several SE. '
        '*Backbone passes / image* counts student forward-backward passes '
        'per image and epoch of the schedule (two-view rows cost twice per '
        'epoch; SimCLR at half the epochs costs what a one-pass row '
        'costs).',
        f'- **Teacher (the ceiling): {teacher_label}.** Its own zero-shot '
        'and converged linear probe on the same val images bound what a '
        'student of it can inherit.' + (
            ' No genuine CLIP weights were used: its image-text knowledge is '
            'a supervised ImageNet classifier\'s posterior (EfficientNet-'
            'Lite0) mapped into a text space, so its "zero-shot" is that '
            'classifier\'s.' if 'proxy' in teacher_label else ''),
        '- **Data:** ' + (out.get('data_description') or
                          f'`{out["data_root"]}` (not described by this '
                          'run).'),
        f'- **Budget, identical for every row:** {s["img_size"]} px, '
        f'{s["epochs"]} epochs' + ''.join(
            f' ({ROWS[n]["short"]}: {row_epochs(n, s)})'
            for n in rows_where('epochs_fraction') if n in rows) +
        f', batch {s["batch_size"]}, SGD lr '
        f'{s["lr"]} momentum 0.9 wd 1e-4, cosine schedule, mmpretrain stock '
        '`tools/train.py`.',
        f'- **View-matched teacher targets:** the teacher ran once over '
        f'{views} pre-sampled views (crop + flip at {s["img_size"]} px, '
        f'shown to the teacher at {s["teacher_size"]} px) of every '
        'pre-training image (`CachedTeacher` + `ReplayCachedView` + '
        '`CachedViewHook`); every teacher row replays view '
        '(epoch + index) mod N and reads the teacher\'s embedding of exactly '
        'that crop. Every teacher row and seed replays the same views '
        '(sampled once, seed 0) through a cache of the same teacher; the '
        'cache is rebuilt only when the images\' sizes or modification '
        'times change. Teacher '
        'setup of this run (the teacher and its cache, each built or reused '
        'if complete, and the teacher reference): '
        f'{out["teacher"]["setup_seconds"]:.0f} s, not included in the '
        'rows\' wall times. In the SSL row, view 0 is the replayed view.',
        '- **Linear probes, identical for every row** (frozen backbone, '
        f'{n["probe"]} labelled train images, {s["img_size"]} px): '
        '*converged* = scikit-learn L-BFGS logistic regression on '
        'standardised pooled features of the whole image (the same protocol '
        "as the teacher's reference; no learning rate to get wrong); "
        '*stock SGD recipe* = mmpretrain `tools/train.py` with the MoCo-v2 '
        'linear-eval schedule on MAE-style BatchNorm\'d features, '
        f'{s["probe_epochs"]} epochs (far shorter than its 100-epoch '
        'design, so under-converged).',
        '- **Held-out train split:** the converged probe fitted on the same '
        f'{n["probe"]} labelled images, scored on {n.get("heldout", 0)} '
        'train images outside the pre-training subset. Every choice '
        '(anchor vocabulary, options, schedule) is made on this column, '
        'never on val.',
        '- **Zero-shot:** student projection vs the teacher\'s prompt bank '
        'of the dataset\'s classes (teacher rows).',
        '- **Gap closure** = (row − SimCLR) / (supervised − SimCLR), on '
        'each probe; *n/a* where supervised is not above SimCLR by more '
        'than 2 SE (a ratio over no gap means nothing).',
    ] + _describe_where(out)
    return '\n'.join(lines)
