# Sala's commands. The README's two: `make run` and `make test`; both do all set-up.

PYTHON_VERSION := $(shell cat .python-version)
VENV := .venv
BIN := $(VENV)/bin
# Where `make run` keeps its database, secret key and uploads.
export SALA_DATA_DIR ?= $(CURDIR)/var
PORT ?= 8000
# Every Python package of .venv at its exact version, pip and setuptools included, so that
# a fresh clone runs the checks with CI's tools; `make lock` upgrades them, on purpose only.
LOCK := constraints.txt

.PHONY: run test lint typecheck pytest install lock test-tools clean bench

$(BIN)/python:
	@python=$$(tools/find-python $(PYTHON_VERSION)) && \
	echo "Creating $(VENV) with $$python" && "$$python" -m venv $(VENV)

$(VENV)/.installed: pyproject.toml $(LOCK) tools/install-pinned | $(BIN)/python
	@echo "Installing Sala and its tools, pinned by $(LOCK), into $(VENV) ..."
	@tools/install-pinned $(VENV) $(LOCK)
	@touch $@

install: $(VENV)/.installed

# Resolve pyproject.toml anew at the newest versions and rewrite $(LOCK) (tools/lock).
lock:
	@tools/lock $(LOCK)

run: install
	@SALA_DEBUG=1 $(BIN)/sala migrate --verbosity 0
	@SALA_DEBUG=1 $(BIN)/sala sample
	@SALA_DEBUG=1 $(BIN)/sala serve --port $(PORT) --workers 1 --interface asgi

test-tools: install
	@tools/ensure-test-tools

lint: install
	$(BIN)/ruff format --check sala tests conftest.py
	$(BIN)/ruff check sala tests conftest.py
	$(BIN)/lint-imports --no-logo

typecheck: install
	$(BIN)/mypy sala

# SALA_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/sala runs the suite on PostgreSQL.
pytest: test-tools
	@mkdir -p $(SALA_DATA_DIR)/test/static
	SALA_DATA_DIR=$(SALA_DATA_DIR)/test SALA_DEBUG=0 SALA_HTTPS=0 REDIS_URL= \
		DATABASE_URL=$${SALA_TEST_DATABASE_URL:-} \
		$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# The benchmarks; their figures replace their sections of bench/RESULTS.md.
# Pages (bench/pages.py): Sala in production mode (`sala serve --workers 2`) on PostgreSQL
# and Redis, filled by `sala bench_data`, under wrk: topic, forum, index and profile
# pages, replies posted at a steady rate; beside Spirit (installed from PyPI into a venv
# of its own, Python 3.12) and nginx serving Sala's topic page as a file. Needs PostgreSQL
# (user postgres, no password) and Redis on 127.0.0.1; makes and drops the databases
# sala_bench and spirit_bench and flushes Redis db 10; installs wrk and nginx with
# apt-get if missing. QUICK=1: a small community and 5 s runs, under 3 minutes in all.
# Then the live fan-out (bench/live_fanout.py): one reply reaching BENCH_CONNECTIONS open
# streams of a Redis-backed ASGI server (SQLite, or BENCH_DATABASE_URL=postgres://...);
# the soft open-files limit is raised to the hard one, for the client and the server.
BENCH_CONNECTIONS ?= 1000
BENCH_NAME = make bench$(if $(filter 1,$(QUICK)), QUICK=1)
bench: install
	ulimit -Sn $$(ulimit -Hn) 2>/dev/null || true; \
	BENCH_COMMAND="$(BENCH_NAME)" \
		$(BIN)/python bench/pages.py $(if $(filter 1,$(QUICK)),--quick) \
		--results bench/RESULTS.md && \
	BENCH_COMMAND="$(BENCH_NAME) BENCH_CONNECTIONS=$(BENCH_CONNECTIONS)" \
		$(BIN)/python bench/live_fanout.py --connections $(BENCH_CONNECTIONS) \
		--results bench/RESULTS.md

clean:
	rm -rf $(VENV) var node_modules
