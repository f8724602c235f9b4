"""The README is the test plan: its commands, as written, in subprocesses.

Each command below is a literal copy of a README command; the first test
checks that every one appears verbatim in README.md, so the README cannot
drift from what is run here. They run through the stock tools in fresh
processes (this test process never imports mmbeamclip for them), with only
the teacher, the data and the GPU count swapped for tiny ones: the teacher
through ``--cfg-options``, the data through ``DATA_ROOT``/``--data-root`` or
``--cfg-options``, ``8`` GPUs through 2 (or 1) gloo processes.

Not run here, and why: ``tools/demo.py`` and ``benchmarks/quality.py``
(minutes to an hour; the demo and the benchmark have their own tests), the
8-GPU ImageNet and Slurm recipes (ImageNet-sized configs; their configs are
built in ``tests/test_configs``), ``tools/stage_teacher.py`` (needs a hub
download or a real CLIP weight file), ``dist_test.sh`` (the same launcher as
``dist_train.sh``, which runs here) and the test command itself.
"""
import glob
import os
import os.path as osp
import shlex
import socket
import sys

import pytest
import torch
from conftest import probe_options, write_image_folder
from tool_process import run_tool

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
README = osp.join(ROOT, 'README.md')
CPU_CONFIG = ('configs/beamclip/'
              'beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py')
LINEAR_CONFIG = ('configs/beamclip/benchmarks/'
                 'resnet18_8xb512-linear-coslr-90e_in1k.py')

# Verbatim README commands.
TRAIN_CPU = ('DATA_ROOT=/path/to/folder python tools/train.py \\\n'
             f'    {CPU_CONFIG}')
RESUME = 'bash tools/dist_train.sh CONFIG 8 --resume'
TEST = 'python tools/test.py CONFIG work_dirs/.../epoch_200.pth'
PROBE = (f'bash tools/dist_train.sh {LINEAR_CONFIG} 8 \\\n'
         '    --cfg-options model.backbone.init_cfg.checkpoint='
         'work_dirs/.../epoch_200.pth')
PROBE_STUDENT = (f'bash tools/dist_train.sh {LINEAR_CONFIG} 8 \\\n'
                 '    --cfg-options model.backbone.init_cfg.checkpoint='
                 'student.pth')
EXTRACT = ('python tools/extract_student.py work_dirs/.../epoch_200.pth '
           'student.pth')
EXTRACT_TV = ('python tools/extract_student.py work_dirs/.../epoch_200.pth '
              'resnet18.pth --torchvision')
EXPORT_TS = ('python tools/extract_student.py work_dirs/.../epoch_200.pth '
             'resnet18.pt --format torchscript')
KNN = ('python tools/knn_eval.py work_dirs/.../epoch_200.pth '
       '--data-root data/imagenet')
BANK = ('python tools/build_prompt_bank.py CONFIG '
        '--cache-dir /shared/mmbeamclip/prompt_banks')
COMMANDS = [
    TRAIN_CPU, RESUME, TEST, PROBE, PROBE_STUDENT, EXTRACT, EXTRACT_TV,
    EXPORT_TS, KNN, BANK
]


def test_every_command_is_in_the_readme():
    with open(README, encoding='utf-8') as f:
        readme = f.read()
    missing = [c for c in COMMANDS if c not in readme]
    assert not missing, f'README.md no longer shows: {missing}'


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_readme(command, ctx, subs=(), extra=(), ok=True, timeout=600):
    """Run a README command with placeholders and sizes swapped."""
    words = shlex.split(command.replace('\\\n', ' '))
    env = dict(ctx['env'])
    while '=' in words[0] and not words[0].startswith('-'):
        key, value = words.pop(0).split('=', 1)
        env[key] = dict(subs).get(value, value)
    words = [dict(subs).get(w, w) for w in words]
    # --cfg-options takes everything after it: keep it last.
    if '--cfg-options' in words and '--cfg-options' in extra:
        extra = list(extra)
        extra.remove('--cfg-options')
    if words[0] == 'python':
        words[0] = sys.executable
    env['PORT'] = str(_free_port())
    proc = run_tool(
        words + list(extra),
        cwd=ROOT,
        env=env,
        timeout=timeout)
    log = proc.stdout + proc.stderr
    assert (proc.returncode == 0) == ok, f'{words}\n{log[-4000:]}'
    return log


@pytest.fixture(scope='module')
def ctx(tmp_path_factory, tiny_clip_dir):
    tmp = tmp_path_factory.mktemp('readme')
    teacher = tiny_clip_dir
    env = dict(
        os.environ,
        HF_HUB_OFFLINE='1',
        MMBEAMCLIP_CACHE=str(tmp / 'cache'),
        PYTHONPATH=os.pathsep.join([ROOT, os.environ.get('PYTHONPATH', '')]))
    data = write_image_folder(tmp / 'images')
    teacher_opts = [
        'model.target_generator.model_name=tiny',
        f'model.target_generator.pretrained=local-dir:{teacher}',
        'model.neck.out_channels=32'
    ]
    loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
    small = [f'{loader}.batch_size=4' for loader in loaders] + [
        f'{loader}.num_workers=0' for loader in loaders
    ]
    return dict(
        tmp=tmp,
        env=env,
        data=data,
        work=str(tmp / 'work'),
        options=['--cfg-options'] + teacher_opts + small)


@pytest.fixture(scope='module')
def trained(ctx):
    """The README's CPU run: two epochs of the stock tools/train.py."""
    log = run_readme(
        TRAIN_CPU,
        ctx,
        subs={'/path/to/folder': ctx['data']},
        extra=['--work-dir', ctx['work']] + ctx['options'])
    assert 'Epoch(train) [2][4/4]' in log and 'accuracy/top1' in log
    return osp.join(ctx['work'], 'epoch_2.pth')


