# The two commands a fresh machine needs: `make run` (the service) and `make test` (the suite).
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: run test lint chart-check contracts install broker browser stop-broker stop unit integration chaos bench clean

install: $(VENV)/.installed

## The service with its test extra, and the simulated NPO (its own distribution, in sandbox/).
$(VENV)/.installed: pyproject.toml sandbox/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]' -e ./sandbox
	touch $@

broker:
	scripts/kafka.sh start

## Debian's chromium, for the /ops page's browser test (tests/integration/test_ops_page.py, which
## is skipped without it). Needs root and Debian's package archive; elsewhere it only says so.
browser:
	@command -v chromium >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends chromium) >/dev/null \
		|| echo "make browser: chromium not installed; the /ops browser test will be skipped"

## Both brokers: the shared plaintext one and the SASL_SSL one the security test starts.
stop-broker:
	scripts/kafka.sh stop
	KAFKA_SECURE=1 scripts/kafka.sh stop

## Broker + simulated NPO + worker in the foreground; Ctrl-C stops the worker and the simulator.
run: install broker
	scripts/run-demo.sh

## Lint (ruff), formatting and types (mypy, strict), the Helm chart, then the whole suite: unit
## tests, integration tests against the real broker, then the chaos suite on its own. The 15
## slowest tests are listed at the end: CI has a time budget, and this is where it goes.
test: lint chart-check broker browser
	$(BIN)/pytest -q -p no:cacheprovider --durations=15 -m "not chaos" tests
	$(MAKE) chaos

## The chaos suite alone (tests/chaos, marker chaos: kills, a broker outage, NPO faults, each
## ending with the ledger), then docs/reliability.md from var/chaos/*.json, even when a
## scenario failed (the page shows which); the exit status is the suite's.
chaos: install broker
	rm -f var/chaos/*.json
	$(BIN)/pytest -q -p no:cacheprovider --durations=0 -m chaos tests/chaos; status=$$?; \
		$(BIN)/python -m tests.chaos.report; exit $$status

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## The Helm chart rendered with both values files and checked offline against the Kubernetes
## schemas (helm is built once per machine into ~/.cache/npo-integration/tools; scripts/chart-check.sh).
chart-check: install
	KUBERNETES_VALIDATE=$(BIN)/kubernetes-validate scripts/chart-check.sh

## docs/asyncapi.json (AsyncAPI 3.0, every topic) and docs/schemas/*.json from the pydantic models;
## tests/unit/test_contracts.py fails until they are regenerated after a model changes.
contracts: install
	$(BIN)/python -m npo_integration.contracts

unit: install
	$(BIN)/pytest -q -p no:cacheprovider tests/unit

integration: install broker browser
	$(BIN)/pytest -q -p no:cacheprovider -m "not chaos" tests/integration

## Every benchmark (about 40 minutes on 2 cores), then docs/performance.md, docs/deployment.md
## (sizing) and the sized block of deploy/helm/values-production.yaml from their figures.
bench: install broker
	rm -f var/bench/*.json
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/pull_sweep.py
	$(BIN)/python bench/enrolment.py
	$(BIN)/python bench/registry.py
	$(BIN)/python bench/scheduler.py
	$(BIN)/python bench/scaling.py
	$(BIN)/python bench/report.py
	$(BIN)/python bench/deployment_report.py

stop: stop-broker

clean: stop-broker
	rm -rf var .cache $(VENV)
