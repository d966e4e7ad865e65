# Entry points: `make demo` (main job on embedded data), `make test` (the tests and the
# tutorial notebooks), `make docs` (the site, warnings as errors).
# The venv is created on first use. torch is installed first, pinned to the local
# CPU build, so botorch/gpytorch find it satisfied and pull no CUDA wheels.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test docs notebooks wheel-check bench-codec docs-cli clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test,ray,docs]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/latentbo demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

# The site in build/site; mkdocs.yml sets strict mode (any warning fails the build).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build

# Re-execute the tutorials and keep their outputs in the notebooks (what the site shows).
notebooks: $(STAMP)
	cd docs/tutorials && for nb in *.ipynb; do ../../$(BIN)/jupyter nbconvert --to notebook --execute --inplace "$$nb" || exit 1; done

wheel-check: $(STAMP)
	bash .ci/wheel_check.sh

# docs/cli.md: the command-line reference, generated from the Typer app (a test checks it is current).
docs-cli: $(STAMP)
	$(BIN)/python -m typer latentbo.cli utils docs --name latentbo --output docs/cli.md

bench-codec: $(STAMP)
	cd benchmarks && OMP_NUM_THREADS=1 ../$(BIN)/python codec_speed.py

clean:
	rm -rf $(VENV) build *.egg-info
