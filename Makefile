# agent-runner developer tasks. `make test` is the one command that passes all tests on a fresh
# machine; CI (.ci/run) runs `make lint` and `make test`.

CARGO ?= cargo
# Tools the tests need (the OpenSpec CLI) are installed here, never globally.
TOOLS_DIR := $(CURDIR)/.tools
OPENSPEC_VERSION := 1.13.2
export PATH := $(TOOLS_DIR)/node_modules/.bin:$(PATH)

# Fake agent CLIs (the tests' `fake-agent`, linked as claude, codex, ...) to try workflows
# without the real ones (docs/agent-clis.md, "Trying workflows without agent CLIs").
TARGET_DIR ?= $(CURDIR)/target
FAKE_CLIS := $(TARGET_DIR)/fake-clis
FAKE_CLI_NAMES := claude codex copilot cursor-agent opencode gemini
# The fakes keep their session files under their own home; runs are still recorded in the
# user's agent-runner state directory.
WITH_FAKE_CLIS = env AGENT_RUNNER_HOME="$${AGENT_RUNNER_HOME:-$$HOME/.agent-runner}" \
	HOME="$(FAKE_CLIS)/home" PATH="$(FAKE_CLIS)/bin:$$PATH"

.PHONY: build test lint bench ci demo tools browser sshd schema fake-clis try screenshots hot-functions

build:
	$(CARGO) build --release

# The link order of the functions the common commands run (link/README.md); needs valgrind.
hot-functions:
	link/record-hot-functions.sh

tools: $(TOOLS_DIR)/node_modules/.bin/openspec $(TOOLS_DIR)/py/bin/kubernetes-validate browser sshd

# The official Kubernetes JSON schemas, for the `k8s` manifest tests (PyPI's kubernetes-validate).
KUBERNETES_VALIDATE_VERSION := 1.37.0
$(TOOLS_DIR)/py/bin/kubernetes-validate:
	python3 -m venv $(TOOLS_DIR)/py
	$(TOOLS_DIR)/py/bin/pip install -q kubernetes-validate==$(KUBERNETES_VALIDATE_VERSION)

# The run-view tests drive Debian's headless Chromium through chromedriver: installed when
# missing (apt-get, with sudo when not root); elsewhere, install them yourself.
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium chromium-driver; \
	else \
		echo "make: install Chromium and chromedriver for the run-view tests (they are skipped without them)"; \
	fi

# The launcher tests start a throwaway sshd on 127.0.0.1 (Debian's openssh-server) and connect
# with the ssh client.
sshd:
	@if [ -x /usr/sbin/sshd ] && command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq openssh-server openssh-client; \
	else \
		echo "make: install OpenSSH's sshd and client for the launcher tests (they are skipped without them)"; \
	fi

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

# The demo with the fake claude on PATH, so that its agent step runs too, offline.
demo: build fake-clis
	$(WITH_FAKE_CLIS) $(TARGET_DIR)/release/agent-runner demo

# `make try ARGS="run my-workflow"`: agent-runner with the fake agent CLIs first on PATH.
try: build fake-clis
	$(WITH_FAKE_CLIS) $(TARGET_DIR)/release/agent-runner $(ARGS)

fake-clis:
	$(CARGO) build --release -p agent-runner-test-helpers --bin fake-agent
	mkdir -p $(FAKE_CLIS)/bin $(FAKE_CLIS)/home
	for cli in $(FAKE_CLI_NAMES); do ln -sf $(TARGET_DIR)/release/fake-agent $(FAKE_CLIS)/bin/$$cli; done

ci: lint test
