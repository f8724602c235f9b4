from .simclr import GatherLayer, simclr_pos_neg

__all__ = ['GatherLayer', 'simclr_pos_neg']
