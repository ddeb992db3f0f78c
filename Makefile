# Causal ML course. `make help` lists the targets. `make test` and `make run` set themselves up.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HW     ?= hw1
WORKERS ?= 2

# One thread per process: two pytest-xdist workers on two cores, and reproducible timings.
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: help install lock test test-full run lab strip lint release collect grade feedback export report selftest bench student-edition clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  \033[1m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "  Variables: HW=$(HW) (assignment), WORKERS=$(WORKERS), PYTHON=$(PYTHON)"

install: $(STAMP) ## create .venv from requirements.lock (idempotent; re-installs when the lock changes)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { echo "Python 3.11 is required: set PYTHON=/path/to/python3.11"; exit 1; }
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" >/dev/null
	@touch $@
	@echo "Environment ready in $(VENV)."

lock: ## re-pin requirements.lock from pyproject.toml in a clean venv
	rm -rf build/lock-venv && $(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/pip install --quiet --disable-pip-version-check -e .
	{ echo "# Fully pinned environment, produced from a clean Python 3.11 venv by \`make lock\`."; \
	  echo "# torch is the CPU build (2.13.0+cpu). Do not edit by hand."; \
	  build/lock-venv/bin/pip freeze --exclude-editable | grep -v '^causal-ml-course'; } > requirements.lock
	rm -rf build/lock-venv
	@echo "requirements.lock updated; now update environment.yml if a direct pin changed (make test checks)."

test: $(STAMP) ## run every test: notebooks in smoke mode, hygiene, environment, grading harness
	$(PY) -m pytest -n $(WORKERS) tests

test-full: $(STAMP) ## execute every notebook in full mode and check the full-mode expectations
	$(PY) -m pytest -n $(WORKERS) tests/test_notebooks.py --full

run: $(STAMP) ## execute every notebook in full mode and build the HTML site in build/site/
	$(PY) -m coursebuild.build --workers $(WORKERS)

lab: $(STAMP) ## open JupyterLab on the course
	$(VENV)/bin/jupyter lab

strip: $(STAMP) ## strip outputs from every notebook (lectures, masters, releases)
	$(VENV)/bin/nbstripout --keep-id notebooks/*.ipynb $(wildcard solutions/*/*.ipynb assignments/*/*.ipynb)

lint: $(STAMP) ## ruff over the code and the notebooks (configured in pyproject.toml)
	$(VENV)/bin/ruff check .

release: $(STAMP) ## generate assignments/$(HW) from solutions/$(HW)
	$(PY) -m autograder release $(HW)

collect: $(STAMP) ## import the LMS export SRC (folder or .zip) for $(HW)
	@test -n "$(SRC)" || { echo "usage: make collect HW=hw1 SRC=path/to/export.zip"; exit 2; }
	$(PY) -m autograder collect $(HW) "$(SRC)"

grade: $(STAMP) ## grade every collected submission of $(HW) in the sandbox
	$(PY) -m autograder grade $(HW) --workers $(WORKERS)

feedback: $(STAMP) ## write redacted HTML feedback for $(HW)
	$(PY) -m autograder feedback $(HW)

export: $(STAMP) ## export grades of $(HW) as CSV
	$(PY) -m autograder export $(HW) --format csv

report: $(STAMP) ## score histograms and a summary for $(HW)
	$(PY) -m autograder report $(HW)

selftest: $(STAMP) ## every assignment: master scores full marks, release zero, each test can fail
	@for hw in $(notdir $(wildcard solutions/*)); do $(PY) -m autograder selftest $$hw || exit 1; done

bench: $(STAMP) ## grading throughput: harness (2 workers, sandbox) vs serial nbgrader
	$(PY) benchmarks/grade_throughput.py

student-edition: $(STAMP) ## write the repository students clone to DEST (no solutions, no hidden tests)
	@test -n "$(DEST)" || { echo "usage: make student-edition DEST=path/to/new/folder"; exit 2; }
	$(PY) -m coursebuild.edition "$(DEST)"

clean: ## remove build products (keeps .venv; `rm -rf .venv` for a fresh install)
	rm -rf build .pytest_cache .ruff_cache *.egg-info
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +
