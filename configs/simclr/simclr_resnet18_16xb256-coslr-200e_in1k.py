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
    collate_fn=dict(_delete_=True, type='default_collate'))
# mmpretrain's default_runtime leaves the seed unset; seed it like the
# BeamCLIP configs so both stages are reproducible.
randomness = dict(seed=0, diff_rank_seed=True)
