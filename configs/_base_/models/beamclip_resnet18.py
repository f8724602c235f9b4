# BeamCLIP: ResNet-18 student, CLIP ViT-B/16 (OpenAI) teacher, CSM loss.
model = dict(
    type='BeamCLIP',
    # The student's normalisation; the teacher undoes it and applies CLIP's
    # own mean/std (and input size) to the same crop.
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='ResNet',
        depth=18,
        out_indices=(3, ),
        # SyncBN on the student only: a global sync_bn would convert the
        # teacher's norm layers too.
        norm_cfg=dict(type='SyncBN')),
    # in_channels (and with_avg_pool) are read off the backbone, so another
    # student needs only a new `backbone`.
    neck=dict(
        type='NonLinearNeck',
        hid_channels=2048,
        out_channels=512,  # the teacher's embed_dim
        num_layers=2,
        with_last_bn=False,
        norm_cfg=dict(type='SyncBN')),
    head=dict(
        type='CSMHead',
        loss=dict(type='CSMLoss', tau_t=0.01, tau_s=0.04, loss_weight=1.0),
        predict_temperature=0.01),
    target_generator=dict(
        type='OpenCLIPTeacher',
        # OpenAI weights were trained with QuickGELU.
        model_name='ViT-B-16-quickgelu',
        pretrained='openai',
        # fp16 weights (open_clip keeps LayerNorm in fp32): the frozen
        # teacher is half the memory and autocast does not recast it every
        # step. Its embeddings come back as fp32.
        precision='fp16'))
