"""tools/demo.py end to end at the smoke profile: every stage through the
stock scripts, on a tiny folder with the tiny teacher."""
import os.path as osp
import re
import sys

import pytest
from beamclip_bench.common import REPO
from tool_process import run_tool


@pytest.mark.timeout(600)
def test_demo_runs_every_stage(tmp_path, image_folder, tiny_clip_dir):
    pytest.importorskip('sklearn')  # the benchmark extra
    work = tmp_path / 'demo'
    proc = run_tool([
        sys.executable,
        osp.join(REPO, 'tools', 'demo.py'), '--profile', 'smoke',
        '--data-root', image_folder, '--teacher',
        f'local-dir:{tiny_clip_dir}', '--work-dir',
        str(work)
    ], cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    for stage in ('data', 'teacher', 'teacher cache', 'distillation',
                  'probes', 'teacher ref.'):
        assert re.search(rf'\] {re.escape(stage)} +[0-9.]+ s', out), stage
    line = re.search(r'BeamCLIP CSM student +([0-9.]+) +([0-9.]+)', out)
    assert line, out[-2000:]
    assert 0 <= float(line.group(1)) <= 100
    assert osp.isfile(work / 'csm_student' / 'epoch_1.pth')
    assert osp.isfile(work / 'demo.log')
