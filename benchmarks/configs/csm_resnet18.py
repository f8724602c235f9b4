# Quality benchmark row "BeamCLIP CSM (plain prompts)": KL between teacher
# and student similarity distributions over the anchors, the teacher's
# embeddings of 'a photo of a {class}.' for the dataset's classes. The
# temperatures are the plugin defaults (tau_t=0.01, CLIP's and the proxy's
# logit scale; tau_s=0.04), not tuned on the benchmark.
_base_ = ['./_base_/quality_distill.py']

model = dict(
    head=dict(
        type='CSMHead',
        loss=dict(type='CSMLoss', tau_t=0.01, tau_s=0.04, loss_weight=1.0)))
