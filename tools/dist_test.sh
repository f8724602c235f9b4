#!/usr/bin/env bash
# Distributed testing through this folder's test.py (mmpretrain's stock
# test.py, plus short custom_imports and quiet library warnings):
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]
# Env: NNODES, NODE_RANK, PORT, MASTER_ADDR (as mmpretrain's dist_test.sh).
exec bash "$(dirname "$0")/dist_launch.sh" "$3" test.py "$1" "$2" \
    --launcher pytorch "${@:4}"
