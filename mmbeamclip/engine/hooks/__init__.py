from .cached_view_hook import CachedViewHook
from .check_finite_hook import CheckFiniteHook
from .prompt_bank_hook import PromptBankHook

__all__ = ['CachedViewHook', 'CheckFiniteHook', 'PromptBankHook']
