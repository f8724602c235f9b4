# Quality benchmark row "BeamCLIP CSM + CPA": the raw-WordNet-name anchors of
# csm_wordnet_resnet18.py with context-based prompt augmentation
# (docs/cpa.md): every template is followed by a sentence naming each of the
# 2 nearest informative WordNet hypernyms ("a photo of a crane. It is a type
# of wading bird."; generic ones such as "device" skipped), plus the plain
# prompts, averaged into one anchor per class. Zero-shot scores the
# dataset's own class names with the same templates and contexts.
_base_ = ['./csm_resnet18.py']

custom_hooks = [
    dict(
        type='PromptBankHook',
        classnames='imagenet_wordnet',
        templates='simple_imagenet',
        contexts=dict(
            type='WordNetHypernyms',
            max_contexts=2,
            skip_generic=True,
            placement='sentence'),
        include_plain=True,
        eval_classes='dataset'),
    dict(type='CachedViewHook'),
]
