"""The rows of the quality benchmark and the groups derived from them.

Each row: its label, its config in ``benchmarks/configs`` (None: no
pre-training), backbone passes per image and epoch of the profile's
schedule, whether it reads the teacher (``teacher``), the fraction of the
profile's epochs it trains (``epochs_fraction``, default 1; ``short``
names such a row in the budget sentence), and its role:
``csm`` rows (CSM alone, one pass) are the candidates for "CSM with its
best settings", ``compare`` places a row in the list of what that best row
is compared with (1 first).
"""
from typing import List


def _csm(label: str, config: str) -> dict:
    return dict(label=label, config=config, passes=1, teacher=True,
                csm=True)


ROWS = {
    'random': dict(label='random init', config=None, passes=0),
    'supervised': dict(
        label='supervised (labels)', config='supervised_resnet18.py',
        passes=1, compare=4),
    'simclr': dict(
        label='SimCLR (mmpretrain)', config='simclr_resnet18.py', passes=2,
        compare=1),
    # Two views per step for half the epochs: the one-pass rows' cost.
    'simclr_half': dict(
        label='SimCLR (mmpretrain), half the epochs',
        config='simclr_resnet18.py',
        short='SimCLR, half the epochs',
        passes=1,
        epochs_fraction=0.5,
        compare=2),
    'featreg': dict(
        label='feature regression (cos to teacher)',
        config='featreg_resnet18.py',
        passes=1,
        teacher=True,
        compare=3),
    'csm': _csm('BeamCLIP CSM, dataset-class anchors', 'csm_resnet18.py'),
    'csm_in1k': _csm('BeamCLIP CSM, ImageNet-1k anchors',
                     'csm_in1k_resnet18.py'),
    'csm_generic': _csm('BeamCLIP CSM, generic vocabulary anchors',
                        'csm_generic_resnet18.py'),
    'csm_wordnet': _csm('BeamCLIP CSM, raw WordNet-name anchors',
                        'csm_wordnet_resnet18.py'),
    'csm_cpa': _csm('BeamCLIP CSM + CPA (raw WordNet names + hypernyms)',
                    'csm_cpa_resnet18.py'),
    'csm_in1k_taueq': _csm(
        'BeamCLIP CSM, ImageNet-1k anchors, tau_s = tau_t',
        'csm_in1k_taueq_resnet18.py'),
    'csm_in1k_taulearn': _csm(
        'BeamCLIP CSM, ImageNet-1k anchors, learnt tau_s',
        'csm_in1k_taulearn_resnet18.py'),
    'csm_in1k_embed': _csm(
        'BeamCLIP CSM, ImageNet-1k anchors + embedding term',
        'csm_in1k_embed_resnet18.py'),
    # Two passes: compared with the best CSM row, never a candidate.
    'csm_ssl': dict(
        label='BeamCLIP CSM + SSL',
        config='csm_ssl_resnet18.py',
        passes=2,
        teacher=True,
        compare=5),
}
DEFAULT_ROWS = list(ROWS)
# The row whose config defines the cached views every teacher row replays.
CACHE_ROW = 'csm'
# The two ends of the gap closure (row - SimCLR) / (supervised - SimCLR).
LOWER, UPPER = 'simclr', 'supervised'


def rows_where(flag: str) -> List[str]:
    """Rows whose metadata sets ``flag``, in canonical order."""
    return [name for name, spec in ROWS.items() if spec.get(flag)]


# One backbone pass per image with CSM alone.
CSM_ROWS = tuple(rows_where('csm'))
# What the best CSM row is compared with, in that order.
COMPARED_ROWS = tuple(sorted(rows_where('compare'),
                             key=lambda name: ROWS[name]['compare']))
# Rows without a gap closure of their own: its two ends, and no training.
NO_GAP_CLOSURE = (LOWER, UPPER) + tuple(
    name for name, spec in ROWS.items() if spec['config'] is None)


def check_rows(names: List[str]):
    """Refuse row names that are not in :data:`ROWS`."""
    for name in names:
        if name not in ROWS:
            raise SystemExit(f'unknown row {name!r}; known: {list(ROWS)}')


def row_epochs(row: str, profile: dict) -> int:
    """Pre-training epochs of a row: its fraction of the profile's."""
    return max(1,
               round(profile['epochs'] * ROWS[row].get('epochs_fraction', 1)))
