"""The results JSON of a quality benchmark run: the record of one
invocation, merged with the runs of an earlier one where asked for, and
written atomically."""
import json
from typing import List, Optional

from mmbeamclip.utils import atomic_write
from .environment import load_average
from .statistics import gap_closures, summarize


def invocations(out: dict) -> List[dict]:
    """Where the runs of a results JSON ran: one entry per invocation
    (command, hardware, versions, load at start and end, wall seconds);
    a JSON written before invocations were recorded counts as one."""
    if out.get('invocations'):
        return list(out['invocations'])
    return [
        dict(command='; '.join(out.get('commands', [])),
             hardware=out.get('hardware'), versions=out.get('versions'),
             load_start=out.get('load_start'), load_end=out.get('load_end'),
             seconds=out.get('total_seconds'))
    ]


def name_run_cpus(out: dict):
    """Give every run of a JSON written before runs named their CPU the
    CPU of the one machine that JSON ran on (in place)."""
    if out.get('invocations') or not isinstance(out.get('hardware'), dict):
        return
    for r in out['runs']:
        r.setdefault('hardware', out['hardware']['cpu'])


def invocation(runs: List[dict], seeds: List[int], command: str,
               env: dict, seconds: float) -> dict:
    """This invocation's own part of the record (before any merge).

    Merged runs may come from other machines: each run names its CPU (in
    place) and each invocation keeps its own hardware, load and wall time.
    """
    for r in runs:
        r['hardware'] = env['hardware']['cpu']
    return dict(
        runs=runs,
        seeds=seeds,
        commands=[command],
        invocations=[
            dict(command=command, hardware=env['hardware'],
                 versions=env['versions'], load_start=env['load_start'],
                 load_end=load_average(), seconds=seconds)
        ],
        total_seconds=seconds)


def merge_runs(new: dict, old: dict) -> dict:
    """``new`` with the runs (row, seed) of ``old`` that it does not redo:
    new seeds of a row add to its old ones; the teacher setup time is the
    longest (the first run built the teacher; later ones reuse its cache).
    """
    name_run_cpus(old)
    done = {(r['row'], r['seed']) for r in new['runs']}
    runs = [r for r in old['runs']
            if (r['row'], r['seed']) not in done] + new['runs']
    merged = dict(new)
    merged.update(
        runs=runs,
        seeds=sorted({r['seed'] for r in runs}),
        commands=old['commands'] + new['commands'],
        invocations=invocations(old) + new['invocations'],
        total_seconds=new['total_seconds'] + old.get('total_seconds', 0),
        teacher_seconds=max(new['teacher_seconds'],
                            old['teacher'].get('setup_seconds') or 0),
        teacher=new['teacher'] or old['teacher'],
        reference=new['reference'] or old['teacher']['reference'])
    return merged


def record(name: str, profile: dict, data: dict, part: dict, env: dict,
           data_description: str) -> dict:
    """The results JSON of a run (``part``: :func:`invocation`, merged or
    not, with ``teacher``, ``reference`` and ``teacher_seconds``)."""
    summary = summarize(part['runs'])
    teacher = part['teacher']
    return dict(
        profile=name,
        settings=profile,
        seeds=part['seeds'],
        data_root=data['data_root'],
        classes=data['classes'],
        num_images=num_images(data),
        data_description=data_description,
        teacher=dict(
            label=teacher['label'] if teacher else None,
            spec=teacher['spec'] if teacher else None,
            num_views=teacher['num_views'] if teacher else None,
            reference=part['reference'],
            setup_seconds=part['teacher_seconds']),
        rows={k: {kk: vv for kk, vv in v.items() if kk != 'runs'}
              for k, v in summary.items()},
        runs=part['runs'],
        gap_closure=gap_closures(summary),
        total_seconds=part['total_seconds'],
        load_end=part['invocations'][-1]['load_end'],
        invocations=part['invocations'],
        commands=part['commands'],
        **env)


def num_images(data: dict) -> dict:
    """Images per subset of a run's data."""
    return dict(
        pretrain=data['pretrain_num'],
        probe=data['probe_num'],
        heldout=data.get('heldout_num', 0),
        val=data['val_num'])


def write(path: str, out: dict):
    """Write the results JSON atomically (a crash keeps the old one)."""
    text = json.dumps(out, indent=1).encode()
    atomic_write(path, lambda f: f.write(text))


def read(path: str) -> Optional[dict]:
    """A results JSON, None where there is none."""
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
