# Two commands on a fresh clone:  `make fit` trains the bigram, `make test` runs the test suite.
# Both create .venv first. TORCH picks the PyTorch build: the default is the version the
# project is tested with; on a GPU machine `make fit TORCH=torch` takes pip's CUDA build.
VENV   ?= .venv
PYTHON ?= python3
TORCH  ?= torch==2.13.0
BIN     = $(VENV)/bin

.PHONY: setup fit test bench lecture series clean

$(BIN)/makemore-pl: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[test,data,tune,export,serve]"
	touch $@

setup: $(BIN)/makemore-pl

fit: setup
	$(BIN)/makemore-pl fit --config configs/bigram.yaml

# The Debian packages the tests need (a browser, PostgreSQL, word lists) are installed first where
# they are missing; without root or apt-get, scripts/system_packages.sh prints the command to run.
# The suite in JOBS processes (pytest-xdist), each test file whole in one of them so that its shared
# checkpoints are trained once; the tests are mostly start-up and small fits, which two cores overlap.
# The longest files go first, in the order tests/conftest.py gives them (not xdist's, which puts files of
# few tests, such as the multi-process ones, last). One torch thread a process: the JOBS processes fill
# the cores already, and a thread that waits for a core another process holds spins on it.
JOBS ?= 2
test: setup
	scripts/system_packages.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n $(JOBS) --dist loadfile --no-loadscope-reorder

# The speed figures of BENCHMARKS.md (about 15 minutes, 5 for benchmarks/score.py and 11 for the running text's,
# beside nanoGPT where NANOGPT_DIR names a clone); `make bench QUICK=--quick` takes 2 to 4 minutes.
bench: setup
	$(BIN)/python benchmarks/bench.py $(QUICK)
	$(BIN)/python benchmarks/score.py $(QUICK)
	$(BIN)/python benchmarks/text.py $(QUICK)

clean:
	rm -rf lightning_logs .pytest_cache

# The README's "The lecture, reproduced" table: E03's tuning for counting and neural, k = 1, 2, 3.
ALPHAS ?= [0, 0.01, 0.03, 0.1, 0.3, 1, 3]
L2S    ?= [0, 0.0003, 0.001, 0.003, 0.01]
lecture: setup
	$(BIN)/makemore-pl fit --config configs/lecture_counts.yaml
	$(BIN)/makemore-pl fit --config configs/lecture.yaml
	set -e; for k in 1 2 3; do \
	  $(BIN)/makemore-pl tune --config configs/counts.yaml --data.context $$k --trainer.logger.init_args.name counts_k$$k \
	    --tune.option smoothing --tune.values "$(ALPHAS)" --trainer.enable_progress_bar false; \
	  $(BIN)/makemore-pl tune --config configs/bigram.yaml --data.context $$k --trainer.logger.init_args.name neural_k$$k \
	    --tune.option l2 --tune.values "$(L2S)" --trainer.enable_progress_bar false; \
	done

# The README's "The makemore series" table: every model of the series trained as shipped,
# tested and sampled from its best checkpoint; the table also lands in lightning_logs/series.md.
series: setup
	$(BIN)/python scripts/series.py
