# Stage 1 of the two-stage BeamCLIP recipe: stock mmpretrain SimCLR with a
# ResNet-18 (mmpretrain ships ResNet-50 only). Nothing BeamCLIP-specific:
#   bash tools/dist_train.sh configs/simclr/<this file> 16
# or tools/train.py with --launcher pytorch. See docs/ssl.md.
_base_ = 'mmpretrain::simclr/simclr_resnet50_16xb256-coslr-200e_in1k.py'

model = dict(backbone=dict(depth=18), neck=dict(in_channels=512))

# Inheriting through `mmpretrain::` tags every typed dict with
# `_scope_='mmpretrain'`; mmengine passes that on to the collate function as
# a keyword argument, which default_collate rejects.
train_dataloader = dict(
    collate_fn=dict(_delete_=True, type='default_collate'), drop_last=True)
# --auto-scale-lr: mmpretrain's lr 4.8 is for 16 GPUs x 256 images; on
# another number of GPUs (or batch) the stock tools/train.py scales it
# linearly, as in SimCLR's recipe (lr = 0.3 x batch / 256).
auto_scale_lr = dict(base_batch_size=4096)
# mmpretrain's default_runtime leaves the seed unset; seed it like the
# BeamCLIP configs so both stages are reproducible.
randomness = dict(seed=0, diff_rank_seed=True)
