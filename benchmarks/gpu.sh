#!/usr/bin/env bash
# Everything cn_seg measures on one CUDA GPU, in one command (about 8 minutes
# on one H100). Writes into benchmarks/results/gpu/ (or --out DIR):
#   machine.txt          the GPU, driver, torch, triton, CPU, commit
#   cuda_tests.txt       the CUDA tests (CN layer, synchronized CN, the split
#                        Triton reductions, launch counts)
#   launch_plans.txt     the Triton launch plan at every R50 norm layer
#   layers_r50.txt       CN (2 and 4 domains) vs nn.BatchNorm2d at every
#                        DeepLabV3-R50-D8 norm-layer shape, float32 and
#                        bfloat16, contiguous and channels_last, with Triton's
#                        compile time at first use
#   train_step_eager.txt DeepLabV3-R50-D8 training step, 4 images of
#                        512x1024 (2 per domain), CN vs BN: time and peak
#                        memory
#   train_step_compiled.txt  the same under torch.compile (with compile times)
#   summary.txt          each part's exit status and wall time
#
# Usage:
#   bash benchmarks/gpu.sh [--out DIR] [--python PY]
#   bash benchmarks/gpu.sh --self-check [--out DIR] [--python PY]
#
# Without a CUDA device it fails (exit 3) and says so: it never skips.
# --self-check runs on the CPU instead: every script at tiny sizes (the same
# code paths, no meaningful times) and this script's own no-CUDA failure;
# tests/test_tools/test_gpu_script.py runs it.
set -uo pipefail

usage() {
    sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY="$ROOT/.venv/bin/python"
OUT=""
SELF_CHECK=0
while [ $# -gt 0 ]; do
    case "$1" in
        --out) [ $# -ge 2 ] || { echo "gpu.sh: --out needs a folder" >&2; exit 2; }
               OUT=$2; shift 2 ;;
        --python) [ $# -ge 2 ] || { echo "gpu.sh: --python needs an interpreter" >&2; exit 2; }
                  PY=$2; shift 2 ;;
        --self-check) SELF_CHECK=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "gpu.sh: unknown argument '$1'; see bash benchmarks/gpu.sh --help" >&2
           exit 2 ;;
    esac
done
if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "gpu.sh: '$PY' cannot import torch; run 'make env' first or pass --python" >&2
    exit 2
fi

if [ "$SELF_CHECK" = 1 ]; then
    DEVICE=cpu
    OUT=${OUT:-$(mktemp -d)}
    # The real script must refuse a machine without CUDA, loudly.
    message=$(CUDA_VISIBLE_DEVICES= bash "$0" --out "$OUT/refused" --python "$PY" 2>&1)
    status=$?
    if [ "$status" != 3 ] || ! grep -q 'no CUDA device' <<<"$message"; then
        echo "gpu.sh --self-check: without CUDA gpu.sh gave exit $status and: $message" >&2
        exit 1
    fi
    STEP_ARGS=(--device cpu --depth 18 --batch 4 --size 32 64 --repeat 1 --threads 1)
    LAYER_ARGS=(--device cpu --batch 2 --height 32 --width 64 --repeat 1 --threads 1)
    # dynamo with its eager backend: the script's compiled path, traced, in
    # seconds; the compiled CN itself is tested in tests/test_models.
    COMPILE_ARGS=(--compile --compile-backend eager --skip-memory)
    # The suite runs the other test files on the CPU already.
    TESTS=(tests/test_models/test_consistent_norm_cuda.py tests/test_distributed/test_sync_cn_cuda.py)
    EAGER_BACKENDS=()
    export TRITON_INTERPRET=1
else
    DEVICE=cuda
    OUT=${OUT:-$ROOT/benchmarks/results/gpu}
    if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
        echo "gpu.sh: torch sees no CUDA device (torch $("$PY" -c 'import torch; print(torch.__version__)'), CUDA_VISIBLE_DEVICES='${CUDA_VISIBLE_DEVICES-}'). It measures a GPU and refuses to run without one; run it on a CUDA machine, or 'bash benchmarks/gpu.sh --self-check' for the CPU-side check." >&2
        exit 3
    fi
    # 4 images (2 per domain): with one image per domain ASPP's image-pool
    # layer (1x1) gives a bank one value per channel, refused in training
    # as BN refuses it; the paper's 2 per GPU are synchronized over 4 GPUs.
    STEP_ARGS=(--device cuda --batch 4 --size 512 1024 --repeat 10)
    LAYER_ARGS=(--device cuda --batch 2 --height 512 --width 1024 --repeat 20)
    COMPILE_ARGS=(--compile)
    EAGER_BACKENDS=(--backends triton aten)
    TESTS=(tests/test_models/test_consistent_norm_cuda.py tests/test_distributed/test_sync_cn_cuda.py
           tests/test_models/test_triton_split.py tests/test_models/test_launch_count.py)
fi
mkdir -p "$OUT"
export OMP_WAIT_POLICY=PASSIVE
cd "$ROOT" || exit 2
: > "$OUT/summary.txt"
failed=0

# part NAME FILE COMMAND...: run COMMAND, its output into FILE, its status and
# wall time into summary.txt.
part() {
    local name=$1 file=$2
    shift 2
    local start=$SECONDS
    echo "== $name: $*"
    { echo "\$ $*"; echo "# $(date -u '+%Y-%m-%d %H:%M UTC')"; } > "$OUT/$file"
    "$@" >> "$OUT/$file" 2>&1
    local status=$?
    echo "$name: exit $status, $((SECONDS - start)) s ($file)" | tee -a "$OUT/summary.txt"
    [ "$status" = 0 ] || failed=1
}

{
    echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null)"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    "$PY" -c 'import sys; sys.path.insert(0, "benchmarks"); import torch; from common import machine; print(machine()); print("cuda", torch.version.cuda)'
    "$PY" -c 'import triton; print("triton", triton.__version__)' 2>&1
} > "$OUT/machine.txt" 2>&1
SM=$("$PY" -c "import torch; print(torch.cuda.get_device_properties(0).multi_processor_count if torch.cuda.is_available() else 132)")

part "CUDA tests" cuda_tests.txt "$PY" -m pytest -q -rs "${TESTS[@]}"
part "launch plans" launch_plans.txt "$PY" benchmarks/launch_plans.py --sm-count "$SM"
part "R50 layers" layers_r50.txt "$PY" benchmarks/bench_r50_layers.py "${LAYER_ARGS[@]}"
part "train step, eager" train_step_eager.txt "$PY" benchmarks/bench_train_step.py \
    "${STEP_ARGS[@]}" "${EAGER_BACKENDS[@]}"
part "train step, compiled" train_step_compiled.txt "$PY" benchmarks/bench_train_step.py \
    "${STEP_ARGS[@]}" "${COMPILE_ARGS[@]}"

echo "results in $OUT"
if [ "$failed" != 0 ]; then
    echo "gpu.sh: some parts failed (see $OUT/summary.txt)" >&2
    exit 1
fi
