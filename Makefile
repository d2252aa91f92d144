# The one source of the project's commands; the README and CI call these targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: help
help:
	@echo "make demo      install sfstream in $(VENV) and run it offline on the bundled sample"
	@echo "make test      install the test dependencies and run every test (Rust and Python)"
	@echo "make test-fast every test that does not need the vLLM environment"
	@echo "make bench     run the benchmarks (sfstream against its peers, as ratios)"
	@echo "make lint      ruff, mypy, rustfmt and clippy"
	@echo "make format    format Python and Rust code"

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

.PHONY: install
install: $(PY)
	$(PY) -m pip install -q '.[report]'

.PHONY: demo
demo: install
	$(VENV)/bin/sfstream run

.PHONY: install-dev
install-dev: $(PY)
	$(PY) -m pip install -q -e '.[dev]'

# The real vLLM server the integration tests start needs its own environment.
.PHONY: vllm-env
vllm-env:
	bash scripts/setup-vllm.sh

.PHONY: test-rust
test-rust:
	cargo test -p sfstream-core --quiet

.PHONY: test-python
test-python:
	$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: test
test: install-dev vllm-env test-rust test-python

# Everything that runs without the vLLM environment (no torch download, no server start).
.PHONY: test-fast
test-fast: install-dev test-rust
	$(PY) -m pytest -m "not vllm" $(PYTEST_ARGS)

.PHONY: bench
bench: install-dev vllm-env
	$(PY) -m pytest benches --benchmark-enable --benchmark-columns=min,mean,ops,rounds $(PYTEST_ARGS)

.PHONY: lint
lint: install-dev
	$(VENV)/bin/ruff check python tests benches scripts rust/src
	$(VENV)/bin/ruff format --check python tests benches scripts rust/src
	$(VENV)/bin/mypy
	$(PY) -m mypy.stubtest sfstream._core
	cargo fmt --all -- --check
	cargo clippy -p sfstream-core --all-targets -- -D warnings
	cargo clippy -p sfstream-core --all-targets --features python -- -D warnings

.PHONY: format
format: install-dev
	$(VENV)/bin/ruff format python tests benches scripts rust/src
	$(VENV)/bin/ruff check --fix python tests benches scripts rust/src
	cargo fmt --all
