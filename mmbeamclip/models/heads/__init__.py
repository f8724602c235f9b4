from .anchor_bank import AnchorBank, pool_anchor_scores
from .csm_head import CSMHead
from .feature_regression_head import FeatureRegressionHead

__all__ = ['AnchorBank', 'CSMHead', 'FeatureRegressionHead',
           'pool_anchor_scores']
