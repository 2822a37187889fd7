# Two commands for a fresh machine:
#   make demo   the whole product on embedded defaults (Anvil + IPFS + brownie + daemon)
#   make test   every test: contracts, renderer, end to end
# Both install what they need first (`make setup`): a Python 3.11 venv in .venv
# from requirements.lock, the npm packages in node_modules (Anvil, solc-js,
# OpenZeppelin, js-ipfs, playwright-core), and the solc shim brownie uses as its
# compiler. `make test` also needs Debian's chromium for the gallery's browser test.

PYTHON ?= python3.11
VENV := .venv
SOLC_VERSION := 0.8.30
# The compiler shim lives in the checkout (py-solc-x honours SOLCX_BINARY_PATH), so clones
# never share or overwrite one under ~/.solcx.
SOLC_DIR := $(CURDIR)/.solc
SOLC_SHIM := $(SOLC_DIR)/solc-v$(SOLC_VERSION)
export SOLCX_BINARY_PATH := $(SOLC_DIR)
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup demo test gas abi clean browser slither

setup: $(VENV)/.installed node_modules/.installed solc-shim

$(VENV)/.installed: pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# py-solc-x and brownie look for $SOLCX_BINARY_PATH/solc-v<version>: a shim running solc-js from
# this checkout. The venv's activate script exports the variable too, so a bare `brownie compile`
# (or `pytest`) after `. .venv/bin/activate` finds it; the tests and `chaos deploy` set it themselves.
.PHONY: solc-shim
solc-shim: node_modules/.installed $(VENV)/.installed
	@mkdir -p "$(SOLC_DIR)"
	@printf '#!/bin/sh\nexec node "%s/tools/solc-shim.js" "$$@"\n' "$(CURDIR)" > "$(SOLC_SHIM).new"
	@chmod +x "$(SOLC_SHIM).new" && mv "$(SOLC_SHIM).new" "$(SOLC_SHIM)"
	@grep -q SOLCX_BINARY_PATH "$(VENV)/bin/activate" || \
	  printf '\n# Chaos Canvas: the solc-js shim of this checkout\nexport SOLCX_BINARY_PATH="%s"\n' "$(SOLC_DIR)" >> "$(VENV)/bin/activate"

demo: setup
	$(VENV)/bin/chaos demo

# The gallery test drives Debian's Chromium through playwright-core (no browser download).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "the gallery test needs Chromium: sudo apt-get install chromium"; exit 1; fi; }

test: setup browser slither
	$(VENV)/bin/python -m pytest -p no:cacheprovider

# Slither 0.11.6 over contracts/, in its own venv (its dependency pins do not fit brownie's), through
# the solc-js shim with --solc-standard-json; every finding is fixed or triaged with its reason in
# contracts/slither-triage.json, and an untriaged one fails the run.
SLITHER_VENV := .venv-slither
$(SLITHER_VENV)/.installed:
	$(PYTHON) -m venv $(SLITHER_VENV)
	$(SLITHER_VENV)/bin/python -m pip install --quiet --disable-pip-version-check slither-analyzer==0.11.6
	touch $@

slither: setup $(SLITHER_VENV)/.installed
	$(SLITHER_VENV)/bin/python tools/slither_check.py

# Gas of the canvas and the colour pools beside a Uniswap v2 swap (brownie's scripts/gas*.py).
gas: setup
	$(VENV)/bin/chaos bench gas

# Refresh the ABIs the renderer ships (a test fails when they drift from the contracts).
abi: setup
	$(VENV)/bin/brownie compile
	$(VENV)/bin/python -c "import json; [json.dump(json.load(open(f'build/contracts/{n}.json'))['abi'], open(f'renderer/abi/{n}.json', 'w'), indent=1, sort_keys=True) for n in ('ChaosCanvas', 'ColourPools')]"

clean:
	rm -rf build out reports .pytest_cache
