"""Quality benchmark and offline demo machinery (``benchmarks/quality.py``,
``tools/demo.py``). Needs the ``benchmark`` extra for the proxy teacher."""
from .runner import PROFILES, ROWS, prepare_data, run_row, summarize

__all__ = ['PROFILES', 'ROWS', 'prepare_data', 'run_row', 'summarize']
