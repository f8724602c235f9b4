from .pooled_bn_neck import PooledBatchNormNeck

__all__ = ['PooledBatchNormNeck']
