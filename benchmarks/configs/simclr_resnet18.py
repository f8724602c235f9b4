# Quality benchmark row "SimCLR": mmpretrain's own SimCLR as shipped for an
# image folder (stock model, head, loss and two-view augmentation).
# benchmarks/quality.py gives it the common budget (SGD instead of LARS, the
# same schedule, epochs, batch and image size as every row). Labels are not
# used.
_base_ = ['../../configs/simclr/simclr_resnet18_1xb32-2e_imagefolder.py']
