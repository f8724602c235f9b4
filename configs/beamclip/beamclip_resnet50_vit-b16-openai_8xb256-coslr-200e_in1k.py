# As the ResNet-18 recipe, with a ResNet-50 student (2048-d features, which
# the neck reads off the backbone).
_base_ = ['./beamclip_resnet18_vit-b16-openai_8xb256-coslr-200e_in1k.py']

model = dict(backbone=dict(depth=50))
