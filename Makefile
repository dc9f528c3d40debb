# One command for each job on a fresh machine; every target does its own set-up.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test lint services bench bench-peers clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*; touch $@

## demo: create an embedded queue, fill it, run the example handler through it, show the summary
demo: $(STAMP)
	bash scripts/demo.sh

## test: start any missing local service, then run the whole test suite. First, alone, the tests that restart
## a broker (nothing else may meet the broker while it is down) or assert on timings they measure (speed-ups,
## fits: busy workers would skew them); this one process also writes the rewritten test modules' bytecode, which
## the workers then read (in a fresh clone eight workers rewrote them all at once: 13 s more CPU, 6 s of wall).
## Then the rest on eight workers (most tests wait on real time, brokers and subprocesses, so eight keep both
## cores busy), each taking the next unit of work as it runs low, the longest first (tests/support/scheduling.py;
## a worker that drew the slow end of xdist's own split ran on alone for half a minute).
## Bytecode is written even where PYTHONDONTWRITEBYTECODE is set: else each of the hundreds of `batchmap`
## and `python` processes the suite starts compiles the package again (~0.1 s each), and each worker
## rewrites every test module's asserts again (~3 s): about 60 s of CPU in all, a sixth of the suite's CPU.
test: $(STAMP) services
	PYTHONDONTWRITEBYTECODE= $(VENV)/bin/pytest -q -m "restarts_broker or measures_time"
	PYTHONDONTWRITEBYTECODE= $(VENV)/bin/pytest -q -n 8 -m "not restarts_broker and not measures_time"

## lint: ruff and mypy --strict, as CI runs them
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

services:
	bash scripts/services.sh

bench: $(STAMP) services
	for b in $(filter-out bench/%_peers.py,$(wildcard bench/*.py)); do $(PY) $$b; done

## bench-peers: install the bench extra, then compare the engine with its peers: the embedded queue against
## persist-queue, litequeue and huey; Redis Streams and NATS against FastStream and raw client loops
bench-peers: $(STAMP) services
	$(PY) -m pip install -q -e '.[dev,bench]'
	$(PY) bench/embedded_peers.py
	$(PY) bench/broker_peers.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .demo
