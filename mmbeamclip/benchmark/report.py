"""Tables, plots and the ``## Quality`` section of benchmarks/RESULTS.md."""
import os.path as osp
import platform
import re
from typing import Dict, List, Optional

from .runner import ROWS, gap_closure

SECTION = '## Quality'


def _fmt(row: dict, key: str, digits: int = 1) -> str:
    if row.get(key) is None:
        return '–'
    s = f'{row[key]:.{digits}f}'
    if len(row.get('runs', [])) > 1 and row.get(key + '_spread') is not None:
        s += f' ± {row[key + "_spread"]:.{digits}f}'
    return s


def versions() -> Dict[str, str]:
    import mmengine
    import mmpretrain
    import open_clip
    import timm
    import torch
    out = dict(
        python=platform.python_version(),
        torch=torch.__version__,
        mmpretrain=mmpretrain.__version__,
        mmengine=mmengine.__version__,
        open_clip=open_clip.__version__,
        timm=timm.__version__)
    try:
        import transformers
        out['transformers'] = transformers.__version__
    except ImportError:
        pass
    return out


def hardware() -> str:
    import os

    import torch
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            m = re.search(r'model name\s*:\s*(.*)', f.read())
            cpu = m.group(1) if m else cpu
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() \
        else 'no GPU'
    return f'{cpu}, {os.cpu_count()} logical CPUs, {gpu}'


def table(rows: Dict[str, dict], teacher: Optional[dict],
          teacher_label: str, order: List[str]) -> str:
    lines = [
        '| row | linear probe top-1 (%) | zero-shot top-1 (%) | '
        'gap closure | pre-train wall (s) | probe wall (s) |',
        '| --- | --- | --- | --- | --- | --- |'
    ]
    for name in order:
        if name not in rows:
            lines.append(f'| {ROWS[name]["label"]} | pending | pending | '
                         '– | – | – |')
            continue
        r = rows[name]
        gc = gap_closure(rows, name) if name not in ('simclr',
                                                     'supervised') else None
        lines.append(
            f'| {r["label"]} | {_fmt(r, "linear_probe")} | '
            f'{_fmt(r, "zero_shot")} | '
            f'{"–" if gc is None else f"{gc:.2f}"} | '
            f'{_fmt(r, "pretrain_seconds", 0)} | '
            f'{_fmt(r, "probe_seconds", 0)} |')
    if teacher:
        lines.append(f'| {teacher_label} (reference) | '
                     f'{teacher["linear_probe"]:.1f} (sklearn) | '
                     f'{teacher["zero_shot"]:.1f} | – | – | – |')
    return '\n'.join(lines)


def plot(rows: Dict[str, dict], teacher: Optional[dict], path: str,
         order: List[str]):
    """Bar chart of linear-probe accuracy and the pre-training curves."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.5))
    names = [n for n in order if n in rows and
             rows[n].get('linear_probe') is not None]
    vals = [rows[n]['linear_probe'] for n in names]
    errs = [rows[n].get('linear_probe_spread', 0) for n in names]
    labels = [rows[n]['label'] for n in names]
    if teacher:
        labels.append('teacher (proxy) ref.')
        vals.append(teacher['linear_probe'])
        errs.append(0)
    ax1.barh(range(len(vals)), vals, xerr=errs, color='tab:blue')
    ax1.set_yticks(range(len(vals)))
    ax1.set_yticklabels(labels, fontsize=8)
    ax1.invert_yaxis()
    ax1.set_xlabel('linear-probe top-1 (%)')
    for i, v in enumerate(vals):
        ax1.text(v + 0.5, i, f'{v:.1f}', va='center', fontsize=8)
    for n in order:
        if n not in rows:
            continue
        curve = rows[n]['runs'][0].get('curve')
        if curve:
            xs, ys = zip(*curve)
            # Losses differ per method: show each relative to its start.
            ax2.plot(xs, [y / ys[0] for y in ys], label=rows[n]['label'])
    ax2.set_xlabel('iteration')
    ax2.set_ylabel('training loss / initial loss')
    ax2.legend(fontsize=7)
    ax2.set_title('pre-training curves (seed 0)')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_section(results_md: str, body: str):
    """Replace (or append) the ``## Quality`` section, leave the rest."""
    text = open(results_md).read() if osp.isfile(results_md) else \
        '# Benchmark results\n'
    section = f'{SECTION}\n\n{body.strip()}\n'
    pattern = re.compile(r'^## Quality\n.*?(?=^## |\Z)', re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + '\n', text).rstrip() + '\n'
    else:
        text = text.rstrip() + '\n\n' + section
    with open(results_md, 'w') as f:
        f.write(text)


def section_body(out: dict, rows: Dict[str, dict], teacher: Optional[dict],
                 teacher_label: str, order: List[str], prefix: str) -> str:
    """Markdown of the ``## Quality`` section for one benchmark run."""
    s = out['settings']
    n = out['num_images']
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
        '- **Teacher: ' + teacher_label + '.** No genuine CLIP weights were '
        'used anywhere. Its ImageNet-1k image tower has seen these images '
        '(Imagenette is a subset of ImageNet), so every teacher number, and '
        'what the students inherit from it, is inflated relative to a '
        'dataset the teacher never saw.',
        f'- **Data:** `{out["data_root"]}`, {len(out["classes"])} classes; '
        f'{n["pretrain"]} train images for pre-training (labels only used '
        f'by the supervised row), {n["probe"]} labelled train images for '
        f'the linear probe, {n["val"]} val images for every reported number '
        '(fixed seeded per-class subsets, nested).',
        f'- **Budget, identical for every row:** {s["img_size"]} px, '
        f'{s["epochs"]} epochs, batch {s["batch_size"]}, SGD lr '
        f'{s["lr"]} momentum 0.9 wd 1e-4, cosine schedule, mmpretrain stock '
        '`tools/train.py`.',
        f'- **Linear probe, identical for every row:** mmpretrain stock '
        f'MoCo-v2 linear-eval recipe (frozen backbone and BN, SGD lr 30 '
        f'scaled by batch/256, step decay), {s["probe_epochs"]} epochs at '
        f'{s["img_size"]} px.',
        '- **Zero-shot:** student projection vs the teacher text embeddings '
        "of 'a photo of a {class}.' (CSM and feature-regression rows).",
        f'- **Teacher cost:** teacher built and every image embedded once in '
        f'{out["teacher"]["setup_seconds"]:.0f} s (cached full-image view '
        f'at {s["teacher_size"]} px, replayed each epoch; not included in '
        'the rows\' wall times). The teacher reference probe is a '
        'scikit-learn logistic regression on its cached embeddings.',
        '- **Gap closure** = (row − SimCLR) / (supervised − SimCLR) on the '
        'linear probe.',
        f'- **Hardware:** {out["hardware"]}. Total wall time '
        f'{out["total_seconds"] / 60:.1f} min.',
        '- **Versions:** ' + ', '.join(
            f'{k} {v}' for k, v in out['versions'].items()) + '.',
    ]
    if out.get('pending'):
        lines.append('- **Pending rows** (config not on this branch yet): ' +
                     ', '.join(out['pending']) + '.')
    return '\n'.join(lines)
