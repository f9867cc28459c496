# The two commands of the README: `make run` and `make test`. Each sets everything up first.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
# Debian's Python: its venv sees python3-uno, LibreOffice's Python bridge.
SYSTEM_PYTHON ?= /usr/bin/python3

.PHONY: setup system venv test-tools vendor run demo test test-unit bench clean

setup: system venv test-tools

system:
	bash scripts/install-system-packages.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(SYSTEM_PYTHON) -m venv --system-site-packages $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# The OpenID provider the single sign-on tests start (oidc-provider, from the npm registry, pinned by its lock).
# and axe-core, the accessibility checker the browser tests inject (package.json at the root, pinned by its lock).
test-tools: tests/oidc/node_modules/.installed node_modules/.installed

tests/oidc/node_modules/.installed: tests/oidc/package-lock.json
	npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error
	touch $@

node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The pages' htmx is committed in parcours/http/web/static/vendor/ (no npm, no CDN needed to run); after
# changing its version in package.json, copy it again from the npm package:
vendor:
	bash scripts/vendor-static.sh

run: setup
	$(BIN)/parcours serve --demo

demo: setup
	$(BIN)/parcours demo --out out/demo

test: setup
	$(BIN)/pytest

test-unit: venv
	$(BIN)/pytest tests/unit

bench: setup
	$(BIN)/python benchmarks/bench_batch.py

clean:
	rm -rf $(VENV) out build *.egg-info tests/oidc/node_modules node_modules
