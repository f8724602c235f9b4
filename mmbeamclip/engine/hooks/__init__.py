from .prompt_bank_hook import PromptBankHook

__all__ = ['PromptBankHook']
