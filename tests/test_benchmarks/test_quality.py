"""The quality benchmark: row configs, subsets, view cache, report, and its
plumbing."""
import glob
import json
import math
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from beamclip_bench import (environment, probes, profiles, report, results,
                            row_configs, statistics, subsets, view_cache)
from beamclip_bench import rows as row_table
from beamclip_bench import teacher as teachers
from beamclip_bench.common import CONFIG_DIR, REPO, teacher_cfg
from mmengine.config import Config
from mmpretrain.registry import MODELS

from mmbeamclip.models.teachers import IMAGENET_MEAN, IMAGENET_STD

import mmbeamclip  # noqa: F401

SMOKE = profiles.PROFILES['smoke']


@pytest.fixture
def data(tmp_path, image_folder):
    return subsets.prepare_data(image_folder, str(tmp_path / 'work'), SMOKE)


@pytest.fixture
def teacher(tmp_path, tiny_clip_dir, data):
    """The tiny teacher with its view cache built through the package."""
    return teachers.cache_teacher(f'local-dir:{tiny_clip_dir}', data, SMOKE,
                                str(tmp_path / 'work'), log=lambda *a: None)


def test_subsets_nest_and_balance(data):
    assert data['classes'] == ['n01440764', 'n02102040']
    assert data['pretrain_num'] == 8 and data['probe_num'] == 8
    assert data['val_num'] == 4
    for pre, probe in zip(data['pretrain_files'], data['probe_files']):
        assert set(probe) <= set(pre)
    with open(data['probe_ann']) as f:
        first = f.readline().split()
    assert first[0].startswith('n01440764/') and first[1] == '0'


def test_heldout_split_is_disjoint_from_pretraining(data):
    """Choices are made on train images no row pre-trained or probed on."""
    assert data['heldout_num'] == 2 * SMOKE['heldout_per_class']
    for pre, held in zip(data['pretrain_files'], data['heldout_files']):
        assert len(held) == SMOKE['heldout_per_class']
        assert not set(held) & set(pre)
    # Adding a held-out part leaves the pre-training subset as it was.
    files = [[f'{c}/{i}.JPEG' for i in range(10)] for c in 'ab']
    pre, held = subsets.per_class_split(files, 4, 3, seed=0)
    assert pre == subsets.per_class_subset(files, 4, seed=0)
    assert all(len(h) == 3 and not set(h) & set(p)
               for p, h in zip(pre, held))
    # With every image in the subset, the held-out part is carved out.
    pre, held = subsets.per_class_split(files, None, 3, seed=0)
    assert [len(p) for p in pre] == [7, 7]
    assert all(not set(h) & set(p) for p, h in zip(pre, held))
    with pytest.raises(ValueError, match='too few'):
        subsets.per_class_split(files, None, 10, seed=0)


def test_probe_curve_probes_intermediate_checkpoints_on_heldout(
        data, tmp_path, monkeypatch):
    from mmpretrain.models import ResNet
    run = tmp_path / 'run'
    run.mkdir()
    for epoch in (1, 2, 3):
        state = ResNet(depth=18).state_dict()
        torch.save(
            dict(state_dict={f'backbone.{k}': v
                             for k, v in state.items()}),
            run / f'epoch_{epoch}.pth')
    seen = []

    def fake_probe(path, data_, profile, seed, splits):
        seen.append((osp.basename(path), splits))
        return dict(heldout=float(len(seen)))

    monkeypatch.setattr(probes, 'logreg_probe', fake_probe)
    curve = probes.probe_curve(str(run), str(run / 'epoch_3.pth'), data,
                               SMOKE, 0)
    assert sorted(seen) == [('epoch_1.pth', ('heldout', )),
                            ('epoch_2.pth', ('heldout', ))]
    assert [e for e, _ in curve] == [1, 2]
    assert sorted(acc for _, acc in curve) == [1.0, 2.0]
    # Probed intermediate checkpoints are removed, the final one is kept,
    # and the points are recorded beside it.
    assert sorted(p.name for p in run.iterdir()) == [
        'epoch_3.pth', 'probe_curve.json'
    ]
    # A reused run (--reuse-pretrain) keeps its curve without re-probing.
    seen.clear()
    assert probes.probe_curve(str(run), str(run / 'epoch_3.pth'), data,
                              SMOKE, 0) == curve
    assert seen == []
    # An interrupted run probes only what is missing.
    torch.save(dict(state_dict={}), run / 'epoch_2.pth')
    torch.save(dict(state_dict={}), run / 'epoch_4.pth')
    again = probes.probe_curve(str(run), str(run / 'epoch_3.pth'), data,
                               SMOKE, 0)
    assert [name for name, _ in seen] == ['epoch_4.pth']
    assert again == curve + [[4, 1.0]]


def test_logreg_probe_scores_val_and_heldout(data):
    pytest.importorskip('sklearn')  # the benchmark extra
    out = probes.logreg_probe(None, data, SMOKE, 0)
    assert set(out) == {'val', 'heldout'}
    assert all(0 <= v <= 100 for v in out.values())
    assert set(probes.logreg_probe(None, data, SMOKE, 0,
                                   splits=('heldout', ))) == {'heldout'}


def test_view_cache_is_built_once_and_matches_the_rows(teacher, data,
                                                       tmp_path):
    from mmbeamclip.teacher_cache import read_manifest
    manifest = read_manifest(teacher['cache_dir'])
    assert manifest['complete']
    assert manifest['views']['num_views'] == SMOKE['num_views'] == 2
    assert manifest['dataset']['num_samples'] == data['pretrain_num']
    assert manifest['views']['spec']['scale'] == [32, 32]
    # A second call (another row or seed) reuses the same folder.
    logs = []
    again = teachers.cache_teacher(teacher['spec'], data, SMOKE,
                                 str(tmp_path / 'work'), log=logs.append)
    assert again['cache_dir'] == teacher['cache_dir']
    assert any('reusing' in m for m in logs)
    # Every teacher row reads this cache, views and teacher included.
    for row in [r for r in row_table.ROWS if row_table.ROWS[r].get('teacher')]:
        cfg = row_configs.pretrain_config(row, data, SMOKE, 0, teacher)
        tg = cfg.model['target_generator']
        assert tg['type'] == 'CachedTeacher'
        assert tg['cache_dir'] == teacher['cache_dir']
        replays = row_configs.replay_views(
            cfg.train_dataloader['dataset']['pipeline'])
        assert [r['cache_dir'] for r in replays] == [teacher['cache_dir']]
        assert 'CachedViewHook' in [h['type'] for h in cfg.custom_hooks]


def test_view_cache_folder_follows_the_image_files(teacher, data):
    """Images re-copied without their modification times get a cache
    folder of their own: the old cache would be refused by CachedViewHook
    after the teacher reference, so it is never picked."""
    cfg = row_configs.pretrain_config('csm', data, SMOKE, 0, teacher)
    before = view_cache.view_cache_dir(cfg, 'work', SMOKE['num_views'])
    assert view_cache.view_cache_dir(cfg, 'work', SMOKE['num_views']) == before
    first = osp.join(data['data_root'], 'train', data['pretrain_files'][0][0])
    st = os.stat(first)
    try:
        os.utime(first, (st.st_atime, st.st_mtime + 10))
        after = view_cache.view_cache_dir(cfg, 'work', SMOKE['num_views'])
    finally:
        os.utime(first, (st.st_atime, st.st_mtime))
    assert after != before
    assert view_cache.view_cache_dir(cfg, 'work', SMOKE['num_views']) == before


def test_view_cache_holds_the_teacher_embedding_of_the_replayed_crop(
        teacher, data):
    """The cached target of a view equals the live teacher's embedding of
    the exact crop the student is shown (independent recomputation)."""
    from mmpretrain.registry import DATASETS

    from mmbeamclip.teacher_cache import TeacherTargetCache
    cfg = row_configs.pretrain_config('csm', data, SMOKE, 0, teacher)
    dataset = DATASETS.build(cfg.train_dataloader['dataset'])
    from mmbeamclip.datasets.transforms import find_transforms
    find_transforms(dataset)[0].set_epoch(1)
    sample = dataset[3]
    view = int(sample['data_samples'].cache_view)
    assert view == (1 + 3) % 2
    img = sample['inputs'].float()[[2, 1, 0]]  # BGR -> RGB, as the model
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    live = MODELS.build(teacher['cfg']).encode_image(((img - mean) /
                                                      std)[None])[0]
    cached = torch.from_numpy(
        TeacherTargetCache(teacher['cache_dir']).lookup([3], [view])[0])
    cos = torch.nn.functional.cosine_similarity(live, cached.float(), dim=0)
    assert cos > 0.999


@pytest.mark.parametrize(
    'row', [r for r in row_table.ROWS if row_table.ROWS[r]['config']])
def test_row_configs_parse_and_build(row, data, teacher):
    cfg = row_configs.pretrain_config(row, data, SMOKE, 0, teacher)
    assert cfg.train_cfg['max_epochs'] == 1
    assert cfg.train_dataloader['batch_size'] == 4
    # One budget for every row, whatever the shipped config's optimizer.
    assert cfg.optim_wrapper['optimizer']['type'] == 'SGD'
    assert cfg.optim_wrapper['optimizer']['lr'] == SMOKE['lr']
    ds = cfg.train_dataloader['dataset']
    assert ds['ann_file'] == data['pretrain_ann']
    model = MODELS.build(cfg.model)
    x = torch.randn(2, 3, 32, 32)
    feats = model.extract_feat(x)
    assert feats[-1].shape[:2] == (2, 512)


def test_option_rows_change_only_their_option(data, teacher):
    """Each option row is the csm_in1k row with one loss option on; the
    learnt temperature keeps its no-decay setting through the runner's
    common optimizer."""
    from mmengine.optim import build_optim_wrapper
    base = MODELS.build(
        row_configs.pretrain_config('csm_in1k', data, SMOKE, 0, teacher).model)
    assert base.head.embed_weight == 0
    assert base.head.loss_module.tau_s > base.head.loss_module.tau_t
    model = MODELS.build(row_configs.pretrain_config(
        'csm_in1k_taueq', data, SMOKE, 0, teacher).model)
    assert model.head.loss_module.tau_s == model.head.loss_module.tau_t
    model = MODELS.build(row_configs.pretrain_config(
        'csm_in1k_embed', data, SMOKE, 0, teacher).model)
    assert model.head.embed_weight == 1.0
    cfg = row_configs.pretrain_config('csm_in1k_taulearn', data, SMOKE, 0,
                                      teacher)
    model = MODELS.build(cfg.model)
    assert model.head.loss_module.learn_tau_s
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    tau = model.head.loss_module.log_tau_s
    groups = [g for g in wrapper.optimizer.param_groups
              if any(p is tau for p in g['params'])]
    assert len(groups) == 1 and groups[0]['weight_decay'] == 0
    assert wrapper.optimizer.param_groups[0]['lr'] == SMOKE['lr']
    decayed = [g for g in wrapper.optimizer.param_groups
               if g['weight_decay'] > 0]
    assert decayed, 'the common budget keeps weight decay elsewhere'


def test_simclr_half_matches_the_one_pass_rows_cost(data, teacher):
    """SimCLR at half the epochs makes as many backbone passes per image as
    a one-pass row over the whole schedule; its cosine schedule ends with
    its own last epoch."""
    profile = dict(SMOKE, epochs=4)
    cfgs = {
        r: row_configs.pretrain_config(r, data, profile, 0, teacher)
        for r in ('simclr', 'simclr_half', 'csm')
    }
    epochs = {r: c.train_cfg['max_epochs'] for r, c in cfgs.items()}
    assert epochs == dict(simclr=4, simclr_half=2, csm=4)
    assert cfgs['simclr_half'].param_scheduler[0]['T_max'] == 2
    assert cfgs['simclr_half'].model == cfgs['simclr'].model
    views = dict(simclr=2, simclr_half=2, csm=1)
    total = {r: views[r] * row_table.row_epochs(r, profile) for r in cfgs}
    assert total['simclr_half'] == total['csm'] == total['simclr'] / 2
    # The table's column: passes per image and epoch of the schedule.
    for r in cfgs:
        assert row_table.ROWS[r]['passes'] * profile['epochs'] == total[r]
    assert row_table.row_epochs('simclr_half', SMOKE) == 1


def test_row_configs_inherit_the_shipped_configs():
    """No row restates a pipeline: each names a shipped config as base."""
    for row, spec in row_table.ROWS.items():
        if spec['config'] is None:
            continue
        text = open(osp.join(CONFIG_DIR, spec['config'])).read()
        assert '_base_' in text
        assert 'RandomResizedCrop' not in text, row
    cfg = Config.fromfile(osp.join(CONFIG_DIR, 'csm_ssl_resnet18.py'))
    pipeline = cfg.train_dataloader['dataset']['pipeline']
    # SSL row: the replayed view comes first and is view 0.
    assert pipeline[1]['type'] == 'ReplayCachedView'
    assert pipeline[2]['type'] == 'MultiView'
    assert pipeline[2]['transforms'][0] == []


def test_probe_config_builds(data, tmp_path):
    cfg = row_configs.probe_config(data, SMOKE, 0, None)
    assert cfg.model['backbone']['frozen_stages'] == 4
    assert cfg.model['head']['num_classes'] == 2
    assert cfg.auto_scale_lr['base_batch_size'] == 256
    assert cfg.model['backbone']['init_cfg'] is None
    assert cfg.train_dataloader['dataset']['type'] == 'CustomDataset'
    model = MODELS.build(cfg.model)
    model.train()
    assert not any(p.requires_grad for p in model.backbone.parameters())
    cfg = row_configs.probe_config(data, SMOKE, 0, 'x.pth')
    assert cfg.model['backbone']['init_cfg']['prefix'] == 'backbone.'


def test_set_image_size_reaches_nested_views():
    cfg = Config.fromfile(osp.join(CONFIG_DIR, 'simclr_resnet18.py'))
    pipeline = cfg.train_dataloader['dataset']['pipeline']
    row_configs.set_image_size(pipeline, 48)
    assert pipeline[1]['transforms'][0][0]['scale'] == 48


def test_teacher_cfg():
    assert teacher_cfg('ViT-B-32:openai')['model_name'] == \
        'ViT-B-32-quickgelu'
    cfg = teacher_cfg('local-dir:/x/model', 64, precision='fp16')
    assert cfg['pretrained'] == 'local-dir:/x/model'
    assert cfg['image_size'] == 64 and cfg['precision'] == 'fp16'
    with pytest.raises(ValueError, match='MODEL:TAG'):
        teacher_cfg('ViT-B-32')
    assert teacher_cfg('ViT-B-32', allow_random_init=True)['pretrained'] \
        is None


def test_teacher_reference(data, teacher):
    pytest.importorskip('sklearn')  # the benchmark extra
    ref = teachers.teacher_reference(teacher['cfg'], data, SMOKE,
                                   teacher['templates'])
    assert 0 <= ref['zero_shot'] <= 100 and 0 <= ref['linear_probe'] <= 100


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


@pytest.mark.timeout(600)
def test_quick_profile_plumbing(tmp_path, image_folder, tiny_clip_dir):
    """Every stage of the benchmark, a few iterations on a handful of images,
    through the stock scripts: data subsets, the view cache, the CSM and
    SSL rows on view-matched targets through the stock
    train.py, probes, JSON, plot and the report section."""
    pytest.importorskip('sklearn')  # the benchmark extra
    work = tmp_path / 'work'
    results = tmp_path / 'RESULTS.md'
    proc = subprocess.run([
        sys.executable,
        osp.join(REPO, 'benchmarks', 'quality.py'), '--profile', 'smoke',
        '--data-root', image_folder, '--teacher',
        f'local-dir:{tiny_clip_dir}', '--rows', 'csm,csm_ssl',
        '--work-dir',
        str(work), '--results',
        str(results)
    ], cwd=REPO, capture_output=True, text=True)
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


def test_fashion_mnist_folder_fits_the_profile(tmp_path, monkeypatch):
    """--data-root fashion-mnist: the idx files exported with room for the
    profile's pre-training and held-out subsets, named by its settings."""
    import gzip

    from beamclip_bench import fashion_mnist
    idx = tmp_path / 'idx'
    idx.mkdir()
    rng = np.random.default_rng(0)
    for prefix, n in (('train', 5), ('t10k', 3)):
        labels = np.repeat(np.arange(10, dtype=np.uint8), n)
        images = rng.integers(0, 255, (len(labels), 28, 28), dtype=np.uint8)
        with gzip.open(idx / f'{prefix}-images-idx3-ubyte.gz', 'wb') as f:
            f.write(bytes(16) + images.tobytes())
        with gzip.open(idx / f'{prefix}-labels-idx1-ubyte.gz', 'wb') as f:
            f.write(bytes(8) + labels.tobytes())
    monkeypatch.setattr(fashion_mnist, 'find_or_fetch',
                        lambda cache_dir, log=print: str(idx))
    profile = dict(SMOKE, train_per_class=3, heldout_per_class=1,
                   val_per_class=2, img_size=48)
    # A report needs only the path: nothing is exported for it.
    path = fashion_mnist.profile_folder(str(tmp_path / 'work'), profile,
                                        export=False)
    assert not osp.exists(path)
    root = fashion_mnist.profile_folder(str(tmp_path / 'work'), profile)
    assert root == path
    assert osp.basename(root) == 'fashion-mnist-48px-4-2'
    data = subsets.prepare_data(root, str(tmp_path / 'work'), profile)
    assert data['classes'] == sorted(fashion_mnist.CLASSES)
    assert data['pretrain_num'] == 30 and data['heldout_num'] == 10
    assert data['val_num'] == 20
    from PIL import Image
    first = osp.join(root, 'train', data['pretrain_files'][0][0])
    assert Image.open(first).size == (48, 48)


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
    one = statistics.summarize([dict(row='csm', label='csm', seed=0,
                                 logreg_probe=40., logreg_heldout=41.)])
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
