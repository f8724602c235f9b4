from .contexts import (BaseContextSource, JSONContexts, WordNetDefinitions,
                       WordNetHypernyms, WordNetSynonyms,
                       build_context_sources, class_phrases)
from .presets import (CLASS_ID_PRESETS, CLASSNAME_PRESETS, TEMPLATE_PRESETS,
                      imagenet_classnames, imagenet_wnids, resolve_class_ids,
                      resolve_classnames, resolve_templates)
from .prompt_bank import (build_prompt_bank, cache_path, compose_prompts,
                          default_cache_dir, format_prompts,
                          load_or_build_prompt_bank, load_prompt_bank,
                          prompt_bank_key, save_prompt_bank)

__all__ = [
    'CLASS_ID_PRESETS', 'CLASSNAME_PRESETS', 'TEMPLATE_PRESETS',
    'imagenet_classnames', 'imagenet_wnids', 'resolve_class_ids',
    'resolve_classnames', 'resolve_templates', 'build_prompt_bank',
    'cache_path', 'compose_prompts', 'default_cache_dir', 'format_prompts',
    'load_or_build_prompt_bank', 'load_prompt_bank', 'prompt_bank_key',
    'save_prompt_bank', 'BaseContextSource', 'JSONContexts',
    'WordNetDefinitions', 'WordNetHypernyms', 'WordNetSynonyms',
    'build_context_sources', 'class_phrases'
]
