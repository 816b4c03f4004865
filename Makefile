# clip-poc: `make report` regenerates everything, `make test` checks it. `make help` lists targets.
SHELL := /bin/bash
PYTHON_SYS ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROFILE ?= full
REPORT_DIR ?= reports
export DATA_SOURCE

.DEFAULT_GOAL := help
.PHONY: help env data report smoke test bench strip clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'
	@echo "  settings: DATA_SOURCE=<folder or zip> PROFILE=full|smoke"

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON_SYS) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

env: $(STAMP) ## create the virtual environment (.venv) if missing

data: $(STAMP) ## get the dataset (DATA_SOURCE, else download) and write data/processed/catalog.csv
	$(PY) -m utils.data

report: $(STAMP) ## execute every notebook in order into reports/ (figures into figures/)
	$(PY) -m utils.report --profile $(PROFILE) --output-dir $(REPORT_DIR)

smoke: ## the whole notebook chain in the fast offline smoke profile
	$(MAKE) report PROFILE=smoke

test: $(STAMP) ## run the test suite (real-data tests need DATA_SOURCE)
	$(VENV)/bin/pytest -q

strip: $(STAMP) ## remove outputs from the source notebooks
	$(VENV)/bin/nbstripout notebooks/*.ipynb

clean: ## remove generated reports, figures and processed data (keeps raw data and the venv)
	rm -rf $(REPORT_DIR)/*.ipynb $(REPORT_DIR)/note.* $(REPORT_DIR)/*.json figures/*.png data/processed data/features data/models data/explanations

bench: $(STAMP) ## measure pipeline vs bare-model throughput and head training time (reports/bench.json)
	$(PY) -m utils.bench
