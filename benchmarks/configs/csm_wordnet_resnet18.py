# Quality benchmark row "BeamCLIP CSM, raw WordNet names": the 1000 ImageNet
# anchors spelled as WordNet's first lemma (`imagenet_wordnet`: "crane"
# twice, "maillot" twice, "cardigan", "boxer"), without context. The
# baseline CPA acts on (csm_cpa_resnet18.py): the pair isolates what the
# contexts add. Zero-shot scores the dataset's own class names.
_base_ = ['./csm_resnet18.py']

custom_hooks = [
    dict(
        type='PromptBankHook',
        classnames='imagenet_wordnet',
        templates='simple_imagenet',
        eval_classes='dataset'),
    dict(type='CachedViewHook'),
]
