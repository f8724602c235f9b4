"""The converged probe and the held-out probe curve."""
import os.path as osp

import pytest
import torch
from beamclip_bench import probes
from bench_fixtures import SMOKE, data  # noqa: F401

import mmbeamclip  # noqa: F401


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
