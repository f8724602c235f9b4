"""Quality benchmark, offline demo and CLIP-proxy teacher
(``benchmarks/quality.py``, ``tools/demo.py``); not part of the wheel. The
proxy teacher needs the ``benchmark`` extra."""
from .common import REPO, teacher_cfg
from .runner import PROFILES, ROWS, prepare_data, run_row, summarize

__all__ = [
    'PROFILES', 'REPO', 'ROWS', 'prepare_data', 'run_row', 'summarize',
    'teacher_cfg'
]
