# Quality benchmark row "CSM, ImageNet-1k anchors, learnt student
# temperature": the csm_in1k row with tau_s a trained parameter (log-space,
# started at the default 0.04, clamped to [0.01, 1]), so the student's
# sharpness is fitted instead of fixed. Off by default until the held-out
# split shows that it helps.
_base_ = ['./csm_in1k_resnet18.py']

model = dict(head=dict(loss=dict(learn_tau_s=True)))
# A temperature is not a weight: no decay pulling it towards exp(0) = 1.
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'log_tau_s': dict(decay_mult=0.)}))
