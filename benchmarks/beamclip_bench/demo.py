"""The offline demo behind ``tools/demo.py``: one real BeamCLIP run, small.

Stages, each printed on one line with its elapsed time: data, teacher,
teacher-target cache (view-matched targets), distillation through the stock
``tools/train.py``, probes of the student and of a random-init ResNet-18,
the teacher's own reference. Library warnings and model-load reports go to
``<work_dir>/demo.log``, not to the console (``tools/demo.py`` redirects
stderr before importing anything that warns on import).
"""
import contextlib
import json
import logging
import os.path as osp
import time
from typing import Optional

from mmengine.logging import MMLogger

from . import fashion_mnist
from .common import LOCAL_DIR, PROXY_LABEL, PROXY_META, is_proxy
from .console import stderr_to_file
from .probes import logreg_probe
from .profiles import PROFILES
from .row_configs import pretrain_config
from .runs import last_metric, run_train
from .subsets import prepare_data
from .teacher import build_teacher_spec, cache_teacher, teacher_reference

# Fashion-MNIST as exported for the demo: images per class, pixel size.
FMNIST_TRAIN_PER_CLASS = 300
FMNIST_VAL_PER_CLASS = 100
FMNIST_SIZE = 32


def file_logger(log_file: str):
    """The mmengine logger of the run, writing to ``log_file`` only: the
    model-load reports of the teachers (logged to the current mmengine
    logger) stay off the console."""
    logger = MMLogger.get_instance(
        'mmbeamclip-demo', log_file=log_file, log_level='INFO')
    for h in logger.handlers:
        if type(h) is logging.StreamHandler:
            h.setLevel(logging.ERROR)
    return logger


class Stages:
    """Prints one line per stage: what it did and how long it took."""

    def __init__(self, logger):
        self.logger = logger
        self.t_start = time.time()
        self.times = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        t0 = time.time()
        note = {}
        yield note
        dt = time.time() - t0
        self.times[name] = dt
        line = (f'[demo {time.time() - self.t_start:6.0f}s] {name:<14s} '
                f'{dt:6.1f} s  {note.get("msg", "")}')
        print(line, flush=True)
        self.logger.info(line)


def fashion_mnist_folder(work_dir: str, log=print) -> str:
    """Fashion-MNIST (Debian package) exported as an image folder."""
    return fashion_mnist.image_folder(
        work_dir,
        f'fashion-mnist-{FMNIST_SIZE}',
        train_per_class=FMNIST_TRAIN_PER_CLASS,
        val_per_class=FMNIST_VAL_PER_CLASS,
        size=FMNIST_SIZE,
        log=log)


