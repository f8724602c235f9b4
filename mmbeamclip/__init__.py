"""BeamCLIP for mmpretrain: import (or ``custom_imports``) registers it all."""
from . import compat

compat.apply()
# Data the stock tools would skip silently or that cannot train.
from .datasets import data_checks  # noqa: E402

data_checks.apply()

from . import (datasets, engine, models, prompts,  # noqa: E402,F401
               teacher_cache, utils)
from .version import __version__  # noqa: E402

__all__ = ['__version__']
