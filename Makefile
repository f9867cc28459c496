# The two commands of the README: `make run` and `make test`. Each sets everything up first.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
# Debian's Python: its venv sees python3-uno, LibreOffice's Python bridge.
SYSTEM_PYTHON ?= /usr/bin/python3

.PHONY: setup system venv test-tools vendor run demo test test-unit bench bench-peers clean

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

# Optional, not part of `make test`: Carbone (npm registry) and unoserver (PyPI) installed in a folder of
# their own, never in the project's dependencies; a peer that cannot be installed or run is reported as such.
PEERS ?= out/peers
bench-peers: setup $(PEERS)/.installed
	$(BIN)/python benchmarks/bench_peers.py --peers $(PEERS)

$(PEERS)/.installed:
	mkdir -p $(PEERS)
	echo '{"name": "parcours-bench-peers", "private": true}' > $(PEERS)/package.json
	npm install --prefix $(PEERS) --no-audit --no-fund --loglevel=error carbone@3.8.2 \
		|| echo "Carbone could not be installed from the npm registry: the benchmark runs without it"
	$(SYSTEM_PYTHON) -m venv --system-site-packages $(PEERS)/venv
	$(PEERS)/venv/bin/pip install --quiet --disable-pip-version-check unoserver==3.7 \
		|| echo "unoserver could not be installed from PyPI: the benchmark runs without it"
	touch $@

clean:
	rm -rf $(VENV) out build *.egg-info tests/oidc/node_modules node_modules
