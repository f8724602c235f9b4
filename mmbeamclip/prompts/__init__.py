from .presets import (CLASSNAME_PRESETS, TEMPLATE_PRESETS, imagenet_classnames,
                      imagenet_wnids, resolve_classnames, resolve_templates)
from .prompt_bank import (build_prompt_bank, cache_path, default_cache_dir,
                          format_prompts, load_or_build_prompt_bank,
                          load_prompt_bank, prompt_bank_key, save_prompt_bank)

__all__ = [
    'CLASSNAME_PRESETS', 'TEMPLATE_PRESETS', 'imagenet_classnames',
    'imagenet_wnids', 'resolve_classnames', 'resolve_templates',
    'build_prompt_bank', 'cache_path', 'default_cache_dir', 'format_prompts',
    'load_or_build_prompt_bank', 'load_prompt_bank', 'prompt_bank_key',
    'save_prompt_bank'
]
