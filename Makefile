# Developer entry points. Every target bootstraps the virtualenv it needs, so a fresh
# clone only needs `make test` (Python 3.11) or `make test-django6` (Python 3.12).
# A stamp file newer than pyproject.toml means "installed"; re-runs skip pip.

SHELL := /bin/bash

PYTHON ?= python3.11
# python3.12 may be a pyenv shim that is not enabled globally: fall back to pyenv's copy.
ifeq ($(origin PYTHON_DJ6),undefined)
PYTHON_DJ6 := $(shell for c in python3.12 $$(ls -d $$HOME/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | sort -V | tail -n 1); do \
	"$$c" -c 'import sys' >/dev/null 2>&1 && { echo "$$c"; break; }; done)
endif
VENV ?= .venv
VENV_DJ6 ?= .venv-dj6
DJANGO6 ?= Django>=6.1,<6.2
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: test test-django6 test-min lint demo venv venv-django6

venv: $(VENV)/.installed
venv-django6: $(VENV_DJ6)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

$(VENV_DJ6)/.installed: pyproject.toml
	@test -n "$(PYTHON_DJ6)" || { echo "make test-django6 needs python3.12 (set PYTHON_DJ6=/path/to/python3.12)" >&2; exit 1; }
	@test -x $(VENV_DJ6)/bin/python || $(PYTHON_DJ6) -m venv $(VENV_DJ6)
	$(VENV_DJ6)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' '$(DJANGO6)'
	@touch $@

test: $(VENV)/.installed
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test-django6: $(VENV_DJ6)/.installed
	$(VENV_DJ6)/bin/python -c 'import django; print("Django", django.get_version())'
	$(VENV_DJ6)/bin/pytest -m "not soak" $(PYTEST_ARGS)

# The other suites leave the soak (a system test of the same code, ~40 s) to `make test`.

# The oldest versions pyproject.toml accepts, so the lower bounds stay true.
VENV_MIN ?= .venv-min
MIN_PINS ?= Django==5.2.* redis[hiredis]==5.0.* django-redis==7.0.*

$(VENV_MIN)/.installed: pyproject.toml
	@test -x $(VENV_MIN)/bin/python || $(PYTHON) -m venv $(VENV_MIN)
	$(VENV_MIN)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' $(foreach pin,$(MIN_PINS),'$(pin)')
	@touch $@

test-min: $(VENV_MIN)/.installed
	$(VENV_MIN)/bin/python -c 'import django, redis; print("Django", django.get_version(), "redis-py", redis.__version__)'
	$(VENV_MIN)/bin/pytest -m "not soak" $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy pagecache templatetags_ext

demo: $(VENV)/.installed
	$(VENV)/bin/python -m demo_site.run --host $(HOST) --port $(PORT)

# Benchmarks (bench/, docs/benchmarks.md, docs/bench.png). They need the bench extra and wrk;
# bench.run installs wrk with apt-get when it is missing.
.PHONY: bench bench-quick bench-outage bench-compare

$(VENV)/.installed-bench: pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	@touch $@

bench: $(VENV)/.installed-bench
	$(VENV)/bin/python -m bench.run

bench-quick: $(VENV)/.installed-bench
	$(VENV)/bin/python -m bench.run --quick

# Hit throughput of this checkout against an older commit, alternating on one machine:
# make bench-compare REV=<commit>  (writes docs/bench-compare.md)
bench-compare: $(VENV)/.installed-bench
	@test -n "$(REV)" || { echo "usage: make bench-compare REV=<commit>" >&2; exit 1; }
	$(VENV)/bin/python -m bench.compare $(REV)

bench-outage: $(VENV)/.installed
	$(VENV)/bin/python -m bench.outage

# The fault-injection soak (tests/soak/): a realistic site on two gunicorn servers, a private
# redis-server and a throwaway PostgreSQL database (127.0.0.1:5432), under load, one fault per
# phase; fails if any response shows content older than a completed purge.
.PHONY: soak

soak: $(VENV)/.installed
	$(VENV)/bin/python -m tests.soak.run --duration 180

# The argument (argument/, docs/argument.md, docs/argument.png): the demo site with no cache,
# Django's site cache, django-cacheops, django-cachalot and pagecache, under one workload of
# readers and a writer; counts responses older than a completed write. Needs the bench extra,
# PostgreSQL on 127.0.0.1:5432 (a throwaway database) and starts its own redis-server.
# Options go in ARGUMENT_ARGS, e.g. make argument ARGUMENT_ARGS="--log-dir /tmp/argument".
.PHONY: argument
ARGUMENT_ARGS ?=

argument: $(VENV)/.installed-bench
	$(VENV)/bin/python -m argument.run $(ARGUMENT_ARGS)
