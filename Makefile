# clip-poc: `make report` regenerates everything, `make test` checks it. `make help` lists targets.
SHELL := /bin/bash
PYTHON_SYS ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROFILE ?= full
REPORT_DIR ?= reports
ARGS ?=
# JupyterLab refuses to start as root (containers often run as root) unless told it may.
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
export DATA_SOURCE STRICT

.DEFAULT_GOAL := help
.PHONY: help env ray data report publish smoke test test-full lint bench lab predict suggest-labels figures-table figures-sheet strip clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'
	@echo "  settings: DATA_SOURCE=<folder or zip> PROFILE=full|smoke ARGS='<extra arguments>'"
	@echo "  e.g. make report ARGS=\"-p models '[\\\"text-tfidf\\\"]' -p seed 7\"   (papermill-style overrides)"
	@echo "       make data ARGS='--category-level 2'     make predict ARGS='photo.jpg --model clip-probe'"

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON_SYS) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

env: $(STAMP) ## create the virtual environment (.venv) if missing

RAY_STAMP := $(VENV)/.installed-ray
$(RAY_STAMP): requirements-ray.txt $(STAMP)
	$(PY) -m pip install -q -r requirements-ray.txt
	touch $(RAY_STAMP)

ray: $(RAY_STAMP) ## install the optional Ray Data extra (engine=ray, batch prediction on a cluster)

data: $(STAMP) ## get the dataset (DATA_SOURCE, else download) and write data/processed/catalog.csv
	$(PY) -m utils.data $(ARGS)

report: $(STAMP) ## execute every notebook in order into reports/ (figures into figures/); ARGS: -p name value
	$(PY) -m utils.report --profile $(PROFILE) --output-dir $(REPORT_DIR) $(ARGS)

publish: $(STAMP) ## copy the finished run (notebooks, note, figures, model card) into reports/reference/, committed
	$(PY) -m utils.report.publish --reports-dir $(REPORT_DIR) $(ARGS)

smoke: ## the whole notebook chain in the fast offline smoke profile (every candidate, tiny models)
	$(MAKE) report PROFILE=smoke

test: $(STAMP) ray lint ## the fast tier: lint, unit tests and one smoke chain (Ray tests included)
	$(VENV)/bin/pytest -q -m "not full" $(ARGS)

test-full: $(STAMP) ## the real-data tier: the weight-free full run on the note's data (DATA_SOURCE)
	$(VENV)/bin/pytest -q -m full $(ARGS)

lint: $(STAMP) ## ruff: formatting and lint of utils/, tests/ and the notebooks (lines of at most 100)
	$(VENV)/bin/ruff format --check utils tests notebooks
	$(VENV)/bin/ruff check utils tests notebooks

bench: $(STAMP) ## measure throughput, precision, fine-tuning and scale costs (reports/bench.json); ARGS: --sections ...
	$(PY) -m utils.bench $(ARGS)

lab: $(STAMP) ## open JupyterLab on notebooks/ with the project's environment as the kernel (as root: --allow-root)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(LAB_ROOT)

predict: $(STAMP) ## classify with a trained candidate: ARGS='a.jpg b.jpg [--model clip-head]' or '--catalog products.csv --model text-tfidf'
	$(PY) -m utils.predict $(ARGS)

suggest-labels: $(STAMP) ## rank products to label next (reports/suggested_labels.csv): ARGS='--pool new.csv [--batch 50]'
	$(PY) -m utils.labels.suggest $(ARGS)

figures-table: $(STAMP) ## rewrite the README's figure table from utils/figures.py
	$(PY) -m utils.report.figures --update-readme

figures-sheet: $(STAMP) ## one page of every figure with its caption at the note's width (reports/figures_sheet.html)
	$(PY) -m utils.report.figures --sheet $(REPORT_DIR)/figures_sheet.html

strip: $(STAMP) ## remove outputs from the source notebooks
	$(VENV)/bin/nbstripout notebooks/*.ipynb

clean: ## remove generated reports, figures and processed data (keeps raw data and the venv)
	rm -rf $(REPORT_DIR)/*.ipynb $(REPORT_DIR)/note.* $(REPORT_DIR)/*.json $(REPORT_DIR)/*.png figures/*.png data/processed data/features data/activations data/models data/explanations
