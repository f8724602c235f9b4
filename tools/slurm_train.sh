#!/usr/bin/env bash
# mmpretrain's stock slurm_train.sh: PARTITION JOB_NAME CONFIG WORK_DIR [args].
# Run it from the repository root: srun starts ./tools/train.py on each task.
# Env: GPUS, GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS (as in mmpretrain).
TOOL=$(python -c "from mmbeamclip.utils import stock_tool_path; print(stock_tool_path('slurm_train.sh'))") || exit 1
exec bash "$TOOL" "$@"
