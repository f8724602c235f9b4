from .cached_view_hook import CachedViewHook
from .prompt_bank_hook import PromptBankHook

__all__ = ['CachedViewHook', 'PromptBankHook']
