"""Statistics and their rendering: standard errors, gap closure,
comparisons, merged invocations and the RESULTS.md section."""
import math

import numpy as np
import pytest
from beamclip_bench import environment, report, results, statistics

import mmbeamclip  # noqa: F401


def test_mean_std_and_standard_error():
    vals = [61.0, 64.5, 59.25]
    mean, std, se = statistics.mean_std(vals)
    assert mean == pytest.approx(np.mean(vals))
    assert std == pytest.approx(np.std(vals, ddof=1))
    assert se == pytest.approx(np.std(vals, ddof=1) / math.sqrt(3))
    assert statistics.mean_std([3.0]) == (3.0, None, None)
    rows = statistics.summarize([
        dict(row='csm', label='CSM', seed=s, logreg_probe=v)
        for s, v in enumerate(vals)
    ])
    assert rows['csm']['passes'] == 1
    assert rows['csm']['logreg_probe_se'] == pytest.approx(se)
    line = report.table(rows, None, '', ['csm']).splitlines()[-1]
    assert f'{mean:.1f} ± {std:.1f} (SE {se:.1f})' in line


def test_report_describes_the_data_it_was_given():
    text = report.describe_data('/d', ['n01440764', 'cat'],
                                dict(pretrain=8, probe=4, val=2))
    assert '1 of the 2 class folders are ImageNet-1k' in text
    text = report.describe_data('/d', ['T-shirt', 'bag'],
                                dict(pretrain=8, probe=4, val=2))
    assert 'No class folder is an ImageNet-1k' in text
    assert 'Imagenette' not in text
    env = environment.environment()
    assert env['hardware']['logical_cpus'] >= 1
    assert len(env['load_start']) == 3
    assert 'torch' in env['versions']


def test_gap_closure_and_section(tmp_path):
    rows = {
        'simclr': dict(label='SimCLR', linear_probe=40., runs=[{}]),
        'supervised': dict(label='sup', linear_probe=80., runs=[{}]),
        'csm': dict(label='CSM', linear_probe=70., runs=[{}]),
    }
    assert statistics.gap_closure(rows, 'csm') == pytest.approx(0.75)
    assert statistics.gap_closure(rows, 'csm', 'logreg_probe') is None
    md = tmp_path / 'RESULTS.md'
    md.write_text('# Results\n\n## Throughput\n\nfast\n\n## Quality\n\nold\n')
    # One section per dataset and profile, each replaced on its own.
    report.write_section(str(md), 'other data', '## Quality: `b`, quick')
    report.write_section(str(md), 'new table')
    report.write_section(str(md), 'newer table')
    text = md.read_text()
    assert '## Throughput\n\nfast' in text and 'old' not in text
    assert text.count('## Quality\n') == 1 and 'newer table' in text
    assert '## Quality: `b`, quick\n\nother data' in text
    md2 = tmp_path / 'R2.md'
    md2.write_text('# Results\n\n## Quality\n\nold\n\n## Throughput\n\nfast\n')
    report.write_section(str(md2), 'new')
    assert '## Throughput\n\nfast' in md2.read_text()
    assert 'old' not in md2.read_text()


def test_best_csm_row_is_chosen_on_heldout_and_compared_with_se():
    """The held-out split picks the CSM row, never val; each difference
    carries sqrt(SE_a^2 + SE_b^2) and is 'established' only beyond 2 SE."""
    vals = {
        # row: (val, held-out) per seed
        'csm': ([40., 41., 42.], [50., 50., 50.]),
        'csm_in1k': ([45., 45.5, 46.], [49., 49., 49.]),  # better on val
        'simclr': ([30., 31., 32.], [30., 30., 30.]),
        'featreg': ([39., 41., 43.], [40., 40., 40.]),
        'supervised': ([45., 45., 45.], [45., 45., 45.]),
    }
    rows = statistics.summarize([
        dict(row=r, label=r, seed=s, logreg_probe=v[0][s],
             logreg_heldout=v[1][s]) for r, v in vals.items()
        for s in range(3)
    ])
    assert statistics.best_row(rows) == 'csm'
    diff, se = statistics.difference(rows, 'csm', 'featreg')
    a, b = np.array(vals['csm'][0]), np.array(vals['featreg'][0])
    assert diff == pytest.approx(a.mean() - b.mean())
    assert se == pytest.approx(
        np.sqrt(a.var(ddof=1) / 3 + b.var(ddof=1) / 3))
    text = '\n'.join(report.comparisons(rows))
    assert '**csm**' in text
    assert ('vs simclr: +10.0 points (SE of the difference 0.8; '
            'established, > 2 SE needed; 1 vs 2 backbone passes per image)'
            ) in text
    assert ('vs featreg: +0.0 points (SE of the difference 1.3; not '
            'established, > 2 SE needed; equal backbone passes)') in text
    vals['simclr_half'] = ([27., 28., 29.], [27., 27., 27.])
    half = statistics.summarize([
        dict(row=r, label=r, seed=s, logreg_probe=v[0][s],
             logreg_heldout=v[1][s]) for r, v in vals.items()
        for s in range(3)
    ])
    assert ('vs simclr_half: +13.0 points (SE of the difference 0.8; '
            'established, > 2 SE needed; equal backbone passes)'
            ) in '\n'.join(report.comparisons(half))
    # (41 - 31) / (45 - 31)
    assert 'gap closure (row − SimCLR) / (supervised − SimCLR): 0.71' in text
    # One seed of one row: no comparison to make, no claim.
    one = statistics.summarize([
        dict(row='csm', label='csm', seed=0, logreg_probe=40.,
             logreg_heldout=41.)])
    assert report.comparisons(one) == []


