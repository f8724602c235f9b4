# Quality benchmark row "BeamCLIP CSM, ImageNet-1k anchors": the CSM row
# with the anchor vocabulary decoupled from the evaluated classes, as the
# shipped ImageNet recipe runs it: CLIP's 1000 curated ImageNet names x the
# 7 simple templates, so the teacher's distribution over 1000 anchors (not
# the dataset's 10) is what the student matches. Zero-shot scores the
# dataset's own class names (eval_classes='dataset'), the teacher reference's
# protocol, so folders that are not ImageNet classes are scored too.
_base_ = ['./csm_resnet18.py']

custom_hooks = [
    dict(
        type='PromptBankHook',
        classnames='imagenet',
        templates='simple_imagenet',
        eval_classes='dataset'),
    dict(type='CachedViewHook'),
]
