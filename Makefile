# The two commands of the README: `make up` runs the system, `make test` runs every test.
# Both create .venv and install the project into it first (again only when pyproject.toml changes).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: up test lint unit integration e2e ops install clean

$(STAMP): pyproject.toml scripts/ensure-tools.sh
	scripts/ensure-tools.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	$(BIN)/pasokh up

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

integration: $(STAMP)
	$(BIN)/pytest tests/integration

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e

# Alert rules (promtool), Kubernetes manifests (kustomize + schemas), docker-compose.yml (compose-go).
ops: $(STAMP)
	$(BIN)/pytest tests/integration/test_alerts.py tests/integration/test_deploy.py tests/integration/test_compose.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
