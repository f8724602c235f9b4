"""Everything the quality report states that is computed: means, standard
deviations and standard errors over seeds, differences between rows, the
gap closure, and the best CSM row's comparisons with the baselines."""
import math
from typing import Dict, List, Optional

from .rows import COMPARED_ROWS, CSM_ROWS, LOWER, NO_GAP_CLOSURE, ROWS, UPPER

METRICS = ('linear_probe', 'logreg_probe', 'logreg_heldout', 'zero_shot',
           'supervised_head', 'pretrain_seconds', 'probe_seconds')
# The probes a gap closure is computed on.
PROBES = ('logreg_probe', 'linear_probe')


def mean_std(vals: List[float]) -> tuple:
    """Mean, sample standard deviation (n - 1) and the standard error of
    the mean (std / sqrt(n)); std and error are None for one value."""
    n = len(vals)
    mean = sum(vals) / n
    if n < 2:
        return mean, None, None
    std = math.sqrt(sum((v - mean)**2 for v in vals) / (n - 1))
    return mean, std, std / math.sqrt(n)


def summarize(results: List[dict]) -> Dict[str, dict]:
    """Mean, std and standard error over seeds, per row and metric."""
    rows: Dict[str, dict] = {}
    for r in results:
        rows.setdefault(r['row'], dict(label=r['label'], runs=[]))
        rows[r['row']]['runs'].append(r)
    for name, row in rows.items():
        row['passes'] = ROWS[name]['passes'] if name in ROWS else None
        # The CPU(s) its runs ran on: wall times compare only within one.
        row['hardware'] = sorted(
            {r['hardware']
             for r in row['runs'] if r.get('hardware')})
        for key in METRICS:
            vals = [r[key] for r in row['runs'] if r.get(key) is not None]
            if vals:
                row[key], row[key + '_std'], row[key + '_se'] = \
                    mean_std(vals)
    return rows


def gap_closure(rows: Dict[str, dict], row: str,
                key: str = 'linear_probe') -> Optional[float]:
    """(row - SimCLR) / (supervised - SimCLR) on a probe's accuracy."""
    try:
        sim = rows[LOWER][key]
        sup = rows[UPPER][key]
        val = rows[row][key]
    except KeyError:
        return None
    if sup == sim:
        return None
    return (val - sim) / (sup - sim)


def row_gap_closure(rows: Dict[str, dict], row: str,
                    key: str) -> Optional[float]:
    """:func:`gap_closure` of a row that has one of its own (not the gap's
    two ends, not an untrained row)."""
    return None if row in NO_GAP_CLOSURE else gap_closure(rows, row, key)


def best_row(rows: Dict[str, dict], candidates=CSM_ROWS,
             key: str = 'logreg_heldout') -> Optional[str]:
    """The candidate with the highest mean on the held-out train split (the
    split choices are made on; never val)."""
    found = [n for n in candidates if rows.get(n, {}).get(key) is not None]
    return max(found, key=lambda n: rows[n][key]) if found else None


def difference(rows: Dict[str, dict], a: str, b: str,
               key: str = 'logreg_probe') -> Optional[tuple]:
    """Mean of ``a`` minus mean of ``b`` and the standard error of that
    difference, sqrt(SE_a² + SE_b²) (independent seeds).

    Returns:
        tuple | None: ``(difference, SE)``; None where a row lacks the
        metric or has fewer than two seeds.
    """
    ra, rb = rows.get(a, {}), rows.get(b, {})
    if ra.get(key + '_se') is None or rb.get(key + '_se') is None:
        return None
    diff = ra[key] - rb[key]
    return diff, (ra[key + '_se']**2 + rb[key + '_se']**2)**0.5


def established(diff: float, se: float) -> bool:
    """Whether a difference is more than 2 standard errors from zero."""
    return abs(diff) > 2 * se


def gap_established(rows: Dict[str, dict],
                    key: str = 'logreg_probe') -> bool:
    """Whether supervised is above SimCLR by more than 2 SE: the gap
    closure divides by that gap, so it means nothing without one. True
    where it cannot be told (a single seed)."""
    d = difference(rows, UPPER, LOWER, key)
    return d is None or d[0] > 2 * d[1]


def gap_closures(rows: Dict[str, dict]) -> Dict[str, dict]:
    """Per probe, each row's gap closure for the results JSON; None where
    it is undefined (no SimCLR-to-supervised gap, see
    :func:`gap_established`)."""
    out = {}
    for key in PROBES:
        gap = gap_established(rows, key)
        out[key] = {r: gap_closure(rows, r, key) if gap else None
                    for r in rows}
    return out


def comparisons(rows: Dict[str, dict],
                key: str = 'logreg_probe') -> Optional[dict]:
    """The CSM row chosen on the held-out split against the baselines.

    Returns:
        dict | None: ``best`` (row), ``heldout`` (the candidates' held-out
        means, ``(row, mean)`` pairs), ``against`` (per baseline with two
        or more seeds: ``row``, ``diff``, ``se``, ``established``,
        ``passes``, the two rows' passes), ``gap_closure`` and ``gap``
        (supervised − SimCLR and its SE where there is no established
        gap, else None). None where there is nothing to compare with (no
        candidate, one seed, or no baseline rows): no claim.
    """
    best = best_row(rows)
    if best is None:
        return None
    against = []
    for other in COMPARED_ROWS:
        if other == best or other not in rows:
            continue
        d = difference(rows, best, other, key)
        if d is not None:
            against.append(dict(
                row=other, diff=d[0], se=d[1],
                established=established(*d),
                passes=(rows[best].get('passes'),
                        rows[other].get('passes'))))
    gc = gap_closure(rows, best, key)
    no_gap = gc is not None and not gap_established(rows, key)
    out = dict(
        best=best,
        heldout=[(n, rows[n]['logreg_heldout']) for n in CSM_ROWS
                 if rows.get(n, {}).get('logreg_heldout') is not None],
        against=against,
        gap_closure=gc,
        gap=difference(rows, UPPER, LOWER, key) if no_gap else None)
    return out if against or gc is not None else None
