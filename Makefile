# One Window: the two commands are `make run` and `make test`.
#
# Needs Python 3.11, make, Java 17+ and Maven: `install` creates .tools/ (a venv with a pinned
# uv from PyPI), syncs the workspace into .venv from uv.lock and copies the embedded broker's
# jars (Apache Kafka, pinned in tools/kafka/pom.xml) from Maven Central into .tools/kafka/lib.
# Everything else runs in .venv.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

UV_VERSION := 0.13.9
# Python 3.11 as the project requires; python3 when no python3.11 is on PATH.
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell command -v python3.11 >/dev/null 2>&1 && echo python3.11 || echo python3)
endif

TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_STAMP := $(TOOLS)/.uv-$(UV_VERSION)
VENV := .venv
SYNC_STAMP := $(VENV)/.synced
KAFKA_POM := tools/kafka/pom.xml
KAFKA_LIB := $(TOOLS)/kafka/lib
KAFKA_STAMP := $(TOOLS)/kafka/.fetched
# DEVSTACK_BROKER=tansu (opt-in, memory only; docs/decisions.md 13) needs no Java and no jars.
BROKER_STAMP := $(if $(filter tansu,$(DEVSTACK_BROKER)),,$(KAFKA_STAMP))
PYPROJECTS := pyproject.toml $(wildcard contracts/pyproject.toml libs/*/pyproject.toml services/*/pyproject.toml tools/*/pyproject.toml)

# Never fetch a Python build: use the machine's interpreter.
export UV_PYTHON_DOWNLOADS := never
# Byte-compile at install: services then start without compiling ~1,200 modules each time.
export UV_COMPILE_BYTECODE := 1
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
# `uv run` inside a foreign activated venv would warn and ignore it; be explicit.
unexport VIRTUAL_ENV

# `install` has synced .venv exactly from uv.lock; `uv run` only runs in it.
RUN := $(UV) run --frozen --no-sync
PYTEST_ARGS ?=
N ?= 50
SIMULATE ?= 0

.PHONY: help install run stop status logs test test-unit test-component test-integration test-contract \
        test-e2e test-browser chromium test-faults bench bench-smoke lint generate new-service images schemas asyncapi openapi docs clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-17s %s\n", $$1, $$2}'

# ---------------------------------------------------------------------------------- install
$(UV_STAMP):
	@echo "==> creating $(TOOLS)/ with uv $(UV_VERSION) (Python: $(PYTHON))"
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11" >&2; exit 1; }
	rm -rf $(TOOLS)
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	touch $@

$(SYNC_STAMP): $(UV_STAMP) uv.lock $(PYPROJECTS)
	@echo "==> syncing $(VENV)/ from uv.lock"
	$(UV) sync --frozen --all-packages --python $(PYTHON)
	touch $@

# The embedded broker: Apache Kafka's jars (no build, only dependency:copy-dependencies).
# Order-only on UV_STAMP: that rule wipes .tools/, so it must run first.
$(KAFKA_STAMP): $(KAFKA_POM) | $(UV_STAMP)
	@v=$$( (java -version 2>&1 || true) | sed -n 's/.*version "\([0-9][0-9]*\).*/\1/p' | head -1); \
	 if [ -z "$$v" ] || [ "$$v" -lt 17 ]; then \
	   echo "error: the embedded broker (Apache Kafka 4) needs Java 17 or newer;" \
	        "found: $$( (command -v java >/dev/null && java -version 2>&1 | head -1) || echo 'no java on PATH')." \
	        "Install a JDK/JRE 17+ (e.g. apt-get install openjdk-17-jre-headless) or set PATH." >&2; exit 1; fi
	@command -v mvn >/dev/null || { echo "error: fetching the embedded broker's jars needs Maven 3 (mvn) and" \
	   "Java 17; install Maven (e.g. apt-get install maven)." >&2; exit 1; }
	@echo "==> fetching Apache Kafka jars from Maven Central into $(KAFKA_LIB)/ ($(KAFKA_POM))"
	rm -rf $(KAFKA_LIB)
	mvn -q -B -f $(KAFKA_POM) dependency:copy-dependencies -DoutputDirectory=$(CURDIR)/$(KAFKA_LIB)
	touch $@

# The console's browser assets: pinned npm tarballs, integrity-checked (services/console/src/console/assets.toml).
CONSOLE_ASSETS := services/console/src/console/assets.toml
CONSOLE_STAMP := services/console/src/console/static/vendor/.fetched
$(CONSOLE_STAMP): $(CONSOLE_ASSETS) | $(SYNC_STAMP)
	@echo "==> fetching the console's browser assets (npm registry, pinned, integrity-checked)"
	$(VENV)/bin/python -m console.assets
	touch $@

install: $(SYNC_STAMP) $(BROKER_STAMP) $(CONSOLE_STAMP) ## install uv, the workspace (.venv/) and the broker's jars (cheap when up to date)
	@:

# ---------------------------------------------------------------------------------- platform
run: install ## start broker, database and every service in the background (SIMULATE=1: demo departments answer)
	DEVSTACK_SIMULATE_DEPARTMENTS=$(SIMULATE) $(RUN) python -m devstack up

stop: ## stop everything `make run` started
	@if [ -x $(VENV)/bin/python ]; then $(VENV)/bin/python -m devstack down; \
	 else echo "nothing to stop (no $(VENV))"; fi

status: install ## readiness of each process and service
	@$(RUN) python -m devstack status

logs: install ## the platform log (make logs ARGS="-f <service>")
	@$(RUN) python -m devstack logs $(ARGS)

# ---------------------------------------------------------------------------------- tests
# The fixtures start the broker and the database themselves (or use KAFKA_BOOTSTRAP_SERVERS /
# MONGODB_URI when both are set); nothing needs to run beforehand.
# The browser tests drive Debian's Chromium through Playwright's executable_path (Playwright's
# own browser download is not reachable here): installed once, with apt, when missing.
chromium: ## Debian's chromium and a CJK font for the browser tests (apt-get, once; needs root or sudo)
	@if command -v chromium >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q .; then :; else \
	  echo "==> installing Debian's chromium and fonts-noto-cjk for the browser tests"; \
	  sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null; \
	  command -v chromium >/dev/null || { echo "error: chromium could not be installed" >&2; exit 1; }; fi

test: install chromium ## the whole suite, every tier
	$(RUN) pytest tests $(PYTEST_ARGS)

test-unit: install ## unit tier
	$(RUN) pytest tests/unit $(PYTEST_ARGS)

test-component: install ## component tier
	$(RUN) pytest tests/component $(PYTEST_ARGS)

test-integration: install ## integration tier
	$(RUN) pytest tests/integration $(PYTEST_ARGS)

test-contract: install ## contract tier
	$(RUN) pytest tests/contract $(PYTEST_ARGS)

test-e2e: install ## e2e tier (services as processes)
	$(RUN) pytest tests/e2e $(PYTEST_ARGS)

test-browser: install chromium ## browser tier: the console in Chromium over the platform (writes docs/console/*.png)
	$(RUN) pytest tests/browser $(PYTEST_ARGS)

test-faults: install ## fault tier (the whole platform as processes, crashed and fed poison; writes docs/faults.md)
	$(RUN) pytest tests/faults $(PYTEST_ARGS)

bench: install ## benchmark on the embedded stack (make bench N=200); appends to docs/benchmarks.md
	$(RUN) python bench/run.py -n $(N)

bench-smoke: install ## the whole benchmark at tiny sizes (CI runs it so it keeps working; ~1 min)
	$(RUN) python bench/run.py --smoke --no-markdown

# ---------------------------------------------------------------------------------- checks
lint: install ## ruff, generated files current, import-linter contracts (.importlinter), mypy on every package
	@rc=0; \
	 echo "==> ruff check";   $(RUN) ruff check . || rc=1; \
	 echo "==> generated";    $(RUN) python -m devstack generate --check || rc=1; \
	 echo "==> lint-imports"; $(RUN) lint-imports --no-cache || rc=1; \
	 echo "==> mypy";         $(RUN) mypy libs/servicekit/src contracts/src tools/devstack/src $(wildcard services/*/src) || rc=1; \
	 exit $$rc

# ---------------------------------------------------------------------------------- services
# services/services.toml is the one list of services; these targets read it or write from it.
generate: install ## rewrite the files generated from services/services.toml (.importlinter, deploy/kubernetes)
	$(RUN) python -m devstack generate

new-service: install ## a new service: make new-service NAME=x PORT=8006 TITLE="..." SUMMARY="..."
	@test -n "$(NAME)" || { echo 'usage: make new-service NAME=x PORT=8006 TITLE="..." SUMMARY="..."' >&2; exit 2; }
	$(RUN) python -m devstack new-service "$(NAME)" --port "$(PORT)" --title "$(TITLE)" --summary "$(SUMMARY)"
	$(UV) lock
	$(MAKE) install

images: install ## docker build one image per service from deploy/Dockerfile (make images ARGS=--dry-run)
	$(RUN) python -m devstack images $(ARGS)

schemas: install ## rewrite the committed JSON-Schema snapshots of the events
	$(RUN) python -m contracts.schemas write

asyncapi: install ## regenerate docs/asyncapi.json and deploy/kafka/acls.sh (both from the topic registry)
	$(RUN) python -m contracts.asyncapi -o docs/asyncapi.json
	$(RUN) python -m contracts.acls > deploy/kafka/acls.sh

openapi: install ## regenerate docs/openapi/<service>.json from the code
	$(RUN) python -m devstack.openapi

docs: schemas asyncapi openapi ## every generated document

# ---------------------------------------------------------------------------------- clean
clean: stop ## stop the platform; remove var/, .venv/, .tools/ and caches
	rm -rf var $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
