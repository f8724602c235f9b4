# Quality benchmark row "feature regression": the obvious distillation
# baseline, 1 - cos(student projection, teacher image embedding). Same
# student, neck, teacher, data and schedule as the CSM row; only the loss
# differs. The prompt bank is only used to report zero-shot accuracy.
_base_ = ['./_base_/quality_distill.py']

model = dict(head=dict(_delete_=True, type='FeatureRegressionHead'))
