# zerolib: the two commands a researcher needs are `make study` and `make test`.
# Both set up the virtual environment first when it is missing or out of date.

PYTHON   ?= python3.11
VENV     ?= .venv
PROFILE  ?= quick
TORCH    ?= torch==2.14.1 torchvision==0.29.1
PY       := $(VENV)/bin/python
PIP      := $(PY) -m pip
STAMP    := $(VENV)/.zerolib-installed

.PHONY: setup study report test test-browser lab clean-outputs dry-run dry-run-full

setup: $(STAMP)

# torch first, pinned, so the loose `torch` requirement of the package never pulls another build;
# torchattacks and the Adversarial Robustness Toolbox are test-only cross-checks (torchattacks pins
# an old `requests`; ART would pull its own numpy/scipy pins), hence --no-deps: both run on what
# the package already installs.
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e '.[dev,lab,cluster]'
	$(PIP) install --quiet --no-deps torchattacks==3.5.1 adversarial-robustness-toolbox==1.20.1
	touch $@

study: setup
	$(PY) -m zerolib.study run --profile $(PROFILE)

report: setup
	$(PY) -m zerolib.study report

# the package's layers first (the contracts in pyproject.toml), then the tests
test: setup
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q

# The paper-scale profiles' dry runs in the form CI affords: every iteration, epoch and seed
# count cut to one and every row count (test subsets too) capped at DRY_ROWS, the full
# architectures; each prints its notebooks' minutes and peak memory (needs ZEROLIB_DATA).
DRY_ROWS ?= 50
DRY_PROFILES ?= mnist fashion_mnist cifar10
dry-run: setup
	for p in $(DRY_PROFILES); do \
	  $(PY) -m zerolib.study run --profile $$p --dry-run --dry-rows $(DRY_ROWS) && \
	  $(PY) -m zerolib.study times --profile $$p --dry-run --dry-rows $(DRY_ROWS) || exit 1; \
	done

# The full-size dry runs: every count cut to one (a network's epoch to one optimizer step),
# the training and test data whole, the rows paper B's grids and the audit attack capped at
# DRY_ATTACK_ROWS; too long for CI (half an hour and more of a 2-core CPU per profile), run once
# per change of scale.
DRY_ATTACK_ROWS ?= 100
dry-run-full: setup
	for p in $(DRY_PROFILES); do \
	  $(PY) -m zerolib.study run --profile $$p --dry-run --dry-attack-rows $(DRY_ATTACK_ROWS) && \
	  $(PY) -m zerolib.study times --profile $$p --dry-run --dry-attack-rows $(DRY_ATTACK_ROWS) || exit 1; \
	done

# A real browser: Debian's chromium driven by playwright, against JupyterLab on loopback.
test-browser: setup
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	$(PIP) install --quiet -e '.[browser]'
	$(PY) -m pytest -q -m browser tests/test_browser.py

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

clean-outputs:
	rm -rf outputs/$(PROFILE)
