"""Find and run mmpretrain's own tools, shipped inside its wheel."""
import os.path as osp
import runpy
import sys

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


def run_stock_tool(name: str):
    """Run an mmpretrain Python tool as ``__main__`` with this ``sys.argv``.

    The tool's ``Config.fromfile`` accepts ``custom_imports`` as a list or
    a string too (:func:`accept_short_custom_imports`). A failed write
    (:class:`~.fileio.WriteError`) or a work dir in use
    (:class:`~.work_dir_lock.WorkDirInUseError`) ends the tool with their
    one-line message and status 1 instead of a traceback.
    """
    from .fileio import WriteError
    from .work_dir_lock import WorkDirInUseError
    path = stock_tool_path(name)
    accept_short_custom_imports()
    sys.argv[0] = path
    try:
        runpy.run_path(path, run_name='__main__')
    except (WriteError, WorkDirInUseError) as e:
        sys.exit(f'{name}: error: {e}')
