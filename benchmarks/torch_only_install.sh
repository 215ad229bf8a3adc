#!/usr/bin/env bash
# A torch-only install of cn_seg from this clone, timed, and what works there.
#   bash benchmarks/torch_only_install.sh [VENV]   (default /tmp/torchonly)
# 1. a fresh venv with torch 2.13.0 (CPU), numpy and setuptools only;
# 2. `pip install --no-build-isolation .` (compiles the C++ kernels), timed;
# 3. the list of what is installed (no mmcv, mmengine or mmseg);
# 4. tests/test_package/torch_only_check.py: import cn_seg (no OpenMMLab
#    module), convert, train routed, calibrate and fold a small model;
# 5. benchmarks/import_time.py there, and with PYTHON_FULL (the full
#    environment, default .venv/bin/python) for import cn_seg with mmseg.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-/tmp/torchonly}
PYTHON_FULL=${PYTHON_FULL:-.venv/bin/python}
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# git $(git rev-parse --short HEAD)"
rm -rf "$VENV" build
echo '$ python3 -m venv VENV && pip install torch==2.13.0 numpy setuptools wheel'
start=$(date +%s)
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q torch==2.13.0 numpy 'setuptools>=77,<81' wheel
echo "took $(( $(date +%s) - start )) s (torch from pip's cache)"
echo '$ pip install --no-build-isolation .'
start=$(date +%s)
"$VENV/bin/pip" install -q --no-build-isolation .
echo "took $(( $(date +%s) - start )) s (C++ kernels compiled)"
echo '$ pip list'
"$VENV/bin/pip" list --format=freeze | tr '\n' ' '
echo
echo '$ python -c "import cn_seg._C"'
(cd /tmp && "$VENV/bin/python" -c "import cn_seg._C; print('kernels built')")
echo '$ python tests/test_package/torch_only_check.py'
"$VENV/bin/python" tests/test_package/torch_only_check.py 2>&1 | tail -n 1
echo '$ python benchmarks/import_time.py (torch only)'
(cd /tmp && "$VENV/bin/python" "$OLDPWD/benchmarks/import_time.py")
echo '$ python benchmarks/import_time.py (full environment, mmseg installed)'
"$PYTHON_FULL" benchmarks/import_time.py
rm -rf build
