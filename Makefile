# kappa — the two commands a new user runs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.kappa-installed
YOSYS  := $(VENV)/.kappa-yosys

.PHONY: setup demo test test-fast lint bench clean

setup: $(STAMP) $(YOSYS)

# Yosys (the RTL backend's open synthesis) is a Debian package: installed with apt-get when we
# run as root, else named. The RTL tests skip their Yosys part only when it cannot be installed.
$(YOSYS):
	@if command -v yosys >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian's yosys (open synthesis for the RTL backend)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq yosys >/dev/null; \
	else \
	  echo "note: yosys not found and not installable here: install the Debian package 'yosys' (apt-get install yosys, as root) for the RTL backend's resource figures"; \
	fi
	@mkdir -p $(VENV) && if command -v yosys >/dev/null 2>&1; then touch $(YOSYS); fi

# Create the virtual environment (installing Debian's python3-venv first when the
# interpreter lacks ensurepip and we may use apt), then install kappa and its deps.
$(STAMP): pyproject.toml
	@if [ ! -x $(BIN)/python ]; then \
	  $(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	    rm -rf $(VENV); \
	    if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	      echo "python3 cannot create a venv: installing Debian's python3-venv"; \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null && \
	      $(PYTHON) -m venv $(VENV); \
	    else \
	      echo "error: '$(PYTHON) -m venv' failed; install python3-venv (apt-get install python3-venv) and rerun"; exit 1; \
	    fi; }; \
	fi
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP) $(YOSYS)
	$(BIN)/python scripts/build_hls.py --force

# Two pytest-xdist workers, one test file each at a time (module fixtures stay in one worker):
# the C simulation compiles and TensorFlow tests of different files run side by side.
test: $(STAMP) $(YOSYS)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/python -m ruff check .

test-fast: $(STAMP) $(YOSYS)
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_forward.py
	$(BIN)/python benchmarks/bench_train.py
	$(BIN)/python benchmarks/bench_csim.py
	$(BIN)/python benchmarks/bench_proof.py
	$(BIN)/python benchmarks/bench_rtl.py

clean:
	rm -rf $(VENV) .pytest_cache
