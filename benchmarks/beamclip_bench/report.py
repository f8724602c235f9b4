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
        '| row | linear probe, converged (%) | linear probe, stock SGD '
        'recipe (%) | zero-shot (%) | gap closure (converged / stock) | '
        'pre-train wall (s) | stock probe wall (s) |',
        '| --- | --- | --- | --- | --- | --- | --- |'
    ]
    for name in order:
        if name not in rows:
            lines.append(f'| {ROWS[name]["label"]} | pending | pending | '
                         'pending | – | – | – |')
            continue
        r = rows[name]
        gcs = []
        for key in ('logreg_probe', 'linear_probe'):
            gc = gap_closure(rows, name, key) if name not in (
                'simclr', 'supervised', 'random') else None
            gcs.append('–' if gc is None else f'{gc:.2f}')
        lines.append(
            f'| {r["label"]} | {_fmt(r, "logreg_probe")} | '
            f'{_fmt(r, "linear_probe")} | {_fmt(r, "zero_shot")} | '
            f'{" / ".join(gcs)} | '
            f'{_fmt(r, "pretrain_seconds", 0)} | '
            f'{_fmt(r, "probe_seconds", 0)} |')
    if teacher:
        lines.append(f'| {teacher_label} (reference) | '
                     f'{teacher["linear_probe"]:.1f} | – | '
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
             rows[n].get('logreg_probe') is not None]
    labels = [rows[n]['label'] for n in names]
    conv = [rows[n]['logreg_probe'] for n in names]
    stock = [rows[n].get('linear_probe') or 0 for n in names]
    if teacher:
        labels.append('teacher (proxy) ref.')
        conv.append(teacher['linear_probe'])
        stock.append(0)
    ys = list(range(len(labels)))
    ax1.barh([y - 0.2 for y in ys], conv, height=0.4, color='tab:blue',
             label='converged (logistic regression)')
    ax1.barh([y + 0.2 for y in ys], stock, height=0.4, color='tab:orange',
             label='stock SGD recipe (short)')
    ax1.set_yticks(ys)
    ax1.set_yticklabels(labels, fontsize=8)
    ax1.invert_yaxis()
    ax1.set_xlabel('linear-probe top-1 (%)')
    ax1.legend(fontsize=7, loc='lower right')
    for y, v in zip(ys, conv):
        ax1.text(v + 0.5, y - 0.2, f'{v:.1f}', va='center', fontsize=7)
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
        '- **Linear probes, identical for every row** (frozen backbone, '
        f'{n["probe"]} labelled train images, {s["img_size"]} px): '
        '*converged* = scikit-learn L-BFGS logistic regression on '
        'standardised pooled features of the whole image (the same protocol '
        "as the teacher's reference; no learning rate to get wrong); "
        '*stock SGD recipe* = mmpretrain `tools/train.py` with the MoCo-v2 '
        'linear-eval schedule (SGD, step decay, RandomResizedCrop + flip) '
        "on MAE-style BatchNorm'd features, lr 0.1 per 256, "
        f'{s["probe_epochs"]} epochs: far shorter than its 100-epoch '
        'design, so it is under-converged (training loss still falling) and '
        'compresses the differences between rows.',
        '- **Zero-shot:** student projection vs the teacher text embeddings '
        "of 'a photo of a {class}.' (CSM and feature-regression rows).",
        f'- **Teacher cost:** teacher built and every image embedded once in '
        f'{out["teacher"]["setup_seconds"]:.0f} s (cached full-image view '
        f'at {s["teacher_size"]} px, replayed each epoch; not included in '
        'the rows\' wall times). The teacher reference probe is a '
        'scikit-learn logistic regression on its cached embeddings.',
        '- **Gap closure** = (row − SimCLR) / (supervised − SimCLR), on '
        'each probe.',
        '- **Wall times** were measured on a 2-core machine shared with '
        'three other jobs (load average 4–7): they vary with the load of the '
        'moment and are only rough; rows ran one after another.',
        f'- **Hardware:** {out["hardware"]}. Total wall time '
        f'{out["total_seconds"] / 60:.1f} min.',
        '- **Versions:** ' + ', '.join(
            f'{k} {v}' for k, v in out['versions'].items()) + '.',
    ]
    if out.get('pending'):
        lines.append('- **Pending rows** (config not on this branch yet): ' +
                     ', '.join(out['pending']) + '.')
    return '\n'.join(lines)
