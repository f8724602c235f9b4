from .class_map import map_classes
from .contexts import (GENERIC_HYPERNYMS, BaseContextSource, JSONContexts,
                       WordNetDefinitions, WordNetHypernyms, WordNetSynonyms,
                       build_context_sources, class_phrases)
from .presets import (CLASS_ID_PRESETS, CLASSNAME_PRESETS, TEMPLATE_PRESETS,
                      check_names, check_template, generic_vocabulary_names,
                      generic_vocabulary_wnids, imagenet_classnames,
                      imagenet_wnids, imagenet_wordnet_classnames,
                      resolve_class_ids, resolve_classnames, resolve_templates,
                      warn_meaningless_names, wnid_names)
from .prompt_bank import (PROMPT_BANK_VERSION, build_prompt_bank,
                          check_batch_size, compose_prompts,
                          default_prompt_bank_dir, duplicate_anchor_groups,
                          format_prompts, load_or_build_prompt_bank,
                          load_prompt_bank, prompt_bank_key, prompt_bank_path,
                          save_prompt_bank)
from .prompt_recipe import DATASET, PromptRecipe, warn_identical_anchors

__all__ = [
    'CLASS_ID_PRESETS', 'CLASSNAME_PRESETS', 'TEMPLATE_PRESETS', 'DATASET',
    'GENERIC_HYPERNYMS', 'PromptRecipe', 'imagenet_classnames',
    'imagenet_wnids', 'imagenet_wordnet_classnames',
    'generic_vocabulary_names', 'generic_vocabulary_wnids', 'wnid_names',
    'resolve_class_ids', 'resolve_classnames', 'resolve_templates',
    'check_names', 'check_template', 'warn_meaningless_names',
    'PROMPT_BANK_VERSION', 'build_prompt_bank', 'prompt_bank_path',
    'check_batch_size', 'compose_prompts', 'default_prompt_bank_dir',
    'duplicate_anchor_groups', 'format_prompts',
    'load_or_build_prompt_bank', 'load_prompt_bank', 'prompt_bank_key',
    'save_prompt_bank', 'map_classes', 'warn_identical_anchors',
    'BaseContextSource', 'JSONContexts', 'WordNetDefinitions',
    'WordNetHypernyms', 'WordNetSynonyms', 'build_context_sources',
    'class_phrases'
]
