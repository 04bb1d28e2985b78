# Developer entry points. `make run` and `make test` work on a fresh machine: they build .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Re-install when pyproject.toml changes (new dependency, new entry point).
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: run test lint fmt venv system-deps bench bench-soak docs image-test clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
		echo "error: '$(PYTHON) -m venv' failed; on Debian/Ubuntu: apt-get install python3-venv" >&2; exit 1; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

## run: serve examples/demo.yaml (built-in echo models: no keys, no network) on http://127.0.0.1:12000
run: $(STAMP)
	$(BIN)/llmroute up examples/demo.yaml

## test: system packages the tests use, lint, format check, mypy on src/, the test suite
# pytest runs even when lint fails, so one run shows every problem; any failure fails the target.
# compileall first: CPython 3.11.7 can raise "AST constructor recursion depth mismatch" when two threads
# compile source at once (python/cpython#106905), and the in-process test gateways import lazily in
# their server threads; with bytecode already on disk nothing is compiled concurrently.
test: $(STAMP) system-deps
	@lint=0; \
	$(BIN)/ruff check . || lint=1; \
	$(BIN)/ruff format --check . || lint=1; \
	$(BIN)/mypy || lint=1; \
	$(BIN)/python -m compileall -q -j 0 src tests bench scripts >/dev/null || true; \
	$(BIN)/python -m pytest -ra $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests (check testpaths / PYTEST_ARGS)" >&2; fi; \
	if [ $$lint -ne 0 ]; then echo "error: ruff or mypy found problems (see above; 'make fmt' fixes most format ones)" >&2; fi; \
	if [ $$rc -ne 0 ]; then exit $$rc; fi; \
	exit $$lint

## bench: gateway overhead side by side (direct vs llmroute vs LiteLLM), docs/performance.md; BENCH_ARGS=--help
BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python bench/proxy_bench.py $(BENCH_ARGS)

## bench-soak: RSS of a gateway with the embedded model loaded over a 100k-request soak
bench-soak: $(STAMP)
	$(BIN)/python bench/proxy_bench.py --soak $(BENCH_ARGS)

## docs: regenerate docs/configuration.md from the pydantic schema (tests/test_config_reference.py checks it)
docs: $(STAMP)
	$(BIN)/python -m llmroute.config.reference > docs/configuration.md

## image-test: build the Dockerfile with podman on a locally made Debian base, run it, check /healthz and a
## decision (scripts/image-test.sh; installs podman, runc, mmdebstrap as root; base cached in ~/.cache)
image-test:
	@bash scripts/image-test.sh

system-deps:
	@bash scripts/system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist
