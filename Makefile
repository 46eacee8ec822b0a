# agent-runner developer tasks. `make test` is the one command that passes all tests on a fresh
# machine; CI (.ci/run) runs `make lint` and `make test`.

CARGO ?= cargo
# Tools the tests need (the OpenSpec CLI) are installed here, never globally.
TOOLS_DIR := $(CURDIR)/.tools
OPENSPEC_VERSION := 1.13.2
export PATH := $(TOOLS_DIR)/node_modules/.bin:$(PATH)

.PHONY: build test lint bench ci demo tools schema screenshots

build:
	$(CARGO) build --release

tools: $(TOOLS_DIR)/node_modules/.bin/openspec

$(TOOLS_DIR)/node_modules/.bin/openspec:
	mkdir -p $(TOOLS_DIR)
	npm install --silent --no-audit --no-fund --prefix $(TOOLS_DIR) @fission-ai/openspec@$(OPENSPEC_VERSION)

test: tools
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --no-fail-fast; \
	else \
		$(CARGO) test --no-fail-fast; \
	fi

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

bench:
	$(CARGO) bench

# Regenerates the committed JSON Schema (a test fails when it is stale).
schema:
	$(CARGO) run -q -- schema > schema/workflow.schema.json

# Retakes the run-view screenshots in docs/images/ (the browser tests take them).
screenshots:
	UPDATE_SCREENSHOTS=1 $(CARGO) nextest run -E 'test(/^ui_view::/)'

demo:
	$(CARGO) run --release -- demo

ci: lint test
