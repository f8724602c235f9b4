from .csm_head import CSMHead, pool_anchor_scores

__all__ = ['CSMHead', 'pool_anchor_scores']
