# Set-up and the two commands the README starts with. Everything installs into .venv from
# the package registry, with the exact versions in pins.txt.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-all weekly bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml pins.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c pins.txt -e ".[mediapipe,dev]"
	$(BIN)/pip install -q -c pins.txt --no-deps mediapipe
	touch $(STAMP)

demo: setup
	$(BIN)/lipauth demo

# The fast suite (a few minutes on 2 cores): everything but the tests marked slow, which
# train networks or run the end-to-end stories; `make test-all` runs those too.
test: setup
	$(BIN)/python -m pytest -m "not slow"

test-all: setup
	$(BIN)/python -m pytest

# What a weekly job runs: every test, then the speed benchmarks beside their baselines.
weekly: test-all
	$(BIN)/python benchmarks/preprocess_speed.py
	$(BIN)/python benchmarks/verify_latency.py

bench: setup
	$(BIN)/python benchmarks/preprocess_speed.py

clean:
	rm -rf $(VENV) runs
