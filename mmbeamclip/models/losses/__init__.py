from .csm_loss import CSMLoss, csm_loss

__all__ = ['CSMLoss', 'csm_loss']
