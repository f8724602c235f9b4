# Quality benchmark row "feature regression": the obvious distillation
# baseline, 1 - cos(student projection, teacher embedding of the same view).
# Same student, neck, teacher, cached views, data and budget as the CSM row;
# only the loss differs. The prompt bank is only used to report zero-shot
# accuracy.
_base_ = ['./csm_resnet18.py']

model = dict(head=dict(_delete_=True, type='FeatureRegressionHead'))
