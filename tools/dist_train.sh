#!/usr/bin/env bash
# Distributed training with torchrun, as MMSegmentation's tools/dist_train.sh.
# Usage: tools/dist_train.sh CONFIG NUM_PROCS [train.py options...]
# On CPU, use the gloo backend: --cfg-options env_cfg.dist_cfg.backend=gloo
# (the demo configs set it). PYTHON defaults to the project's .venv/bin/python,
# else python; NNODES, NODE_RANK, PORT and MASTER_ADDR as in mmseg.
# tools/dist_test.sh runs test.py through this script (TOOL=test.py).
set -euo pipefail
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
TOOL=${TOOL:-train.py}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ -x "$ROOT/.venv/bin/python" ]; then DEFAULT_PYTHON="$ROOT/.venv/bin/python"; else DEFAULT_PYTHON=python; fi
PYTHON=${PYTHON:-$DEFAULT_PYTHON}

PYTHONPATH="$ROOT":${PYTHONPATH:-} \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$ROOT/tools/$TOOL" \
    "$CONFIG" \
    "${@:3}" \
    --launcher pytorch
