# Two commands set everything up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BILLING := $(VENV)/bin/billing
export BILLING_HOME ?= $(CURDIR)/.billing
DBT_SOURCES := $(shell find dbt_project/models dbt_project/macros dbt_project/tests -type f 2>/dev/null) dbt_project/dbt_project.yml
MANIFEST := dbt_project/target/manifest.json
N ?= 10000000

.PHONY: install browser demo demo-api test lint bench bench-api bench-billing bench-pages bench-compare dev serve stop clean

install: $(VENV)/.installed $(MANIFEST)

# Bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set (it is on these
# machines) every process would otherwise compile Dagster, dbt and Great Expectations from
# source, seconds for each CLI command and each dbt run.
$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -e '.[dev]'
	@touch $@

# dagster-dbt loads the dbt manifest when definitions load; parsing needs no warehouse.
$(MANIFEST): $(VENV)/.installed $(DBT_SOURCES)
	cd dbt_project && ../$(VENV)/bin/dbt parse --quiet --profiles-dir . --project-dir .
	@touch $@

demo: install
	$(PY) -m billing_dagster.demo

# The billing API in a minute: a key, events over HTTP, an entitlement nearing its limit.
demo-api: install
	$(PY) -m billing_dagster.demo.api_walkthrough

# Two workers: most of a pipeline test is spent waiting on dbt and Dagster processes.
test: install browser
	$(PY) -m pytest -q -n 2

# The portal's browser tests drive Debian's Chromium: Playwright's own browser download is
# not reachable from these machines (DESIGN.md §3). Installing it needs root, as CI has.
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: install
	$(PY) benchmarks/ingest_and_metering.py --events $(N)

# billing serve under load: start-up, checks at 1,000/s, ingestion with 4 clients, how fast
# accepted events show (EXACT=1 adds the time to exact usage with `dagster dev` running).
bench-api: install
	$(PY) benchmarks/api.py --customers $(or $(K),10000) $(if $(EXACT),--exact)

bench-billing: install
	$(PY) benchmarks/monthly_billing.py --events $(N)

# Portal and finance pages of `billing serve` on a billed month; the revenue mart reconciled.
bench-pages: install
	$(PY) benchmarks/finance_pages.py --events $(N)

# Ours against PostgreSQL 15, pandas and DuckDB on the same job (docs/benchmarks.md);
# SCALING=1000000,3000000 adds those N and draws docs/scaling.png.
SCALING ?=
bench-compare: install
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -e '.[dev,bench]'
	$(PY) -m benchmarks.compare --events $(N) --customers $(or $(K),10000) \
		$(if $(SCALING),--scaling $(SCALING))

dev: install
	mkdir -p $(BILLING_HOME)/dagster/.nux && echo "seen: 1" > $(BILLING_HOME)/dagster/.nux/nux.yaml
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" DAGSTER_HOME=$(BILLING_HOME)/dagster \
		$(VENV)/bin/dagster dev -w workspace.yaml

# The billing API on 127.0.0.1:8787 (docs/api.md); create a key first with `billing keys create`.
serve: install
	$(BILLING) serve

stop:
	$(BILLING) warehouse stop

clean: stop
	rm -rf $(BILLING_HOME) dbt_project/target dbt_project/logs
