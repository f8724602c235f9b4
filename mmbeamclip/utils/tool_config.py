"""How this repository's tools read a config (:func:`load_tool_config`).

``custom_imports`` may be written as a list or a string. mmengine's
``Config.fromfile`` imports a config's plugins with
``import_modules_from_strings(**cfg['custom_imports'])``, so only the dict
form ``custom_imports=dict(imports=['mmbeamclip'])`` works; the forms people
write, ``custom_imports=['mmbeamclip']`` and ``custom_imports='mmbeamclip'``,
fail with ``TypeError: ... argument after ** must be a mapping``.
:func:`accept_short_custom_imports` wraps ``Config.fromfile`` so that it
normalises the value to the dict form (also in the config it returns, so
the dumped config works with the stock tools) before importing. Only the
tools in ``tools/`` apply it; importing mmbeamclip changes nothing.
"""
import functools
import inspect
import tempfile
from collections.abc import Mapping
from typing import Optional

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

from .fileio import NO_SPACE, write_error

_PATCHED = '_mmbeamclip_short_custom_imports'


def normalize_custom_imports(value) -> dict:
    """The dict form of a config's ``custom_imports``.

    Args:
        value (dict | list[str] | str): ``dict(imports=[...], ...)``, a list
            of module names or one module name.

    Returns:
        dict: ``dict(imports=[...], ...)``, the form mmengine expects.

    Raises:
        TypeError: Anything else (named in the message).
    """
    if isinstance(value, Mapping):
        if 'imports' not in value:
            raise TypeError(
                'custom_imports given as a dict needs an "imports" key, got '
                f'{dict(value)!r}')
        return dict(value)
    if isinstance(value, str):
        return dict(imports=[value])
    if isinstance(value, (list, tuple)) and all(
            isinstance(v, str) for v in value):
        return dict(imports=list(value))
    raise TypeError(
        'custom_imports must be a module name, a list of module names or '
        f'dict(imports=[...]), got {value!r}')


def accept_short_custom_imports():
    """Let ``Config.fromfile`` take ``custom_imports`` as a list or a str.

    Idempotent. ``Config.fromfile`` then loads the file without importing,
    normalises ``custom_imports`` with :func:`normalize_custom_imports` and
    imports with mmengine's own ``import_modules_from_strings``.
    """
    current = Config.__dict__['fromfile'].__func__  # a staticmethod
    if getattr(current, _PATCHED, False):
        return
    signature = inspect.signature(current)

    @functools.wraps(current)
    def fromfile(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        do_import = bound.arguments['import_custom_modules']
        bound.arguments['import_custom_modules'] = False
        try:
            cfg = current(*bound.args, **bound.kwargs)
        except OSError as e:
            # mmengine parses a temporary copy of the config (in TMPDIR);
            # on a full disk its error names no file.
            if e.errno not in NO_SPACE or e.filename:
                raise
            raise write_error(
                f'a temporary copy of {bound.arguments["filename"]} in '
                f'{tempfile.gettempdir()}', e) from e
        if do_import and cfg.get('custom_imports'):
            cfg.custom_imports = normalize_custom_imports(cfg.custom_imports)
            import_modules_from_strings(**cfg.custom_imports)
        return cfg

    setattr(fromfile, _PATCHED, True)
    Config.fromfile = staticmethod(fromfile)


def load_tool_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """A config as this repository's tools read it.

    ``custom_imports`` may be short (:func:`accept_short_custom_imports`),
    ``--cfg-options`` are merged and the config's default scope is set.

    Args:
        path (str): Config file.
        cfg_options (dict, optional): ``--cfg-options`` to merge.

    Returns:
        Config: The config, its custom imports done.
    """
    accept_short_custom_imports()
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    return cfg