def run_demo(work_dir: str,
             data_root: Optional[str] = None,
             teacher: str = 'proxy',
             profile: str = 'demo',
             epochs: Optional[int] = None) -> dict:
    """Distil a teacher into a ResNet-18 on real images and report it.

    Args:
        work_dir (str): Everything lands here (and ``demo.log``).
        data_root (str, optional): ImageNet-layout folder. Defaults to
            Fashion-MNIST from the Debian package.
        teacher (str): ``'proxy'``, ``'local-dir:DIR'`` or ``MODEL:TAG``.
        profile (str): Benchmark profile. Defaults to ``'demo'``.
        epochs (int, optional): Distillation epochs; defaults to the
            profile's.

    Returns:
        dict: Accuracies (%), stage times (s) and what was run.
    """
    work_dir = osp.abspath(work_dir)
    settings = dict(PROFILES[profile])
    if epochs:
        settings['epochs'] = epochs
    log_file = osp.join(work_dir, 'demo.log')
    out = dict(work_dir=work_dir, log_file=log_file, teacher_spec=teacher)
    with stderr_to_file(log_file):
        logger = file_logger(log_file)
        stage = Stages(logger)
        log = logger.info
        with stage('data') as note:
            if data_root is None:
                data_root = fashion_mnist_folder(work_dir, log)
            data = prepare_data(data_root, work_dir, settings)
            note['msg'] = (f'{len(data["classes"])} classes, '
                           f'{data["pretrain_num"]} unlabeled train, '
                           f'{data["probe_num"]} probe, {data["val_num"]} '
                           f'val images from {data_root}')
        with stage('teacher') as note:
            spec = build_teacher_spec(teacher, data, settings, work_dir, log)
            note['msg'] = describe_teacher(spec, out)
        with stage('teacher cache') as note:
            tinfo = cache_teacher(spec, data, settings, work_dir, log)
            note['msg'] = (f'{data["pretrain_num"]} images x '
                           f'{tinfo["num_views"]} views, the teacher run '
                           'once (view-matched targets)')
        with stage('distillation') as note:
            cfg = pretrain_config('csm', data, settings, 0, tinfo)
            res = run_train(cfg, osp.join(work_dir, 'csm_student'), log)
            out['zero_shot'] = last_metric(res['scalars'], 'accuracy/top1')
            out['checkpoint'] = res['checkpoint']
            note['msg'] = (f'ResNet-18, BeamCLIP CSM, {settings["epochs"]} '
                           f'epochs at {settings["img_size"]} px, stock '
                           'tools/train.py')
        with stage('probes') as note:
            out['random_probe'] = logreg_probe(None, data, settings)['val']
            out['student_probe'] = logreg_probe(res['checkpoint'], data,
                                                settings)['val']
            note['msg'] = ('converged logistic regression on frozen '
                           'features: random init and student')
        with stage('teacher ref.') as note:
            out['teacher'] = teacher_reference(tinfo['cfg'], data, settings,
                                               tinfo['templates'])
            note['msg'] = 'the ceiling: the teacher\'s own probe, zero-shot'
        out.update(
            data_root=data_root, classes=data['classes'],
            num_images=dict(pretrain=data['pretrain_num'],
                            probe=data['probe_num'], val=data['val_num']),
            teacher_label=tinfo['label'],
            stage_seconds={k: round(v, 1) for k, v in stage.times.items()},
            total_seconds=round(time.time() - stage.t_start, 1))
    print_summary(out)
    return out


def describe_teacher(spec: str, out: dict) -> str:
    """The teacher stage's line; a proxy's fit quality goes into ``out``
    (``proxy_fit``) too."""
    if not is_proxy(spec):
        return spec
    with open(osp.join(spec[len(LOCAL_DIR):], PROXY_META)) as f:
        fit = json.load(f)['fit']
    out['proxy_fit'] = fit
    return (f'{PROXY_LABEL}; held-out train images: top-1 agreement with '
            'EfficientNet '
            f'{100 * fit["heldout_top1_agreement_with_effnet"]:.0f}%, '
            f'KL {fit["heldout_kl"]:.2f}')


def print_summary(out: dict):
    """The demo's verdict: student vs random init vs teacher."""
    n = out['num_images']
    print('\n' + '=' * 72)
    print(f'{len(out["classes"])} classes, {n["pretrain"]} unlabeled train '
          f'images, {n["val"]} val images ({out["data_root"]})')
    print(f'Teacher: {out["teacher_label"]}')
    print(f'{"top-1 on val (%)":36s}{"linear probe":>14s}{"zero-shot":>11s}')
    print(f'{"ResNet-18, random init":36s}{out["random_probe"]:14.1f}'
          f'{"-":>11s}')
    zs = out['zero_shot']
    print(f'{"ResNet-18, BeamCLIP CSM student":36s}'
          f'{out["student_probe"]:14.1f}'
          f'{"-" if zs is None else f"{zs:.1f}":>11s}')
    print(f'{"teacher (the ceiling)":36s}'
          f'{out["teacher"]["linear_probe"]:14.1f}'
          f'{out["teacher"]["zero_shot"]:11.1f}')
    stages = ', '.join(f'{k} {v:.0f} s'
                       for k, v in out['stage_seconds'].items())
    print(f'Took {out["total_seconds"] / 60:.1f} min ({stages}).')
    print(f'Logs, configs and checkpoints: {out["work_dir"]} '
          f'(library messages: {out["log_file"]})')
    if 'proxy' in out['teacher_label']:
        print('No genuine CLIP weights were used: the teacher\'s knowledge '
              'is a supervised ImageNet classifier\'s.')
