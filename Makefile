# Two commands on a fresh clone:  `make fit` trains the bigram, `make test` runs the test suite.
# Both create .venv first. TORCH picks the PyTorch build: the default is the version the
# project is tested with; on a GPU machine `make fit TORCH=torch` takes pip's CUDA build.
VENV   ?= .venv
PYTHON ?= python3
TORCH  ?= torch==2.13.0
BIN     = $(VENV)/bin

.PHONY: setup fit test lint bench clean

$(BIN)/makemore-pl: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

setup: $(BIN)/makemore-pl

fit: setup
	$(BIN)/makemore-pl fit --config configs/bigram.yaml

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

clean:
	rm -rf lightning_logs .pytest_cache
