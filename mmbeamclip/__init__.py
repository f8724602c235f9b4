"""BeamCLIP for mmpretrain: import (or ``custom_imports``) registers it all."""
from . import compat

compat.apply()

from . import engine, models, prompts, utils  # noqa: E402,F401
from .version import __version__  # noqa: E402

__all__ = ['__version__']
