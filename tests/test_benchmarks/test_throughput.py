"""The benchmark runs on the shipped configs (a few steps, tiny sizes);
figures are not asserted."""
import importlib.util
import os.path as osp

import pytest

SCRIPT = osp.join(
    osp.dirname(__file__), '..', '..', 'benchmarks', 'throughput.py')


def _load():
    spec = importlib.util.spec_from_file_location('throughput', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('in_process', [True, False])
def test_benchmark_runs(tmp_path, in_process):
    throughput = _load()
    argv = [
        '--iters', '1', '--warmup', '1', '--batch-size', '2', '--img-size',
        '32', '--cache-samples', '8', '--num-anchors', '10', '--bank-sizes',
        '10,20', '--json',
        str(tmp_path / 'out.json')
    ]
    if in_process:
        argv.append('--in-process')
    else:
        # Separate processes cost start-up time: one setting is enough.
        argv += ['--modes', 'c', '--no-bank-reload']
    report = throughput.main(argv)
    modes = [r['mode'] for r in report['results']]
    assert modes == (['a', 'b', 'c'] if in_process else ['c'])
    assert all(r['images_per_s'] > 0 for r in report['results'])
    if in_process:
        assert set(report['step_cost_ratios']) == {'b/a', 'c/a'}
        assert len(report['prompt_bank_reload']) == 2
    else:
        assert report['results'][0]['peak_memory_mb'] > 0
    assert osp.isfile(tmp_path / 'out.json')
    # The settings are the shipped configs, not restated model dicts.
    configs = report['settings']['configs']
    assert configs['c'] == ('configs/beamclip/beamclip_resnet18_vit-b32-'
                            'openai-cached_1xb32-2e_imagefolder.py')
