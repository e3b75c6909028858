# Set-up and the two commands the README starts with. Everything installs into .venv from
# the package registry, with the exact versions in pins.txt.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml pins.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c pins.txt -e ".[mediapipe,ml,dev]"
	$(BIN)/pip install -q -c pins.txt --no-deps mediapipe
	touch $(STAMP)

demo: setup
	$(BIN)/lipauth demo

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python benchmarks/preprocess_speed.py

clean:
	rm -rf $(VENV) runs