def test_stock_test_tool(trained, ctx):
    log = run_readme(
        TEST,
        dict(ctx, env=dict(ctx['env'], DATA_ROOT=ctx['data'])),
        subs={
            'CONFIG': CPU_CONFIG,
            'work_dirs/.../epoch_200.pth': trained
        },
        extra=['--work-dir', str(ctx['tmp'] / 'test')] + ctx['options'])
    assert 'Epoch(test)' in log and 'accuracy/top1' in log
    assert 'Building the prompt bank' not in log  # it came with the ckpt


def test_resume_with_two_gloo_processes(trained, ctx):
    """dist_train.sh --resume: the run picks up its last checkpoint."""
    log = run_readme(
        RESUME,
        dict(ctx, env=dict(ctx['env'], DATA_ROOT=ctx['data'])),
        subs={
            'CONFIG': CPU_CONFIG,
            '8': '2'
        },
        extra=['--work-dir', ctx['work']] + ctx['options'] +
        ['train_cfg.max_epochs=3'])
    assert 'Distributed training: True' in log
    # Our tools/train.py ran on each rank (torchrun), not mmpretrain's:
    # the library warnings it filters are not in the log.
    assert 'MultiScaleDeformableAttention' not in log
    assert 'resumed epoch: 2, iter: 8' in log
    assert 'Epoch(train) [3]' in log and 'Epoch(train) [1]' not in log
    ckpt = torch.load(
        osp.join(ctx['work'], 'epoch_3.pth'),
        map_location='cpu',
        weights_only=False)
    assert ckpt['meta']['mmbeamclip']['world_size'] == 2


def check_probe(log, work_dir, source):
    assert 'Epoch(train) [1][4/4]' in log and 'accuracy/top1' in log
    probed = torch.load(
        osp.join(work_dir, 'epoch_1.pth'), map_location='cpu',
        weights_only=False)['state_dict']
    want = torch.load(source, map_location='cpu',
                      weights_only=False)['state_dict']
    keys = [k for k in probed if k.startswith('backbone.')]
    assert keys
    for key in keys:  # loaded, and frozen while the head trained
        assert torch.equal(probed[key], want[key]), key


def test_linear_probe_of_training_checkpoint(trained, ctx, tmp_path):
    work_dir = str(tmp_path / 'probe')
    log = run_readme(
        PROBE,
        ctx,
        subs={
            '8': '1',
            'model.backbone.init_cfg.checkpoint=work_dirs/.../epoch_200.pth':
            f'model.backbone.init_cfg.checkpoint={trained}'
        },
        extra=probe_options(ctx['data']) + ['--work-dir', work_dir],
        timeout=600)
    check_probe(log, work_dir, trained)


@pytest.fixture(scope='module')
def student(trained, ctx):
    out = str(ctx['tmp'] / 'student.pth')
    run_readme(EXTRACT, ctx, subs={
        'work_dirs/.../epoch_200.pth': trained,
        'student.pth': out
    })
    return out


def test_extract_student_and_torchvision(trained, student, ctx, tmp_path):
    state = torch.load(student, weights_only=True)['state_dict']
    assert state and all(k.startswith('backbone.') for k in state)
    tv = str(tmp_path / 'resnet18.pth')
    run_readme(EXTRACT_TV, ctx, subs={
        'work_dirs/.../epoch_200.pth': trained,
        'resnet18.pth': tv
    })
    bare = torch.load(tv, weights_only=True)
    assert set(bare) == {k[len('backbone.'):] for k in state}


def test_linear_probe_of_extracted_student(student, ctx, tmp_path):
    work_dir = str(tmp_path / 'probe')
    log = run_readme(
        PROBE_STUDENT,
        ctx,
        subs={
            '8': '1',
            'model.backbone.init_cfg.checkpoint=student.pth':
            f'model.backbone.init_cfg.checkpoint={student}'
        },
        extra=probe_options(ctx['data']) + ['--work-dir', work_dir])
    check_probe(log, work_dir, student)


def test_torchscript_export_and_knn(trained, ctx, tmp_path):
    out = str(tmp_path / 'resnet18.pt')
    run_readme(EXPORT_TS, ctx, subs={
        'work_dirs/.../epoch_200.pth': trained,
        'resnet18.pt': out
    })
    features = torch.jit.load(out)(torch.randn(2, 3, 64, 64))
    assert features[0].shape == (2, 512, 2, 2)

    log = run_readme(KNN, ctx, subs={
        'work_dirs/.../epoch_200.pth': trained,
        'data/imagenet': ctx['data']
    })
    assert '2 classes, 16 train / 8 val images' in log
    # k=20 and k=200 with only 16 train images: every image votes
    assert 'k=20 (16 used): top1' in log and 'k=200 (16 used): top1' in log


def test_build_prompt_bank_fills_the_training_cache(ctx, tmp_path):
    cache = str(tmp_path / 'banks')
    env = dict(ctx['env'], DATA_ROOT=ctx['data'])
    log = run_readme(
        BANK,
        dict(ctx, env=env),
        subs={
            'CONFIG': CPU_CONFIG,
            '/shared/mmbeamclip/prompt_banks': cache
        },
        extra=ctx['options'])
    assert 'Prompt bank' in log and '(2, 32)' in log
    assert len(glob.glob(osp.join(cache, 'prompt_bank_*.pth'))) == 1
