"""The benchmark package, installed beside ``mmbeamclip`` (``pip install
-e '.[benchmark]'``; it runs from a checkout): the quality and throughput
benchmarks, the offline demo and the CLIP-proxy teacher behind
``benchmarks/quality.py``, ``benchmarks/throughput.py``,
``benchmarks/build_proxy_teacher.py`` and ``tools/demo.py``.

One concept per module (docs/benchmark.md lists them). Nothing is imported
here, so that ``console`` can be used before the heavy libraries load.
"""
