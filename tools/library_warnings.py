"""Filter two import-time warnings of libraries, for the tools in this folder.

Every tool imports this module first, before mmcv and mmengine (which warn
while they are imported): mmcv-lite's missing ``MultiScaleDeformableAttention``
(a compiled op that no BeamCLIP model uses) and setuptools' ``pkg_resources``
deprecation (mmengine imports ``pkg_resources`` to resolve ``mmpretrain::``
config bases). Only these two messages are filtered, and only in these
tools: every other warning, ours included, still reaches the log, and
importing mmbeamclip elsewhere filters nothing.
"""
import warnings

# Regexes matched against the start of the warning message.
LIBRARY_WARNINGS = (
    r'Fail to import ``MultiScaleDeformableAttention``',
    r'pkg_resources is deprecated as an API',
)

for _message in LIBRARY_WARNINGS:
    warnings.filterwarnings('ignore', message=_message)
