"""A full disk and a second run cannot destroy a training's checkpoints.

Through the stock ``tools/train.py`` (the plugin arrives by the config's
``custom_imports``): a run into a work dir with a stale lock takes it over;
a live lock refuses the next run; a retrain whose checkpoint hits a real
file-size limit (``RLIMIT_FSIZE``, what a full disk looks like to a write)
leaves the previous good ``epoch_1.pth`` and ``last_checkpoint`` readable
and ends with one line naming the file.
"""
import json
import os
import os.path as osp
import resource
import signal
import socket
import subprocess
import sys

import pytest
import torch
from conftest import tool_env, write_image_folder
from tool_process import run_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(
    ROOT, 'configs/beamclip/'
    'beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py')
NARROW = ['model.backbone.base_channels=8', 'model.neck.hid_channels=64']


def options(tiny_clip_dir, *extra):
    return [
        '--cfg-options', 'model.target_generator.model_name=tiny',
        f'model.target_generator.pretrained=local-dir:{tiny_clip_dir}',
        'model.neck.out_channels=32', 'train_dataloader.batch_size=4',
        'train_dataloader.num_workers=0', 'train_cfg.max_epochs=1',
        'train_dataloader.dataset.pipeline.1.scale=32',
        'val_dataloader=None', 'val_cfg=None', 'val_evaluator=None', *extra
    ]


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    data = write_image_folder(tmp_path_factory.mktemp('data') / 'images')
    # Tiny tensors: threads only spin on 2 cores.
    return tool_env(tmp_path_factory, DATA_ROOT=data, OMP_NUM_THREADS='1')


def write_lock(work_dir, pid, host=None):
    os.makedirs(work_dir, exist_ok=True)
    with open(osp.join(work_dir, 'train.lock'), 'w') as f:
        json.dump(dict(pid=pid, host=host or socket.gethostname()), f)


def dead_pid():
    proc = subprocess.Popen(['true'])
    proc.wait()
    return proc.pid


@pytest.fixture(scope='module')
def good_run(env, tiny_clip_dir, tmp_path_factory):
    """One narrow epoch into a work dir left with a stale lock."""
    work_dir = str(tmp_path_factory.mktemp('work'))
    write_lock(work_dir, dead_pid())
    proc = run_tool([sys.executable, 'tools/train.py', CONFIG,
                     '--work-dir', work_dir] +
                    options(tiny_clip_dir, *NARROW),
                    env=env, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return work_dir, proc.stdout


def test_stale_lock_taken_over_and_released(good_run):
    work_dir, log = good_run
    assert 'Taking over the stale lock' in log
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    assert not osp.exists(osp.join(work_dir, 'train.lock'))


def test_live_lock_refuses_second_run(good_run, env, tiny_clip_dir):
    work_dir, _ = good_run
    # A live process on this host (the test itself) holds the work dir.
    write_lock(work_dir, os.getpid())
    before = sorted(os.listdir(work_dir))
    try:
        proc = run_tool([sys.executable, 'tools/train.py', CONFIG,
                         '--work-dir', work_dir] +
                        options(tiny_clip_dir, *NARROW),
                        env=env, cwd=ROOT, timeout=600)
    finally:
        held = json.load(open(osp.join(work_dir, 'train.lock')))
        os.remove(osp.join(work_dir, 'train.lock'))
    assert proc.returncode != 0
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith('train.py: error: The work dir'), last
    assert f'pid {os.getpid()}' in last and 'in use' in last
    assert held['pid'] == os.getpid(), 'the lock of the live run was taken'
    # Only the refused run's own timestamped log folder may appear.
    new = set(os.listdir(work_dir)) - set(before)
    assert all(osp.isdir(osp.join(work_dir, n)) for n in new), new


def _limit_file_size(limit):

    def preexec():
        # Ignored SIGXFSZ: the write fails with EFBIG, as on a full disk,
        # instead of the signal killing the process.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


def test_file_size_limit_keeps_previous_checkpoint(good_run, env,
                                                   tiny_clip_dir):
    work_dir, _ = good_run
    ckpt = osp.join(work_dir, 'epoch_1.pth')
    good = open(ckpt, 'rb').read()
    last = open(osp.join(work_dir, 'last_checkpoint')).read()
    # A retrain (no --resume) of a 4x wider student rewrites epoch_1.pth;
    # the limit lets the old size through but not the new one.
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', CONFIG, '--work-dir', work_dir] +
        options(tiny_clip_dir, 'model.backbone.base_channels=16'),
        env=env, cwd=ROOT, timeout=600, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
        preexec_fn=_limit_file_size(2 * len(good)))
    out = proc.stdout
    assert proc.returncode == 1, out[-4000:]
    line = out.strip().splitlines()[-1]
    assert line.startswith(f'train.py: error: Could not write {ckpt}'), line
    assert 'File too large' in line
    assert open(ckpt, 'rb').read() == good
    torch.load(ckpt, map_location='cpu', weights_only=False)
    assert open(osp.join(work_dir, 'last_checkpoint')).read() == last
    # Released on failure; no temporary file left behind.
    left = [n for n in os.listdir(work_dir) if n.startswith('.')]
    assert not left and not osp.exists(osp.join(work_dir, 'train.lock'))
