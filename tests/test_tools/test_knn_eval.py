"""Weighted k-NN: the math against numpy, the tool on a trained student."""
import json
import os
import os.path as osp
import shutil
import sys

import numpy as np
import pytest
import torch
from conftest import write_image_folder
from tool_process import run_tool

from mmbeamclip.evaluation import knn_accuracy, knn_scores

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(
    ROOT, 'configs/beamclip/'
    'beamclip_resnet18_vit-b32-openai_1xb32-2e_imagefolder.py')


def numpy_knn(query, bank, labels, num_classes, k, temperature):
    """Wu et al. (2018) weighted voting, written out plainly."""
    query = query / np.linalg.norm(query, axis=1, keepdims=True)
    bank = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    scores = np.zeros((len(query), num_classes))
    for i, q in enumerate(query):
        sim = bank @ q
        for j in np.argsort(-sim, kind='stable')[:k]:
            scores[i, labels[j]] += np.exp(sim[j] / temperature)
    return scores


@pytest.mark.parametrize('k,temperature,chunk', [(1, 0.07, 1024),
                                                 (5, 0.07, 3),
                                                 (20, 0.5, 7)])
def test_knn_scores_match_numpy(k, temperature, chunk):
    rng = np.random.default_rng(k)
    query = rng.normal(size=(11, 8))
    bank = rng.normal(size=(40, 8))
    labels = rng.integers(0, 6, 40)
    got = knn_scores(
        torch.tensor(query), torch.tensor(bank), torch.tensor(labels), 6, k,
        temperature, chunk_size=chunk)
    want = numpy_knn(query, bank, labels, 6, k, temperature)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-4)


def test_knn_accuracy_topk():
    rng = np.random.default_rng(0)
    bank = rng.normal(size=(60, 16))
    labels = rng.integers(0, 6, 60)
    query, query_labels = bank[:20] + 0.01, labels[:20]
    scores = numpy_knn(query, bank, labels, 6, 10, 0.07)
    ranked = np.argsort(-scores, axis=1, kind='stable')
    want1 = (ranked[:, 0] == query_labels).mean() * 100
    want5 = (ranked[:, :5] == query_labels[:, None]).any(1).mean() * 100
    acc = knn_accuracy(
        torch.tensor(query), torch.tensor(query_labels), torch.tensor(bank),
        torch.tensor(labels), 6, k=10)
    assert acc == pytest.approx(dict(top1=want1, top5=want5))
    # top-5 only where there are at least 5 classes
    assert set(knn_accuracy(
        torch.tensor(query), torch.tensor(query_labels % 2),
        torch.tensor(bank), torch.tensor(labels % 2), 2, k=3)) == {'top1'}


def test_knn_rejects_bad_k():
    with pytest.raises(ValueError, match='k must be'):
        knn_scores(torch.ones(1, 2), torch.ones(3, 2), torch.zeros(3), 1, k=4)


def test_knn_eval_tool_on_trained_student(tmp_path, tiny_clip_dir):
    """Stock tools/train.py, then tools/knn_eval.py, both subprocesses."""
    data = write_image_folder(tmp_path / 'images', n_train=6, n_val=3)
    env = dict(
        os.environ,
        DATA_ROOT=data,
        HF_HUB_OFFLINE='1',
        MMBEAMCLIP_CACHE=str(tmp_path / 'cache'),
        PYTHONPATH=os.pathsep.join([ROOT, os.environ.get('PYTHONPATH', '')]))
    train = run_tool([
        sys.executable, 'tools/train.py', CONFIG, '--work-dir',
        str(tmp_path / 'work'), '--cfg-options',
        'model.target_generator.model_name=tiny',
        f'model.target_generator.pretrained=local-dir:{tiny_clip_dir}',
        'model.neck.out_channels=32', 'train_dataloader.batch_size=4',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=10'
    ], cwd=ROOT, env=env, timeout=600)
    assert train.returncode == 0, (train.stdout + train.stderr)[-3000:]
    # val = train: with k=1 each image finds itself (cosine 1)
    same = tmp_path / 'same'
    shutil.copytree(osp.join(data, 'train'), same / 'train')
    shutil.copytree(osp.join(data, 'train'), same / 'val')
    out = tmp_path / 'knn.json'
    proc = run_tool([
        sys.executable, 'tools/knn_eval.py',
        str(tmp_path / 'work' / 'epoch_1.pth'), '--data-root',
        str(same), '--k', '1', '5', '200', '--img-size', '64',
        '--workers', '0', '--out',
        str(out)
    ], cwd=ROOT, env=env, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'k-NN on' in log and '2 classes, 12 train / 12 val' in log
    assert 'k=1: top1 100.00' in log
    assert 'k=200 (12 used): top1' in log
    result = json.loads(out.read_text())
    assert result['results']['k1'] == {'top1': 100.0, 'k_used': 1}
    assert 0 <= result['results']['k5']['top1'] <= 100
    assert result['results']['k200']['k_used'] == 12
