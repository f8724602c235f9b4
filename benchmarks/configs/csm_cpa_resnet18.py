# Quality benchmark row "BeamCLIP CSM + CPA": the CSM row with context-based
# prompt augmentation (docs/cpa.md): every template also filled with
# '{class}, a type of {hypernym}' for the 2 nearest WordNet hypernyms, plus
# the plain prompts, averaged into one anchor per class. Zero-shot uses the
# same bank.
_base_ = ['./csm_resnet18.py']

custom_hooks = [
    dict(
        type='PromptBankHook',
        classnames='dataset',
        templates='simple_imagenet',
        contexts=dict(type='WordNetHypernyms', max_contexts=2),
        include_plain=True),
    dict(type='CachedViewHook'),
]
