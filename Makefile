# cn_seg: the two commands of README.md. Each sets up its own environment on first use.
PY ?= python3
VENV := .venv
PYTHON := $(VENV)/bin/python
PIP := $(PYTHON) -m pip
DEPS := $(VENV)/.cn_seg-deps
STAMP := $(VENV)/.cn_seg-installed
PYTEST_ARGS ?= -q --durations=20

.PHONY: env test test-slow demo bench format clean-env

env: $(STAMP)

# torch must be installed before mmcv, and mmcv is built against it without build
# isolation (otherwise pip puts a CUDA torch into the build environment); see README.md.
# The pins are the tested versions of setup.py's ranges: the core, its mmseg extra
# (the OpenMMLab stack and what the tools use) and its tests extra (tensorboard;
# triton, whose kernels the tests run on the CPU with TRITON_INTERPRET=1, about 1 GB).
$(DEPS): Makefile
	test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0 'setuptools>=77,<81' wheel ninja numpy
	MAX_JOBS=2 $(PIP) install --no-build-isolation mmcv==2.1.0
	$(PIP) install -q mmengine==0.10.7 mmsegmentation==1.2.2 opencv-python ftfy regex \
		scipy matplotlib pytest tensorboard triton==3.9.0
	touch $@

# cn_seg in editable mode; this compiles its C++ kernels (cn_seg._C) again
# whenever their sources change.
$(STAMP): $(DEPS) setup.py $(wildcard cn_seg/csrc/*)
	$(PIP) install -q --no-build-isolation --no-deps -e .
	touch $@

# Idle OpenMP threads sleep instead of spinning: on a busy 2-core machine
# spinning threads made training steps about 5x slower.
test: $(STAMP)
	OMP_WAIT_POLICY=PASSIVE $(PYTHON) -m pytest tests -m 'not slow' $(PYTEST_ARGS)

# The tests marked slow (setup.cfg): benchmarks/gpu.sh --self-check runs every
# part of the GPU script on the CPU (about 2 minutes).
test-slow: $(STAMP)
	OMP_WAIT_POLICY=PASSIVE $(PYTHON) -m pytest tests -m slow $(PYTEST_ARGS)

demo: $(STAMP)
	bash tools/demo.sh

bench: $(STAMP)
	$(PYTHON) benchmarks/bench_cn_layer.py
	$(PYTHON) benchmarks/bench_train_step.py

# setup.cfg's yapf and isort settings, applied to every Python file of the repository.
FORMATTED := cn_seg cn_seg_workbench tools tests benchmarks configs setup.py
format: $(STAMP)
	$(PIP) install -q yapf==0.43.0 isort==9.0.2
	$(VENV)/bin/isort $(FORMATTED)
	$(VENV)/bin/yapf -i -r -p $(FORMATTED)

clean-env:
	rm -rf $(VENV)
