"""The quality benchmark: row configs, subsets, view cache, report, and its
plumbing."""
import glob
import json
import os.path as osp
import sys

import pytest
import torch
from beamclip_bench.common import REPO
from tool_process import run_tool

import mmbeamclip  # noqa: F401


@pytest.mark.timeout(600)
def test_quick_profile_plumbing(tmp_path, image_folder, tiny_clip_dir):
    """Every stage of the benchmark, a few iterations on a handful of images,
    through the stock scripts: data subsets, the view cache, the CSM and
    SSL rows on view-matched targets through the stock
    train.py, probes, JSON, plot and the report section."""
    pytest.importorskip('sklearn')  # the benchmark extra
    work = tmp_path / 'work'
    results = tmp_path / 'RESULTS.md'
    proc = run_tool([
        sys.executable,
        osp.join(REPO, 'benchmarks', 'quality.py'), '--profile', 'smoke',
        '--data-root', image_folder, '--teacher',
        f'local-dir:{tiny_clip_dir}', '--rows', 'csm,csm_ssl',
        '--work-dir',
        str(work), '--results',
        str(results)
    ], cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(work / 'quality_smoke.json') as f:
        out = json.load(f)
    assert set(out['rows']) == {'csm', 'csm_ssl'}
    for row in out['rows'].values():
        assert 0 <= row['linear_probe'] <= 100
        assert 0 <= row['logreg_probe'] <= 100
        assert 0 <= row['logreg_heldout'] <= 100
    assert out['rows']['csm_ssl']['passes'] == 2
    assert 0 <= out['rows']['csm']['zero_shot'] <= 100
    assert out['rows']['csm']['pretrain_seconds'] > 0
    assert out['teacher']['reference'] is not None
    assert out['teacher']['num_views'] == 2
    assert len(out['load_start']) == 3 and len(out['load_end']) == 3
    assert osp.isfile(work / 'quality_smoke.png')
    # One cache for both teacher rows; both replayed it.
    assert len(glob.glob(str(work / 'teacher_cache' / '*'))) == 1
    # Row folders per (profile, data): other profiles never overwrite them.
    runs = work / f'smoke_{osp.basename(osp.normpath(image_folder))}'
    assert osp.isfile(runs / 'pretrain.txt')
    assert not osp.exists(work / 'pretrain.txt')
    for row in ('csm', 'csm_ssl'):
        log = open(runs / f'{row}_s0' / 'pretrain' / 'train.log').read()
        assert 'Teacher-target cache matches' in log
    text = results.read_text()
    assert 'No class folder' not in text  # wnid folders: ImageNet classes
    assert '2 of the 2 class folders are ImageNet-1k' in text
    assert 'Imagenette' not in text and 'three other jobs' not in text
    # Stock train.py wrote the student checkpoint; no teacher tensors in it.
    ckpt = glob.glob(str(runs / 'csm_s0' / 'pretrain' / 'epoch_1.pth'))[0]
    state = torch.load(ckpt, map_location='cpu', weights_only=False)
    assert not any(
        k.startswith('target_generator.') for k in state['state_dict'])
