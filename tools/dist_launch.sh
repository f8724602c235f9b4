#!/usr/bin/env bash
# Launch one of this folder's Python tools on GPUS processes per node with
# torchrun (used by dist_train.sh and dist_test.sh):
#   bash tools/dist_launch.sh GPUS TOOL.py [tool args...]
# Env: NNODES, NODE_RANK, PORT, MASTER_ADDR (as mmpretrain's dist_*.sh).
GPUS=$1
TOOL=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}

export PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH
exec python -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$(dirname "$0")/$TOOL" \
    "${@:3}"
