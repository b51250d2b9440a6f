# endpoint-loadtest-operator: every set-up step a developer or CI needs lives here.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: help venv test unit lint crds demo demo-capacity clean report-tools

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

venv: $(STAMP) ## create .venv and install the project with its dev extras

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

lint: venv ## ruff over the code and tests
	$(VENV)/bin/ruff check operator tests bench hack
	$(VENV)/bin/ruff format --check operator tests bench hack

crds: venv ## render crds/ from the pydantic models (and the chart's copy)
	$(PY) -m endpoint_loadtest.api.crd --output crds/
	cp crds/*.yaml charts/endpoint-loadtest-operator/files/crds/

unit: venv report-tools ## the fast tests: no cluster, no Locust processes
	$(PY) -m pytest -m "not cluster and not e2e and not slow"

test: lint cluster-tools image report-tools ## lint, then the whole suite (what CI runs; builds the tools and images first)
	$(PY) -m pytest

report-tools: ## headless Chromium (Debian's), which the report tests open report.html in
	bash hack/chromium.sh

demo: venv ## a whole load test against the SageMaker simulator, output in demo-output/
	$(PY) hack/demo.py

demo-capacity: venv ## a capacity search against the simulator: max TPS within the SLO, instances for a target, autoscaling target
	$(PY) hack/demo_capacity.py

clean: ## remove build and run artefacts (keeps bin/ and .venv)
	rm -rf demo-output bench-output .pytest_cache .ruff_cache

include hack/cluster.mk
include hack/chart.mk
include hack/bench.mk
