"""Training runs of the rows: each through mmpretrain's stock
``tools/train.py`` in a subprocess, reused where finished, then probed."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import List, Optional

from .common import REPO
from .probes import logreg_probe, probe_curve
from .row_configs import pretrain_config, probe_config
from .rows import ROWS, row_epochs


def _read_run(work_dir: str) -> dict:
    ckpts = sorted(glob.glob(osp.join(work_dir, 'epoch_*.pth')),
                   key=osp.getmtime)
    scalars = []
    runs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                     'scalars.json')), key=osp.getmtime)
    if runs:
        with open(runs[-1]) as f:
            scalars = [json.loads(line) for line in f if line.strip()]
    return dict(checkpoint=ckpts[-1] if ckpts else None, scalars=scalars)


def reuse_run(work_dir: str, log=print) -> Optional[dict]:
    """A finished run in ``work_dir`` (checkpoint present), else None.

    Its wall time comes from ``result.json``, else from the config dump's
    and the checkpoint's modification times.
    """
    res = _read_run(work_dir)
    if res['checkpoint'] is None:
        return None
    path = osp.join(work_dir, 'result.json')
    if osp.isfile(path):
        with open(path) as f:
            res['seconds'] = json.load(f)['seconds']
    else:
        res['seconds'] = round(
            osp.getmtime(res['checkpoint']) -
            osp.getmtime(osp.join(work_dir, 'config.py')), 1)
    log(f'reusing the finished run in {work_dir}')
    return res


def run_train(cfg, work_dir: str, log=print, timeout=None) -> dict:
    """Dump ``cfg`` and train it with the stock ``tools/train.py``.

    Returns:
        dict: ``seconds``, ``checkpoint`` and ``scalars`` (the run's
        ``vis_data/scalars.json`` records).
    """
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, 'config.py')
    cfg.dump(path)
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    env.setdefault('HF_HUB_OFFLINE', '1')
    cmd = [
        sys.executable,
        osp.join(REPO, 'tools', 'train.py'), path, '--work-dir', work_dir
    ]
    log('$ ' + ' '.join(cmd))
    t0 = time.time()
    with open(osp.join(work_dir, 'train.log'), 'w') as f:
        proc = subprocess.run(
            cmd, cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT,
            timeout=timeout)
    seconds = time.time() - t0
    if proc.returncode != 0:
        with open(osp.join(work_dir, 'train.log')) as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f'train.py failed ({work_dir}):\n{tail}')
    with open(osp.join(work_dir, 'result.json'), 'w') as f:
        json.dump(dict(seconds=round(seconds, 1)), f)
    return dict(seconds=round(seconds, 1), **_read_run(work_dir))


def last_metric(scalars: List[dict], key: str) -> Optional[float]:
    vals = [s[key] for s in scalars if key in s]
    return float(vals[-1]) if vals else None


def loss_curve(scalars: List[dict]) -> List[list]:
    """(iteration, loss) pairs of a training run."""
    return [[s['step'], s['loss']] for s in scalars
            if 'loss' in s and 'step' in s]


def run_row(row: str,
            data: dict,
            profile: dict,
            seed: int,
            work_dir: str,
            teacher: Optional[dict] = None,
            log=print,
            reuse_pretrain: bool = False,
            curve: bool = False) -> dict:
    """Pre-train (unless random init) and probe one row.

    With ``reuse_pretrain`` a finished pre-training run in the row's work
    dir is reused (e.g. to re-run only the probes); the caller vouches that
    it was made with the same settings. With ``curve`` and a profile's
    ``curve_every``, a checkpoint every ``curve_every`` epochs is probed on
    the held-out train split (never val): ``probe_curve``, the
    (epoch, accuracy) pairs that show whether the schedule is long enough.
    """
    out = dict(row=row, label=ROWS[row]['label'], seed=seed,
               passes=ROWS[row]['passes'])
    run_dir = osp.join(work_dir, f'{row}_s{seed}')
    ckpt, seconds = None, 0.
    if ROWS[row]['config'] is not None:
        ckpt, seconds = pretrain_row(out, data, profile, run_dir, teacher,
                                     log, reuse_pretrain, curve)
    out['pretrain_seconds'] = round(seconds, 1)
    if profile.get('stock_probe', True):
        res = run_train(
            probe_config(data, profile, seed, ckpt),
            osp.join(run_dir, 'probe'), log)
        out['linear_probe'] = last_metric(res['scalars'], 'accuracy/top1')
        out['probe_seconds'] = res['seconds']
    converged_probe(out, ckpt, data, profile)
    log(f'row {row} seed {seed}: ' + json.dumps(
        {k: v for k, v in out.items() if k != 'curve'}))
    return out


def pretrain_row(out: dict, data: dict, profile: dict, run_dir: str,
                 teacher: Optional[dict], log, reuse_pretrain: bool,
                 curve: bool) -> tuple:
    """Pre-train the row of ``out`` (or reuse its run) and record its
    loss curve, own accuracy and probe curve in ``out``.

    Returns:
        tuple[str, float]: The final checkpoint and the run's seconds.
    """
    row, seed = out['row'], out['seed']
    cfg = pretrain_config(row, data, profile, seed, teacher)
    every = profile.get('curve_every') if curve else None
    if every and data.get('heldout_files'):
        cfg.default_hooks['checkpoint'].update(
            interval=every, max_keep_ckpts=-1)
    else:
        every = None
    pre_dir = osp.join(run_dir, 'pretrain')
    res = reuse_run(pre_dir, log) if reuse_pretrain else None
    if res is None:
        res = run_train(cfg, pre_dir, log)
    else:
        out['pretrain_reused'] = True
    ckpt = res['checkpoint']
    if every:
        out['probe_curve'] = probe_curve(pre_dir, ckpt, data, profile, seed)
    out['curve'] = loss_curve(res['scalars'])
    acc = last_metric(res['scalars'], 'accuracy/top1')
    if acc is not None:
        # Supervised: its own head; teacher rows: zero-shot via prompts.
        key = 'supervised_head' if row == 'supervised' else 'zero_shot'
        out[key] = acc
    return ckpt, res['seconds']


def converged_probe(out: dict, ckpt: Optional[str], data: dict,
                    profile: dict):
    """The converged probe of a row's backbone, into ``out`` (val,
    held-out, its seconds, and the probe curve's final epoch)."""
    t0 = time.time()
    probe = logreg_probe(ckpt, data, profile, out['seed'])
    out['logreg_probe'] = probe['val']
    if 'heldout' in probe:
        out['logreg_heldout'] = probe['heldout']
    out['logreg_seconds'] = round(time.time() - t0, 1)
    if out.get('probe_curve') is not None and 'heldout' in probe:
        out['probe_curve'].append(
            [row_epochs(out['row'], profile), probe['heldout']])
