# Sala's commands. The README's two: `make run` and `make test`; both do all set-up.

PYTHON_VERSION := $(shell cat .python-version)
VENV := .venv
BIN := $(VENV)/bin
# Where `make run` keeps its database, secret key and uploads.
export SALA_DATA_DIR ?= $(CURDIR)/var
PORT ?= 8000

.PHONY: run test lint typecheck pytest install test-tools clean bench

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

# The live fan-out benchmark (bench/live_fanout.py): one reply reaching 1000 open streams
# of a Redis-backed ASGI server; needs Redis on 127.0.0.1:6379 (uses and flushes db 10).
# Its figures replace the "Live fan-out" section of bench/RESULTS.md.
# BENCH_DATABASE_URL=postgres://... runs it on PostgreSQL; BENCH_CONNECTIONS sets N.
# The soft open-files limit is raised to the hard one, for the client and the server.
BENCH_CONNECTIONS ?= 1000
bench: install
	ulimit -Sn $$(ulimit -Hn) 2>/dev/null || true; \
	BENCH_COMMAND="make bench BENCH_CONNECTIONS=$(BENCH_CONNECTIONS)" \
		$(BIN)/python bench/live_fanout.py --connections $(BENCH_CONNECTIONS) \
		--results bench/RESULTS.md

clean:
	rm -rf $(VENV) var node_modules
