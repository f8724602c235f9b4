"""Find and run mmpretrain's own tools, shipped inside its wheel."""
import argparse
import os.path as osp
import runpy
import sys
import tokenize
from typing import List

from .fileio import check_not_input
from .stored_config import parse_stored_config
from .tool_config import accept_short_custom_imports


def stock_tool_path(name: str) -> str:
    """Path of an mmpretrain tool, e.g. ``'train.py'`` or ``'dist_train.sh'``.

    The mmpretrain wheel ships its ``tools/`` folder as ``mmpretrain/.mim``;
    a source checkout has it next to the package.
    """
    import mmpretrain
    pkg = osp.dirname(mmpretrain.__file__)
    for root in (osp.join(pkg, '.mim', 'tools'),
                 osp.join(osp.dirname(pkg), 'tools')):
        path = osp.join(root, name)
        if osp.isfile(path):
            return path
    raise FileNotFoundError(
        f'mmpretrain tool {name!r} not found next to {pkg}; reinstall '
        'mmpretrain==1.2.0 from a wheel (it ships tools/ as .mim/tools).')


def _is_flat_dump(config: str) -> bool:
    """Whether ``config`` is itself a config dump: plain data (no
    ``_base_``, no code) without comments, so dumping it over itself
    (re-running a work dir's config there) loses nothing."""
    if not osp.isfile(config):
        return False
    try:
        with open(config, 'rb') as f:
            tokens = list(tokenize.tokenize(f.readline))
        with open(config, encoding='utf-8') as f:
            cfg = parse_stored_config(f.read(), config)
    except (ValueError, SyntaxError, tokenize.TokenError):
        return False
    return (cfg is not None and '_base_' not in cfg
            and not any(t.type == tokenize.COMMENT for t in tokens))


def check_stock_tool_outputs(name: str, argv: List[str]):
    """Refuse stock ``train.py`` / ``test.py`` arguments that overwrite inputs.

    mmengine dumps the config to ``WORK_DIR/<config file name>``, so
    ``--work-dir`` set to the config's own folder would replace the user's
    config (its ``_base_``, code and comments) by its flattened dump; a
    config that is such a dump already may be re-run there. ``test.py
    --out`` could name the checkpoint or the config.

    Args:
        name (str): ``'train.py'`` or ``'test.py'``.
        argv (list[str]): The tool's arguments (without the program).

    Raises:
        ValueError: An output is an input; the message names both.
    """
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('config', nargs='?')
    if name == 'test.py':
        parser.add_argument('checkpoint', nargs='?')
        parser.add_argument('--out')
    parser.add_argument('--work-dir')
    # Absorbs the option's values so they are not taken as positionals.
    parser.add_argument('--cfg-options', nargs='+')
    args, _ = parser.parse_known_args(argv)
    inputs = dict(config=args.config,
                  checkpoint=getattr(args, 'checkpoint', None))
    if args.work_dir and args.config and not _is_flat_dump(args.config):
        dump = osp.join(args.work_dir, osp.basename(args.config))
        try:
            check_not_input(dump, inputs)
        except ValueError:
            raise ValueError(
                f'--work-dir {args.work_dir} would overwrite the input '
                f'config {args.config} (mmengine dumps the config to '
                'WORK_DIR/<config file name>). Pick another --work-dir.'
            ) from None
    check_not_input(getattr(args, 'out', None), inputs)


def run_stock_tool(name: str):
    """Run an mmpretrain Python tool as ``__main__`` with this ``sys.argv``.

    The tool's ``Config.fromfile`` accepts ``custom_imports`` as a list or
    a string too (:func:`accept_short_custom_imports`). Outputs that would
    overwrite an input are refused first (:func:`check_stock_tool_outputs`).
    A failed write (:class:`~.fileio.WriteError`) or a work dir in use
    (:class:`~.work_dir_lock.WorkDirInUseError`) ends the tool with their
    one-line message and status 1 instead of a traceback.
    """
    from .fileio import WriteError
    from .work_dir_lock import WorkDirInUseError
    if name in ('train.py', 'test.py'):
        try:
            check_stock_tool_outputs(name, sys.argv[1:])
        except ValueError as exc:
            sys.exit(f'{name}: error: {exc}')
    path = stock_tool_path(name)
    accept_short_custom_imports()
    sys.argv[0] = path
    try:
        runpy.run_path(path, run_name='__main__')
    except (WriteError, WorkDirInUseError) as e:
        sys.exit(f'{name}: error: {e}')
