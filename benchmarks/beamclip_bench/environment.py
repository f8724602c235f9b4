"""Where a benchmark ran: library versions, hardware and load average, as
recorded by the quality and throughput benchmarks (measured, never
assumed)."""
import os
import platform
import re
from typing import Dict, List, Optional


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


def hardware() -> Dict[str, object]:
    """CPU model, logical cores (and the ones this process may use), GPU."""
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            m = re.search(r'model name\s*:\s*(.*)', f.read())
            cpu = m.group(1).strip() if m else cpu
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(
        os, 'sched_getaffinity') else os.cpu_count()
    return dict(
        cpu=cpu,
        logical_cpus=os.cpu_count(),
        usable_cpus=usable,
        torch_threads=torch.get_num_threads(),
        gpu=torch.cuda.get_device_name(0)
        if torch.cuda.is_available() else None)


def load_average() -> Optional[List[float]]:
    """The 1, 5 and 15 minute load averages now (None where unknown)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def environment() -> dict:
    """What a run records about where it ran (start of the run)."""
    return dict(
        versions=versions(), hardware=hardware(), load_start=load_average())
