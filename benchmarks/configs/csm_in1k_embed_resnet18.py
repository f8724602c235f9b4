# Quality benchmark row "CSM, ImageNet-1k anchors + embedding term": the
# csm_in1k row plus beta * (1 - cos(s, t)) between the student's projection
# and the teacher's image embedding (beta = 1, the scale of the CSM loss at
# the start of training), which constrains the directions the 1000 anchors
# leave free. Off by default (embed_weight = 0) until the held-out split
# shows that it helps.
_base_ = ['./csm_in1k_resnet18.py']

model = dict(head=dict(embed_weight=1.0))
