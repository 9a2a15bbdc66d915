# The two commands the README promises: `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONHASHSEED := 0

.PHONY: install demo study test bench clean

$(STAMP): pyproject.toml requirements-nodeps.txt
	@command -v $(PY) >/dev/null || { echo "error: $(PY) not found; install Python 3.11 or run make PY=/path/to/python3.11"; exit 1; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, exactly pinned, so nothing later pulls a CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	# aisfx pins numpy==1.23/librosa==0.9.2, which cannot resolve: install without deps.
	$(BIN)/pip install --quiet --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/benchbox run protocols/quickstart.toml --out results/quickstart

# The seed study on the shipped real footsteps (hours on 2 CPU cores; resumable: re-run to continue).
study: $(STAMP)
	$(BIN)/benchbox run protocols/footsteps-seed-cpu.toml --out results/footsteps-seed-cpu

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache
