"""Load a script of ``tools/`` as a module, for tests that call its functions.
"""
import importlib.util
import os.path as osp
import sys

TOOLS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'tools')
# Modules of tools/ that the scripts import by name: run as a script, a tool
# finds them on sys.path[0] (its own folder).
SIBLINGS = ('library_warnings', )


def _load(name: str):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_tool(name: str):
    """``tools/<name>.py`` as a fresh module, its sibling modules registered
    under their names (as ``python tools/<name>.py`` would find them)."""
    for sibling in SIBLINGS:
        if sibling not in sys.modules:
            sys.modules[sibling] = _load(sibling)
    return _load(name)
