# Teacher rows of the quality benchmark: a BeamCLIP student (ResNet-18 +
# projection neck) with the CLIP-proxy teacher. The teacher's image
# embeddings are cached once per image (fixed full view at the teacher's
# size) by benchmarks/quality.py and replayed by FullViewCachedTeacher; text
# (the prompt bank) goes through the live OpenCLIPTeacher, the same code path
# as a real CLIP.
_base_ = ['./quality_common.py']
custom_imports = dict(imports=['mmbeamclip'], allow_failed_imports=False)

teacher_dir = 'work_dirs/quality/proxy_teacher'
teacher_cache = 'work_dirs/quality/teacher_cache.pth'
embed_dim = 256

model = dict(
    type='BeamCLIP',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(type='ResNet', depth=18, out_indices=(3, )),
    neck=dict(
        type='NonLinearNeck',
        in_channels=512,
        hid_channels=1024,
        out_channels=embed_dim,
        num_layers=2,
        with_last_bn=False,
        with_avg_pool=True,
        norm_cfg=dict(type='BN1d')),
    head=dict(type='CSMHead', loss=dict(type='CSMLoss')),
    target_generator=dict(
        type='FullViewCachedTeacher',
        cache_file=teacher_cache,
        teacher=dict(
            type='OpenCLIPTeacher',
            model_name='clip-proxy-effnetlite0-minilm',
            pretrained='local-dir:' + teacher_dir,
            image_size=128)))

# The student's zero-shot accuracy through the prompt bank (plain prompts of
# the dataset's classes) is the validation metric.
val_evaluator = dict(type='Accuracy', topk=(1, ))
val_cfg = dict()
custom_hooks = [
    dict(
        type='PromptBankHook',
        classnames='dataset',
        templates='vanilla',
        progress=False)
]
