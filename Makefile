# Two entry points: `make demo` (main job on embedded data) and `make test`.
# The venv is created on first use. torch is installed first, pinned to the local
# CPU build, so botorch/gpytorch find it satisfied and pull no CUDA wheels.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test wheel-check bench-codec docs-cli clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test,ray]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/latentbo demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

wheel-check: $(STAMP)
	bash .ci/wheel_check.sh

# docs/cli.md: the command-line reference, generated from the Typer app (a test checks it is current).
docs-cli: $(STAMP)
	$(BIN)/python -m typer latentbo.cli utils docs --name latentbo --output docs/cli.md

bench-codec: $(STAMP)
	cd benchmarks && OMP_NUM_THREADS=1 ../$(BIN)/python codec_speed.py

clean:
	rm -rf $(VENV) build *.egg-info