def test_merged_runs_keep_where_each_invocation_ran():
    """A JSON merged from runs on two machines names both, each with its
    own load and wall time; an older JSON counts as one invocation."""
    amd = dict(cpu='AMD EPYC', logical_cpus=2, usable_cpus=2,
               torch_threads=2, gpu=None)
    intel = dict(amd, cpu='Intel Xeon')
    legacy = dict(commands=['python benchmarks/quality.py --rows a'],
                  hardware=amd, versions=dict(torch='2'),
                  load_start=[1., 1., 1.], load_end=[2., 2., 2.],
                  total_seconds=600.)
    calls = results.invocations(legacy)
    assert len(calls) == 1 and calls[0]['hardware'] == amd
    text = '\n'.join(report._describe_where(legacy))
    assert 'AMD EPYC' in text and '10.0 min' in text
    assert 'Where it ran' not in text
    merged = dict(legacy, total_seconds=900., invocations=calls + [
        dict(command='python benchmarks/quality.py --rows b',
             hardware=intel, versions=dict(torch='3'),
             load_start=[3., 3., 3.], load_end=[4., 4., 4.], seconds=300.)
    ])
    lines = report._describe_where(merged)
    text = '\n'.join(lines)
    assert '2 invocations' in text and '15.0 min' in text
    assert text.index('AMD EPYC') < text.index('Intel Xeon')
    assert '--rows a`: AMD EPYC' in text and '--rows b`: Intel Xeon' in text
    assert '4.0 / 4.0 / 4.0 at the end' in text and '5.0 min' in text
    # Versions that differ are given per invocation.
    assert 'torch 2' in text and 'torch 3' in text
    # Runs of an older JSON get its one machine's CPU; merged ones keep
    # their own.
    old = dict(legacy, runs=[dict(row='csm'), dict(row='x', hardware='B')])
    results.name_run_cpus(old)
    assert [r['hardware'] for r in old['runs']] == ['AMD EPYC', 'B']
    merged['runs'] = [dict(row='csm')]
    results.name_run_cpus(merged)
    assert 'hardware' not in merged['runs'][0]
    # The table's wall times name their CPU once rows ran on several.
    runs = [
        dict(row='csm', label='CSM', seed=0, pretrain_seconds=300.,
             hardware='AMD EPYC 7B13'),
        dict(row='csm_generic', label='generic', seed=0,
             pretrain_seconds=100., hardware='Intel(R) Xeon(R) Processor'),
    ]
    table = report.table(statistics.summarize(runs), None, '',
                         ['csm', 'csm_generic'])
    assert '| 300 on AMD EPYC |' in table
    assert '| 100 on Intel Xeon |' in table
    table = report.table(statistics.summarize(runs[:1]), None, '', ['csm'])
    assert '| 300 |' in table and ' on ' not in table


def test_gap_closure_needs_a_gap():
    """Where supervised and SimCLR tie, a gap closure would divide by
    noise: the table and the comparison say so instead of a number."""
    def rows_with(sup):
        runs = []
        for seed, jitter in enumerate((-0.5, 0., 0.5)):
            for row, acc in (('simclr', 79.), ('supervised', sup),
                             ('csm', 73.)):
                runs.append(dict(row=row, label=row, seed=seed,
                                 logreg_probe=acc + jitter,
                                 logreg_heldout=acc + jitter))
        return statistics.summarize(runs)

    tie = rows_with(79.1)
    assert statistics.gap_closure(tie, 'csm', 'logreg_probe') < -50
    assert not statistics.gap_established(tie)
    assert '| n/a (no gap) / – |' in report.table(tie, None, '', ['csm'])
    text = '\n'.join(report.comparisons(tie))
    assert 'gap closure: undefined here' in text and 'target' not in text
    assert statistics.gap_closures(tie)['logreg_probe']['csm'] is None
    gap = rows_with(89.)
    assert statistics.gap_closures(gap)['logreg_probe']['csm'] == \
        pytest.approx((73. - 79.) / (89. - 79.))
    assert statistics.gap_established(gap)
    assert '| -0.60 / – |' in report.table(gap, None, '', ['csm'])
    assert 'gap closure (row − SimCLR)' in '\n'.join(report.comparisons(gap))
