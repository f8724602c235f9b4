from .pooled_bn_neck import PooledBatchNormNeck
from .student_features import (backbone_output_shape, complete_neck_cfg,
                               last_output)

__all__ = [
    'PooledBatchNormNeck', 'backbone_output_shape', 'complete_neck_cfg',
    'last_output'
]
