"""mmbeamclip's own registries (models and hooks live in mmpretrain's)."""
from mmengine.registry import Registry

# Context sources of CPA (class -> context strings). Not a model, so it has
# no place in mmpretrain's registries; the PromptBankHook builds them from
# its ``contexts`` config.
CONTEXT_SOURCES = Registry(
    'context source',
    scope='mmbeamclip',
    locations=['mmbeamclip.prompts.contexts'])
