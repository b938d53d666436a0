# One target per gate.  `make demo` and `make test` are the README's quick start.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CACHE := .cache
KERNEL_TREE := $(CACHE)/linux-6.12
SAMPLE_TREE := $(CACHE)/sample-tree
SYSTEM_PACKAGES := git gcc python3-venv public-inbox redis-server linux-source-6.12 chromium coccinelle openssl

.PHONY: all venv system-deps postgres kernel-tree sample-tree demo test test-fast lint bench docs screenshots clean

all: test

# python3-venv comes from system-deps: after it, even under `make -j`.
$(VENV)/.installed: pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

# Installs only what is missing, so a warm machine pays nothing.
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

# A PostgreSQL on 127.0.0.1:5432 (trust, database "test") for the storage and
# service tests: a no-op where one runs already.
postgres: system-deps  # both may run apt-get: never at once
	bash scripts/ensure-postgres

# The Linux 6.12 source from Debian, unpacked and committed to a scratch repo.
# Built with the venv's python: order-only, so `make -j test` cannot start it
# before the venv exists, and a venv update does not rebuild the tree.
kernel-tree: $(KERNEL_TREE)/.git/reviewbot-ready

$(KERNEL_TREE)/.git/reviewbot-ready: | $(VENV)/.installed
	$(PY) -m reviewbot.devtools.kernel_tree $(KERNEL_TREE)

sample-tree: venv
	$(PY) -m reviewbot.sample $(SAMPLE_TREE)

demo: venv sample-tree
	$(PY) -m reviewbot check --tree $(SAMPLE_TREE) --mbox sample/series/v2.mbox --format email --outbox $(CACHE)/demo-outbox; \
	  rc=$$?; [ $$rc -le 1 ] || exit $$rc
	$(PY) -m reviewbot check --tree $(SAMPLE_TREE) --mbox sample/series/v3.mbox --format text --outbox $(CACHE)/demo-outbox

test: system-deps postgres venv kernel-tree
	$(VENV)/bin/playwright --version >/dev/null
	$(PY) -m pytest -q

test-fast: venv
	$(PY) -m pytest -q -m "not slow and not kernel_tree and not browser and not services"

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: venv kernel-tree
	$(PY) -m benchmarks

docs: venv
	$(PY) -m checkers.docgen docs/checkers

# docs/screenshots/{index,series}.png: the dashboard over the sample series, in Debian's chromium.
screenshots: venv
	$(PY) -m tests.web.screenshots docs/screenshots

clean:
	rm -rf $(CACHE) outbox
