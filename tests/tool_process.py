"""Run the project's Python tools in their own processes, without paying
for the third-party imports every time.

A tool run such as ``python tools/train.py CFG`` spends most of its time on
a tiny test importing torch, mmengine, mmpretrain and open_clip (7-10 s on
a 2-core machine). :func:`run_tool` forks each run from a *zygote*: a
process started once per test process that has imported those third-party
packages and nothing of this project. The forked child then does what
``python SCRIPT ARGS`` would do: it takes the request's environment, working
directory, ``sys.argv`` and ``sys.path`` (script folder first, then
``PYTHONPATH``), runs the script as ``__main__`` and exits with its status.
``mmbeamclip`` is never imported before the tool runs, so the plugin still
arrives only through the config's ``custom_imports`` (or the tool's own
import), exactly as for a user; :func:`zygote_main` checks this.

What a fork cannot reproduce runs as a real ``exec``: anything that is not
``python SCRIPT``, and calls with ``fresh=True`` (e.g. a test of what a tool
prints while the third-party modules import).
"""
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile

# Imported once by the zygote; all third-party, none of this project.
PRELOAD = ('numpy', 'cv2', 'PIL.Image', 'torch', 'torchvision', 'mmcv',
           'mmengine.config', 'mmengine.runner', 'mmpretrain',
           'mmpretrain.models', 'mmpretrain.datasets', 'open_clip')
OURS = ('mmbeamclip', 'beamclip_bench')


def zygote_main():
    """Serve fork requests (one JSON line each) from stdin."""
    requests = os.fdopen(os.dup(0), 'r')
    replies = os.fdopen(os.dup(1), 'w')
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    import importlib
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        for name in PRELOAD:
            importlib.import_module(name)
    loaded = [m for m in sys.modules if m.split('.')[0] in OURS]
    if loaded:
        raise RuntimeError(f'the zygote imported project modules: {loaded}')
    base_path = [p for p in sys.path if p != osp.dirname(__file__)]
    replies.write('ready\n')
    replies.flush()
    for line in requests:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            requests.close()
            replies.close()
            _child(request, base_path, devnull)
        replies.write(f'{pid}\n')
        replies.flush()
        _, status = os.waitpid(pid, 0)
        replies.write(f'{os.waitstatus_to_exitcode(status)}\n')
        replies.flush()


def _child(request, base_path, devnull):
    os.setpgid(0, 0)  # the caller kills the whole group on a timeout
    os.chdir(request['cwd'])
    os.environ.clear()
    os.environ.update(request['env'])
    out = os.open(request['log'], os.O_WRONLY | os.O_TRUNC)
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    script = osp.abspath(request['argv'][0])
    extra = [p for p in request['env'].get('PYTHONPATH', '').split(os.pathsep)
             if p]
    sys.path[:] = [osp.dirname(script)] + extra + base_path
    sys.argv[:] = request['argv']
    import importlib
    import runpy
    importlib.invalidate_caches()
    runpy.run_path(script, run_name='__main__')
    sys.exit(0)


class Zygote:
    """A zygote process and the pipe to it."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=dict(os.environ, PYTHONPATH=''),
            text=True)
        if self.proc.stdout.readline().strip() != 'ready':
            raise RuntimeError('the tool zygote did not start')

    def run(self, argv, env, cwd, timeout):
        with tempfile.NamedTemporaryFile('r', suffix='.log') as log:
            request = dict(argv=argv, env=env, cwd=cwd, log=log.name)
            self.proc.stdin.write(json.dumps(request) + '\n')
            self.proc.stdin.flush()
            pid = int(self.proc.stdout.readline())
            code = self._wait(pid, timeout)
            output = log.read()
        return code, output

    def _wait(self, pid, timeout):
        import threading
        killed = []

        def kill():
            killed.append(pid)
            os.killpg(pid, 9)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            code = int(self.proc.stdout.readline())
        finally:
            timer.cancel()
        if killed:
            raise subprocess.TimeoutExpired(pid, timeout)
        return code


_ZYGOTE = None


def run_tool(args, env=None, cwd=None, timeout=600, fresh=False):
    """``subprocess.run(args, capture_output=True, text=True)``, forked from
    the zygote when ``args`` is ``[sys.executable, SCRIPT.py, ...]``.

    stdout and stderr come back together in ``stdout`` (``stderr`` is
    empty), in the order the tool wrote them.

    Returns:
        subprocess.CompletedProcess: ``returncode`` and ``stdout``.
    """
    global _ZYGOTE
    args = [str(a) for a in args]
    env = dict(os.environ if env is None else env)
    cwd = os.getcwd() if cwd is None else str(cwd)
    if fresh or len(args) < 2 or args[0] != sys.executable or \
            not args[1].endswith('.py'):
        proc = subprocess.run(args, cwd=cwd, env=env, timeout=timeout,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        return subprocess.CompletedProcess(args, proc.returncode,
                                           proc.stdout, '')
    if _ZYGOTE is None or _ZYGOTE.proc.poll() is not None:
        _ZYGOTE = Zygote()
    code, output = _ZYGOTE.run(args[1:], env, cwd, timeout)
    return subprocess.CompletedProcess(args, code, output, '')


if __name__ == '__main__':
    zygote_main()
