"""Data subsets of the quality benchmark: nested, balanced, a disjoint
held-out split, and Fashion-MNIST sized for the profile."""
import os.path as osp

import numpy as np
import pytest
from beamclip_bench import subsets
from bench_fixtures import SMOKE, data  # noqa: F401

import mmbeamclip  # noqa: F401


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
