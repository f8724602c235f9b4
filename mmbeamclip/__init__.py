"""BeamCLIP for mmpretrain: import (or ``custom_imports``) registers it all."""
from . import compat

compat.apply()

from . import (datasets, engine, models, prompts,  # noqa: E402,F401
               teacher_cache, utils)
from .version import __version__  # noqa: E402

__all__ = ['__version__']
