# lienthong — developer and operator entry points. `make help` lists them.

SHELL := /bin/bash
STACK := deploy/local/stack.sh
CARGO ?= cargo

# The local stack's endpoints, for the tests (override to test against another stack).
export LIENTHONG_TEST_BROKER ?= 127.0.0.1:$(or $(LIENTHONG_BROKER_PORT),19092)
export LIENTHONG_TEST_PG_URL ?= postgres://lienthong:lienthong@127.0.0.1:$(or $(LIENTHONG_PG_PORT),55432)/lienthong
export LIENTHONG_TEST_MARIADB_URL ?= mysql://lienthong:lienthong@127.0.0.1:$(or $(LIENTHONG_MARIADB_PORT),53306)/lienthong

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-10s %s\n", $$1, $$2}'

.PHONY: up
up: ## Start the local stack (broker, PostgreSQL, MariaDB); installs tansu if missing
	@$(STACK) up

.PHONY: down
down: ## Stop the local stack
	@$(STACK) down

.PHONY: status
status: ## Show what the local stack runs
	@$(STACK) status

.PHONY: demo
demo: ## The main job end to end on a fresh demo stack: sources → … → NDOP simulator, store, lookup, reports
	@deploy/local/demo.sh

.PHONY: build
build: ## Build every crate (debug)
	$(CARGO) build --workspace --all-targets

.PHONY: release
release: ## Build the lienthong binary (release)
	$(CARGO) build --release -p lienthong

.PHONY: test
test: lint ## Run every check: fmt + clippy, then (starting the local stack if needed) all tests
	@$(STACK) up
	$(CARGO) test --workspace --all-targets --no-fail-fast
	$(CARGO) test --workspace --doc

.PHONY: bench
bench: ## Run the benchmarks against the local stack and write BENCHMARKS.md
	@$(STACK) up
	$(CARGO) build --release -p lienthong -p lienthong-bench
	target/release/lienthong-bench --lienthong target/release/lienthong --out BENCHMARKS.md

.PHONY: lint
lint: ## cargo fmt --check and clippy with warnings denied
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

.PHONY: fmt
fmt: ## Format the code
	$(CARGO) fmt --all

.PHONY: schemas
schemas: ## Regenerate schemas/config.schema.json from the config types
	$(CARGO) run --quiet -p lienthong -- config schema > schemas/config.schema.json

.PHONY: clean-stack
clean-stack: down ## Stop the local stack and delete its data
	rm -rf .lienthong/stack
