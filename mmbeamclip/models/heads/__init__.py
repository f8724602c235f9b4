from .csm_head import CSMHead, pool_anchor_scores
from .feature_regression_head import FeatureRegressionHead

__all__ = ['CSMHead', 'FeatureRegressionHead', 'pool_anchor_scores']
