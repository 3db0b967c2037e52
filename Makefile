# slack-dlp. The two documented commands: `make run` and `make test`. Both set up everything first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export CDK_DISABLE_CLI_TELEMETRY := true
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup run test test-unit test-integration test-infra test-e2e test-quality lint typecheck synth bench-engine bench-export bench bench-files chaos bench-coldstart clean

# node_modules first: the Lambda dependencies prebuilt with the venv are compiled to byte code by Pyodide (npm)
setup: node_modules/.setup-done $(VENV)/.setup-done

$(VENV)/.setup-done: requirements.txt $(wildcard functions/requirements/*.txt) pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(PY) -m infra.bundling
	touch $@

node_modules/.setup-done: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## run: deploy the real stack into MiniStack with a Slack stand-in, replay samples, serve until Ctrl-C
run: setup
	$(VENV)/bin/slack-dlp local

## test: lint, type-check and every test tier (unit, integration, infra, e2e)
test: setup lint typecheck
	$(PY) -m pytest tests

test-unit: setup
	$(PY) -m pytest tests/unit
test-integration: setup
	$(PY) -m pytest tests/integration
test-infra: setup
	$(PY) -m pytest tests/infra
test-e2e: setup
	$(PY) -m pytest tests/e2e
test-quality: setup
	$(PY) -m pytest tests/quality -s

## bench: 10,000 messages through 10 inspector processes against the rate-limited DLP emulator
bench: setup
	$(VENV)/bin/slack-dlp bench --items 10000 --workers 10

## bench-engine: detection throughput and latency, compared with detect-secrets in the same run
bench-engine: setup
	$(PY) -m slack_dlp_tools.bench_engine

## bench-export: slack-dlp scan-export on a generated 300,000-message export, MB/s of text per core
bench-export: setup
	$(PY) -m slack_dlp_tools.bench_export

## bench-files: time and peak memory of the fetcher and `slack-dlp scan` on bombs and heavy files
bench-files: setup
	$(PY) -m slack_dlp_tools.bench_files

## chaos: the fault matrix (DLP, Slack, DynamoDB faults, poison records) with lost/duplicated counts
chaos: setup
	$(PY) -m slack_dlp_tools.chaos

## bench-coldstart: per function, the cold import from its asset and the first request in the local stack
bench-coldstart: setup
	$(PY) -m slack_dlp_tools.bench_coldstart

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

## synth: write cdk.out/ (offline, no AWS credentials), then lint the template
synth: setup
	$(CDK) synth --quiet --no-notices
	$(VENV)/bin/cfn-lint --ignore-checks W3005 -- cdk.out/*.template.json

clean:
	rm -rf cdk.out .local .pytest_cache .mypy_cache .ruff_cache
