"""Reading a student's output width off its backbone."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from mmbeamclip.models.necks import backbone_output_shape, complete_neck_cfg


@pytest.mark.parametrize('backbone, shape', [
    (dict(type='ResNet', depth=18), (512, 2, 2)),
    (dict(type='MobileNetV3', arch='small'), (576, 2, 2)),
    (dict(type='ConvNeXt', arch='atto'), (320, )),
])
def test_backbone_output_shape(backbone, shape):
    init_default_scope('mmpretrain')
    net = MODELS.build(backbone)
    net.train()
    assert backbone_output_shape(net) == shape
    assert net.training  # restored


def test_complete_neck_cfg_fills_and_checks():
    neck = dict(type='NonLinearNeck', hid_channels=8, out_channels=4)
    done = complete_neck_cfg(neck, (320, ))
    assert done['in_channels'] == 320 and done['with_avg_pool'] is False
    assert 'in_channels' not in neck  # the given config is not changed
    assert complete_neck_cfg(neck, (512, 7, 7))['with_avg_pool'] is True
    with pytest.raises(ValueError, match='with_avg_pool=False'):
        complete_neck_cfg(dict(neck, with_avg_pool=False), (512, 7, 7))
    with pytest.raises(ValueError, match='in_channels=512'):
        complete_neck_cfg(dict(neck, in_channels=2048), (512, 7, 7))
    # Necks without pooling settings only get their width.
    other = complete_neck_cfg(dict(type='LinearNeck'), (96, ))
    assert other == dict(type='LinearNeck', in_channels=96)


def test_unprobeable_backbone_asks_for_in_channels():
    class Picky(torch.nn.Module):

        def forward(self, x):
            raise RuntimeError('needs 224 px')

    with pytest.raises(ValueError, match='neck.in_channels by hand'):
        backbone_output_shape(Picky())
