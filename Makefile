# pmresearch: two commands on a fresh machine: `make report` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONHASHSEED := 0
export MPLBACKEND := Agg

.PHONY: install report test lint bench references lab clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## Run the main pipeline on the simulated worlds and write reports/index.html
report: $(STAMP)
	$(BIN)/pmresearch run 04_go_no_go --params params/04_go_no_go/sim_edge.yaml
	$(BIN)/pmresearch run 04_go_no_go --params params/04_go_no_go/sim_no_edge.yaml
	$(BIN)/pmresearch run 00_explore --params params/00_explore/sim_edge.yaml
	$(BIN)/pmresearch run 05_data_features --params params/05_data_features/sim_edge.yaml
	$(BIN)/pmresearch run 06_model_a --params params/06_model_a/sim_edge.yaml
	@echo "open reports/index.html"

## The whole test suite, notebooks included
test: $(STAMP)
	$(BIN)/ruff check pmresearch tests benchmarks
	$(BIN)/mypy pmresearch
	$(BIN)/python -m pytest -n 2 tests

lint: $(STAMP)
	$(BIN)/ruff check pmresearch tests benchmarks
	$(BIN)/mypy pmresearch

## Performance benchmarks, printed as ratios against a baseline timed in the same run
bench: $(STAMP)
	$(BIN)/pmresearch bench

## Rewrite the stored reference values of tests/reference/ from QuantLib, ta and statsmodels
references: $(STAMP)
	$(BIN)/python tests/reference/generate_references.py

## JupyterLab on the notebooks (installs the `lab` extra on first use)
lab: $(STAMP)
	@$(BIN)/python -c 'import jupyterlab, ipywidgets' 2>/dev/null || $(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,lab]'
	$(BIN)/jupyter lab notebooks

clean:
	rm -rf $(VENV) reports/*/ reports/index.html data/runs data/sim .pytest_cache .mypy_cache .ruff_cache
