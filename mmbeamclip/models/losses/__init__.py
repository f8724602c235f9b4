from .cosine_regression import cosine_regression
from .csm_loss import CSMLoss, csm_loss

__all__ = ['CSMLoss', 'cosine_regression', 'csm_loss']
