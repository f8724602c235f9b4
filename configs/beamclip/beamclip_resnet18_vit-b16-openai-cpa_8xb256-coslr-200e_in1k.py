# BeamCLIP with CPA (context-based prompt augmentation): the ResNet-18 /
# ViT-B/16 ImageNet-1k recipe, with each class name in CLIP's 80 templates
# followed by its 2 nearest WordNet hypernyms ("a photo of a crane, a type of
# wading bird."), 160 prompts per class averaged into one anchor (K = 1000).
# The contexts ship with mmbeamclip (mmbeamclip/data/imagenet_contexts.json),
# so no WordNet install is needed. Everything else is the base recipe.
_base_ = './beamclip_resnet18_vit-b16-openai_8xb256-coslr-200e_in1k.py'

# mmengine replaces lists when inheriting, so the hook is restated; only
# `contexts` differs from the base config.
custom_hooks = [
    dict(
        type='PromptBankHook',
        classnames='imagenet',
        templates='openai_imagenet',
        aggregate='mean',
        contexts=dict(type='WordNetHypernyms', max_contexts=2)),
    # Stops a diverged run before it writes a poisoned checkpoint.
    dict(type='CheckFiniteHook', interval=50),
]
