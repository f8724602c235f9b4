"""Keep a console readable: stderr (library warnings, model-load reports)
goes to a log file. Standard library only, so it can be entered before the
libraries that warn on import are imported."""
import contextlib
import os
import os.path as osp
import sys


@contextlib.contextmanager
def stderr_to_file(log_file: str):
    """Redirect file descriptor 2 (also child processes' and C code's
    stderr) to ``log_file`` (appended) for the duration of the block."""
    os.makedirs(osp.dirname(osp.abspath(log_file)), exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log_file, 'a') as f:
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
