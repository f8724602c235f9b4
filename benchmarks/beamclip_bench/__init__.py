"""Quality benchmark, offline demo and CLIP-proxy teacher
(``benchmarks/quality.py``, ``tools/demo.py``); not part of the wheel. The
proxy teacher needs the ``benchmark`` extra.

Modules: ``common`` (repository root, image files, teacher configs),
``runner`` (profiles, rows, view cache, runs, probes), ``report``, ``proxy``,
``demo`` (``run_demo``), ``fashion_mnist``, ``console``. Nothing is imported
here, so that ``console`` can be used before the heavy libraries load.
"""
