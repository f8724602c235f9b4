"""Dataset classes -> anchor-vocabulary classes for zero-shot."""
import pytest
from mmpretrain.datasets.categories import IMAGENET_CATEGORIES

from mmbeamclip.prompts import imagenet_classnames, imagenet_wnids, map_classes


def test_by_wordnet_id_and_by_name():
    ids, names = imagenet_wnids(), imagenet_classnames()
    folders = ['n02102040', 'n01440764']
    assert map_classes(folders, ids, names) == [
        ids.index('n02102040'), ids.index('n01440764')
    ]
    # names match case-, underscore- and space-insensitively
    assert map_classes(['Tench', 'english_springer_spaniel'], ids,
                       names) == [0, ids.index('n02102040')]
    # a wnid matches a name-only vocabulary through its ImageNet name
    assert map_classes(['n01440764'], ['goldfish', 'tench'],
                       ['goldfish', 'tench']) == [1]


def test_mmpretrain_imagenet_classes_are_its_wnids():
    ids, names = imagenet_wnids(), imagenet_classnames()
    assert map_classes(list(IMAGENET_CATEGORIES), ids,
                       names) == list(range(1000))
    # one synonym of mmpretrain's 'tench, Tinca tinca' strings is enough
    assert map_classes(['tench, Tinca tinca'], ids, names) == [0]


def test_unmappable_and_ambiguous_classes_raise():
    ids, names = imagenet_wnids(), imagenet_classnames()
    with pytest.raises(ValueError, match='no match') as info:
        map_classes(['n01440764', 'zebra crossing', 'n99999999'], ids, names)
    assert "'zebra crossing'" in str(info.value)
    assert 'n99999999' in str(info.value)
    assert "eval_classes='dataset'" in str(info.value)
    with pytest.raises(ValueError, match='several') as info:
        map_classes(['crane'], ['n02012849', 'n03126707'],
                    ['crane', 'crane'])
    assert 'n02012849' in str(info.value)
