#!/usr/bin/env bash
# mmpretrain's stock dist_train.sh: CONFIG GPUS [train.py args...].
# Env: NNODES, NODE_RANK, PORT, MASTER_ADDR (as in mmpretrain).
TOOL=$(python -c "from mmbeamclip.utils import stock_tool_path; print(stock_tool_path('dist_train.sh'))") || exit 1
exec bash "$TOOL" "$@"
