"""The teacher recovers the exact RGB pixels whatever the student's data
preprocessor does (mean/std, channel order, no normalisation)."""
import itertools

import pytest
import torch
from mmengine.model import BaseDataPreprocessor
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

import mmbeamclip  # noqa: F401
from mmbeamclip.models.teachers import (IMAGENET_MEAN, IMAGENET_STD,
                                        InputPreprocessing, OpenCLIPTeacher,
                                        input_preprocessing_of)

init_default_scope('mmpretrain')
# Student statistics in the order of the preprocessor's output channels.
MEANS = dict(imagenet=(IMAGENET_MEAN, IMAGENET_STD),
             odd=((10., 100., 200.), (2., 40., 80.)), none=(None, None))


@pytest.fixture(scope='module')
def teacher(tiny_teacher_cfg):
    cfg = dict(tiny_teacher_cfg)
    cfg.pop('type')
    return OpenCLIPTeacher(**cfg)


def _bgr_batch():
    """Loaded images as mmcv gives them: BGR, 0-255, one value per channel
    distinct so a channel swap cannot go unnoticed."""
    torch.manual_seed(0)
    return torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)


def _reference(teacher, bgr):
    """CLIP input computed by hand from the loaded pixels."""
    rgb = bgr.float()[:, [2, 1, 0]]
    mean = torch.tensor(teacher.clip_mean).view(1, 3, 1, 1) * 255
    std = torch.tensor(teacher.clip_std).view(1, 3, 1, 1) * 255
    return (rgb - mean) / std


def _student_inputs(preprocessor, bgr):
    """What the model gets from a collated batch of loaded images."""
    if isinstance(preprocessor, MODELS.get('SelfSupDataPreprocessor')):
        # One view per image; the teacher gets the first view.
        return preprocessor(dict(inputs=[bgr], data_samples=None),
                            False)['inputs'][0]
    return preprocessor(dict(inputs=bgr, data_samples=None), False)['inputs']


@pytest.mark.parametrize(
    'kind,stats,to_rgb',
    list(
        itertools.product(
            ['SelfSupDataPreprocessor', 'ClsDataPreprocessor'], MEANS,
            [True, False])))
def test_teacher_gets_exact_rgb_pixels(teacher, kind, stats, to_rgb):
    mean, std = MEANS[stats]
    cfg = dict(type=kind, to_rgb=to_rgb)
    if mean is not None:
        cfg.update(mean=list(mean), std=list(std))
    preprocessor = MODELS.build(cfg)
    bgr = _bgr_batch()
    inputs = _student_inputs(preprocessor, bgr)
    teacher.follow_preprocessor(preprocessor)
    expected_order = 'rgb' if to_rgb else 'bgr'
    assert teacher.input_preprocessing.channel_order == expected_order
    torch.testing.assert_close(
        teacher.preprocess(inputs), _reference(teacher, bgr), atol=1e-5,
        rtol=1e-5)


def test_plain_base_preprocessor_means_raw_bgr(teacher):
    bgr = _bgr_batch()
    preprocessor = BaseDataPreprocessor()
    teacher.follow_preprocessor(preprocessor)
    inputs = preprocessor(dict(inputs=bgr.float(), data_samples=None))
    torch.testing.assert_close(
        teacher.preprocess(inputs['inputs']), _reference(teacher, bgr))


def test_what_cannot_be_undone_is_refused(teacher):

    class Mystery(torch.nn.Module):
        pass

    with pytest.raises(TypeError, match='Mystery'):
        teacher.follow_preprocessor(Mystery())
    zero_std = MODELS.build(
        dict(type='SelfSupDataPreprocessor', mean=[0, 0, 0], std=[1, 0, 1]))
    with pytest.raises(ValueError, match='std.*zero'):
        teacher.follow_preprocessor(zero_std)
    with pytest.raises(ValueError, match='4 channels'):
        teacher.set_input_preprocessing(
            InputPreprocessing((0., ) * 4, (1., ) * 4))
    with pytest.raises(ValueError, match='channel_order'):
        InputPreprocessing(channel_order='bgra')
    # One value for all channels is broadcast, as the preprocessor does.
    grey = MODELS.build(
        dict(type='SelfSupDataPreprocessor', mean=[127.5], std=[127.5],
             to_rgb=True))
    teacher.follow_preprocessor(grey)
    assert teacher.input_preprocessing == InputPreprocessing(
        (127.5, ) * 3, (127.5, ) * 3, 'rgb')


def test_reference_inverse_matches(teacher):
    """InputPreprocessing.to_rgb_pixels is the inverse the teacher uses."""
    bgr = _bgr_batch()
    pre = input_preprocessing_of(
        MODELS.build(
            dict(type='SelfSupDataPreprocessor', mean=[1, 2, 3],
                 std=[4, 5, 6])))
    inputs = (bgr.float() - torch.tensor([1., 2, 3]).view(1, 3, 1, 1)) / \
        torch.tensor([4., 5, 6]).view(1, 3, 1, 1)
    torch.testing.assert_close(
        pre.to_rgb_pixels(inputs), bgr.float()[:, [2, 1, 0]])


@pytest.mark.parametrize('to_rgb', [True, False])
def test_beamclip_hands_the_whole_contract(tiny_teacher_cfg, to_rgb):
    from conftest import tiny_model_cfg
    cfg = tiny_model_cfg(tiny_teacher_cfg)
    cfg['data_preprocessor'] = dict(
        type='SelfSupDataPreprocessor', mean=[1, 2, 3], std=[4, 5, 6],
        to_rgb=to_rgb)
    model = MODELS.build(cfg)
    assert model.target_generator.input_preprocessing == InputPreprocessing(
        (1, 2, 3), (4, 5, 6), 'rgb' if to_rgb else 'bgr')
