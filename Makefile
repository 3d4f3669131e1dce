# Two commands for a newcomer: `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest workers (pytest-xdist); every test has its own database, topics, ports and temp dir.
WORKERS ?= 2

.PHONY: demo test test-fast test-postgres lint clean

# Three distributions from one checkout: the shared protocol, the courtroom agent (which
# installs alone on a courtroom PC) and the server; one pip call resolves them together.
$(STAMP): pyproject.toml agents/pyproject.toml streamd_protocol/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ./streamd_protocol -e ./agents -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/streamd demo

lint: $(STAMP)
	$(BIN)/ruff check streamd agents streamd_protocol tests bench
	$(BIN)/ruff format --check streamd agents streamd_protocol tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -n $(WORKERS) --dist loadgroup

# Pure and fast tiers only: skips the slow (subprocess, schemathesis) tests.
test-fast: $(STAMP)
	$(BIN)/pytest -n $(WORKERS) --dist loadgroup -m 'not slow'

# The database tests again, against PostgreSQL (STREAMD_TEST_POSTGRES_URL must be set).
# Only the PostgreSQL cases, and the tests that need PostgreSQL itself (replicas, the
# lease; `make test` skips them): `make test` has already run the SQLite ones. The tests
# whose subject is media or a browser (real ffmpeg, Chromium) run on SQLite only: the
# queries they make are the ones the database tests run here, and their minutes of real
# time would test ffmpeg again, not PostgreSQL.
test-postgres: $(STAMP)
	test -n "$$STREAMD_TEST_POSTGRES_URL" || (echo "set STREAMD_TEST_POSTGRES_URL" >&2; exit 2)
	$(BIN)/pytest -n $(WORKERS) --dist loadgroup \
	  -m '(db and not ffmpeg and not browser) or postgres_only' -k 'postgresql or postgres_only'

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
