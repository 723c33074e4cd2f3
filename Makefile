# Sala's commands. The README's two: `make run` and `make test`; both do all set-up.

PYTHON_VERSION := $(shell cat .python-version)
VENV := .venv
BIN := $(VENV)/bin
# Where `make run` keeps its database, secret key and uploads.
export SALA_DATA_DIR ?= $(CURDIR)/var
PORT ?= 8000

.PHONY: run test lint typecheck pytest install test-tools clean

$(BIN)/python:
	@python=$$(tools/find-python $(PYTHON_VERSION)) && \
	echo "Creating $(VENV) with $$python" && "$$python" -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "Installing Sala and its tools into $(VENV) ..."
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

run: install
	@SALA_DEBUG=1 $(BIN)/sala migrate --verbosity 0
	@SALA_DEBUG=1 $(BIN)/sala sample
	@SALA_DEBUG=1 $(BIN)/sala serve --port $(PORT) --workers 1 --interface asgi

test-tools: install
	@tools/ensure-test-tools

lint: install
	$(BIN)/ruff format --check sala tests conftest.py
	$(BIN)/ruff check sala tests conftest.py

typecheck: install
	$(BIN)/mypy sala

# SALA_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/sala runs the suite on PostgreSQL.
pytest: test-tools
	@mkdir -p $(SALA_DATA_DIR)/test/static
	SALA_DATA_DIR=$(SALA_DATA_DIR)/test SALA_DEBUG=0 SALA_HTTPS=0 REDIS_URL= \
		DATABASE_URL=$${SALA_TEST_DATABASE_URL:-} \
		$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

clean:
	rm -rf $(VENV) var node_modules
