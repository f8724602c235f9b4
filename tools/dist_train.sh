#!/usr/bin/env bash
# Distributed training through this folder's train.py (mmpretrain's stock
# train.py, plus short custom_imports and quiet library warnings):
#   bash tools/dist_train.sh CONFIG GPUS [train.py args...]
# Env: NNODES, NODE_RANK, PORT, MASTER_ADDR (as mmpretrain's dist_train.sh).
exec bash "$(dirname "$0")/dist_launch.sh" "$2" train.py "$1" \
    --launcher pytorch "${@:3}"
