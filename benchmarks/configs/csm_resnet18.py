# Quality benchmark row "BeamCLIP CSM (plain prompts)": the shipped cached
# image-folder config as a user runs it (ResNet-18 student, CSM loss with
# the plugin's default temperatures, the dataset's classes with CLIP's
# 7-template ensemble, view-matched targets: CachedTeacher + ReplayCachedView
# + CachedViewHook). benchmarks/quality.py sets the data subsets, image
# size, the common budget (optimizer, schedule, epochs, batch), the teacher
# and the cache folder, which it builds once (N views per image, stated per
# profile) and shares with every teacher row and seed.
_base_ = [
    '../../configs/beamclip/'
    'beamclip_resnet18_vit-b32-openai-cached_1xb32-2e_imagefolder.py'
]
