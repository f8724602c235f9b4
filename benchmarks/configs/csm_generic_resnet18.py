# Quality benchmark row "BeamCLIP CSM, generic vocabulary": the anchors are
# the shipped generic vocabulary (`wordnet_generic`, several thousand
# concrete WordNet noun synsets; tools/build_vocabulary.py), what a user
# with unlabeled images of unknown classes runs: no class list needed.
# Zero-shot scores the dataset's own class names (eval_classes='dataset').
_base_ = ['./csm_resnet18.py']

custom_hooks = [
    dict(
        type='PromptBankHook',
        classnames='wordnet_generic',
        templates='simple_imagenet',
        eval_classes='dataset'),
    dict(type='CachedViewHook'),
]
