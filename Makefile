# Set-up and the two commands the README starts with. Everything installs into .venv from
# the package registry, with the exact versions in pins.txt.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup system demo test test-all weekly bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml pins.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c pins.txt -e ".[mediapipe,dev,postgres,cluster,voice]"
	$(BIN)/pip install -q -c pins.txt --no-deps mediapipe resemblyzer  # resemblyzer: only the test that lipauth's GE2E matches it
	touch $(STAMP)

# What the database and browser tests need from the system: Debian's PostgreSQL server and
# Chromium with its driver. Installed where apt-get and root are at hand; elsewhere those tests
# skip and say why.
SYSTEM_PACKAGES := postgresql chromium chromium-driver
system:
	@if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "installing $(SYSTEM_PACKAGES) for the database and browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null) \
		|| echo "could not install $(SYSTEM_PACKAGES): their tests will skip"; \
	else echo "no root apt-get: the PostgreSQL and browser tests skip unless $(SYSTEM_PACKAGES) are installed"; fi

demo: setup
	$(BIN)/lipauth demo

# The fast suite (a few minutes on 2 cores): everything but the tests marked slow, which
# train networks or run the end-to-end stories; `make test-all` runs those too.
test: setup system
	$(BIN)/python -m pytest -m "not slow"

test-all: setup system
	$(BIN)/python -m pytest

# What a weekly job runs: every test, then the speed benchmarks beside their baselines.
weekly: test-all
	$(BIN)/python benchmarks/preprocess_speed.py
	$(BIN)/python benchmarks/verify_latency.py

bench: setup
	$(BIN)/python benchmarks/preprocess_speed.py

clean:
	rm -rf $(VENV) runs
