# 英德 after-sales service platform. The two commands: `make up` (the whole suite, locally) and
# `make test` (the whole test suite against real Kafka and a real MongoDB-compatible store).

SHELL := /bin/bash
STACK := deploy/local/stack.sh
UV := .local/tools/bin/uv
export UV_PYTHON_DOWNLOADS := never
# Docker engine answering -> containers; otherwise the native stack (this machine, CI).
DOCKER_OK := $(shell docker info >/dev/null 2>&1 && echo yes)
COMPOSE := docker compose -f deploy/compose.yaml

.PHONY: up down status logs test test-unit lint format screenshots bench bench-intake chaos contracts install help

help:
	@echo "make up        start Kafka, the store and every service; print the URLs"
	@echo "make down      stop all of it (data survives)"
	@echo "make test      run the whole test suite on real backends"
	@echo "make bench     the pipeline and intake against their baselines (not part of make test)"
	@echo "make chaos     faults one at a time under load, then reconcile: nothing lost"
	@echo "make screenshots refresh docs/screenshots/ from the console's browser tests"
	@echo "make format    format the code (make lint checks it)"
	@echo "make contracts regenerate docs/asyncapi.yaml and docs/schemas/ from the topic registry and the payload models"

up:
ifeq ($(DOCKER_OK)$(YINGDE_NATIVE),yes)
	$(COMPOSE) up -d --build --wait
	@$(COMPOSE) ps
	@echo "complaint form: http://127.0.0.1:$${INTAKE_PORT:-8001}/"
else
	@bash $(STACK) up all
endif

down:
ifeq ($(DOCKER_OK)$(YINGDE_NATIVE),yes)
	$(COMPOSE) down
else
	@bash $(STACK) down
endif

status:
	@bash $(STACK) status

logs:
	@bash $(STACK) logs $(or $(C),intake)

install:
	@bash $(STACK) install --browser

# Backends: KAFKA_BOOTSTRAP_SERVERS + MONGODB_URL when set, else testcontainers when Docker answers,
# else the native stack: reused when `make up` runs it, otherwise started for the session and stopped after.
test: install lint
	$(UV) run --locked pytest $(PYTEST_ARGS)

# Lint, then types: strict on the shared library and on every domain/ package (where the rules live).
lint:
	$(UV) run --locked ruff check shared services bench tests
	$(UV) run --locked ruff format --check shared services bench tests
	$(UV) run --locked mypy shared/src/shared $(wildcard services/*/src/*/domain)

format:
	$(UV) run --locked ruff format shared services bench tests
	$(UV) run --locked ruff check --fix shared services bench tests

# The console's browser tests keep their screenshots under .local/ unless asked for the README's.
screenshots: install
	UPDATE_SCREENSHOTS=1 $(UV) run --locked pytest -m browser services/console $(PYTEST_ARGS)

test-unit: install
	$(UV) run --locked pytest -m "not integration and not browser" $(PYTEST_ARGS)

bench: bench-intake
	$(UV) run --locked python -m bench.pipeline $(PIPELINE_ARGS)
	$(UV) run --locked python -m bench.reads $(READS_ARGS)

bench-intake:
	@bash $(STACK) install --bench
	@bash $(STACK) up infra >/dev/null
	$(UV) run --locked python bench/intake_bench.py $(BENCH_ARGS)

chaos: install
	$(UV) run --locked python -m bench.chaos $(CHAOS_ARGS)

contracts: install
	$(UV) run --locked python -m shared.contracts.asyncapi --write
	$(UV) run --locked python -m shared.contracts.schemas --write
