#!/usr/bin/env bash
# mmpretrain's stock dist_test.sh: CONFIG CHECKPOINT GPUS [test.py args...].
TOOL=$(python -c "from mmbeamclip.utils import stock_tool_path; print(stock_tool_path('dist_test.sh'))") || exit 1
exec bash "$TOOL" "$@"
