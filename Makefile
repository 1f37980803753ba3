# wac: the two commands of the README are `make up` and `make test`.
VENV   := .venv
WAC    := $(VENV)/bin/wac
PY     := $(VENV)/bin/python
URLS   ?=
CONFIG ?=

.PHONY: setup up test lint typecheck unit services-up services-down lock bench clean faults soak bench-monitor bench-store bench-report requirements image image-test

setup:
	@scripts/setup.sh

## Run monitor and store (and the dashboard) on the local services, or on the
## endpoints set in the environment / .env. URLS="https://a https://b" or CONFIG=targets.yaml.
up: setup
	@if [ -z "$(URLS)" ] && [ -z "$(CONFIG)" ] && [ ! -f targets.yaml ]; then \
	  echo 'make up: say what to check: make up URLS="https://example.com/" or CONFIG=targets.yaml' >&2; exit 2; fi
	$(WAC) up $(URLS) $(if $(CONFIG),--config $(CONFIG),$(if $(URLS),,--config targets.yaml))

services-up: setup
	$(WAC) services up

services-down:
	$(WAC) services down

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck:
	$(VENV)/bin/mypy

## Everything CI runs: setup, local services, lint, types, all tests.
test: setup services-up lint typecheck
	$(VENV)/bin/pytest -q -ra

## wac report over a year of 1,000 targets, and 20,000 targets over 30 days (report and
## /api/overview): median, spread and load average of 5 runs each (BENCH_ARGS="--runs 3").
bench-report: services-up
	$(PY) -m bench.report.run $(BENCH_ARGS)

## Fault scenarios (private Kafka and PostgreSQL) with their tallies printed.
faults: setup
	$(VENV)/bin/pytest -q -s -m faults tests/faults

## The monitor's quality bars (throughput vs ab, concurrency, lateness, memory) in one run;
## installs nginx-light, apache2-utils and nginx's echo module when missing.
bench-monitor: services-up
	@WAC_SETUP_BENCH_TOOLS=1 scripts/setup.sh
	$(PY) -m bench.monitor.run $(BENCH_ARGS)

## The store's quality bars (throughput against a raw COPY, freshness at 2,000/s) in one run.
bench-store: services-up
	$(PY) -m bench.store.run $(BENCH_ARGS)

## Whole pipeline at steady load; memory and open files of each service at start and end.
SOAK_MINUTES ?= 30
soak: setup services-up
	$(PY) -m bench.soak.run --minutes $(SOAK_MINUTES)

## Regenerate requirements.lock from pyproject.toml in a scratch virtualenv.
lock:
	rm -rf .lock-venv && python3 -m venv .lock-venv
	.lock-venv/bin/pip install -q --disable-pip-version-check '.[dev]'
	.lock-venv/bin/pip freeze --exclude wac > requirements.lock
	.lock-venv/bin/python scripts/requirements_txt.py
	rm -rf .lock-venv

## requirements.txt: pyproject.toml's runtime dependencies pinned as in requirements.lock.
requirements: setup
	$(PY) scripts/requirements_txt.py

## The container image (WAC_IMAGE, default wac:latest) with podman; the base image the
## Dockerfile names is made here (debootstrap) when it cannot be pulled.
image:
	@scripts/container/build-image.sh

## Builds the image and runs it (wac check on a local site; the seed's monitor and store
## through the local Kafka into the local PostgreSQL), then both compose files with
## podman-compose (Kafka and PostgreSQL stand-ins made here when they cannot be pulled).
image-test: setup services-up
	$(VENV)/bin/pytest -q -s tests/container

clean: services-down
	rm -rf .wac $(VENV)
