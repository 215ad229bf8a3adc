#!/usr/bin/env bash
# Distributed testing with torchrun, as MMSegmentation's tools/dist_test.sh.
# Usage: tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py options...]
# Same environment variables as tools/dist_train.sh.
set -euo pipefail
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
TOOL=test.py exec "$(dirname "$0")/dist_train.sh" "$CONFIG" "$GPUS" \
    "$CHECKPOINT" "${@:4}"
