# pysoc: `make demo` runs the main job on data shipped in the repository,
# `make test` runs the test suite. Both set up everything they need: system packages
# (apt, when root), a virtual environment in .venv, and the Fortran build (meson-python,
# editable install, incremental: nothing is rebuilt when nothing changed).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PY := $(BIN)/python
BUILD_DIR := build/cp311
NP ?= 2

export PATH := $(BIN):$(PATH)
export MPLBACKEND := Agg
export OMPI_ALLOW_RUN_AS_ROOT := 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM := 1
export OMPI_MCA_rmaps_base_oversubscribe := 1
# one BLAS thread per process: MPI ranks already use the cores
export OMP_NUM_THREADS := 1
export OPENBLAS_NUM_THREADS := 1

# pip prints a warning per package for package-index locations configured on some
# machines but absent; drop those lines, keep everything else (and pip's exit status)
PIP := $(PY) -m pip
QUIET := 2> >(grep -v "^WARNING: Location '" >&2)

SYSDEPS := $(VENV)/.stamp-sysdeps
DEPS := $(VENV)/.stamp-deps
INSTALL := $(VENV)/.stamp-install

.PHONY: all build test test-all demo bench docs clean

all: build

$(SYSDEPS): scripts/ensure_sysdeps.sh
	@PYTHON=$(PYTHON) bash scripts/ensure_sysdeps.sh
	@mkdir -p $(VENV) && touch $@

$(DEPS): pyproject.toml $(SYSDEPS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "pysoc: installing build dependencies into $(VENV)"
	@$(PIP) install -q --upgrade pip $(QUIET)
	@$(PIP) install -q "meson-python>=0.15" "meson>=1.1" ninja "numpy>=2.0,<2.5" $(QUIET)
	@touch $@

$(INSTALL): $(DEPS) meson.build
	@echo "pysoc: building and installing pysoc (editable) with its dependencies"
	@$(PIP) install -q --no-build-isolation -e ".[test]" -Cbuild-dir=$(BUILD_DIR) $(QUIET)
	@touch $@

# importing the editable package rebuilds changed Fortran (ninja; a no-op otherwise)
build: $(INSTALL)
	@$(PY) -c "import pysoc._kernels.core, pysoc._kernels.clm5"

test: build
	@$(PY) -m pytest -q

test-all: build
	@$(PY) -m pytest -q -m "slow or not slow"

demo: build
	@bash scripts/demo.sh

bench: build
	@$(PY) scripts/bench_kernels.py

clean:
	rm -rf build $(VENV) output
