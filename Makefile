# seqrec developer entry points. `make demo` and `make test` create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# torch as the package index resolves it (the CPU build where the index offers one).
# GPU training: `make install-cuda` replaces it by a CUDA build and checks that torch sees CUDA.
TORCH_SPEC ?= torch==2.13.0
# Where install-cuda looks: PyPI's Linux wheel of torch is built with CUDA; for another
# CUDA version use PyTorch's index, e.g. TORCH_CUDA_INDEX=https://download.pytorch.org/whl/cu128
TORCH_CUDA_INDEX ?= https://pypi.org/simple
STAMP := $(VENV)/.seqrec-installed

.PHONY: install install-cuda demo test lint golden bench bench-quick bench-quality fuzz clean

$(STAMP): pyproject.toml runtime/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH_SPEC)
	$(PIP) install -q -e "./runtime[spark,ray]" -e ".[dev,distributed]"
	touch $(STAMP)

install: $(STAMP)

install-cuda: $(STAMP)
	$(PIP) install --force-reinstall --index-url $(TORCH_CUDA_INDEX) "torch==2.13.0,!=2.13.0+cpu"
	$(PY) -c "import torch; assert torch.version.cuda, 'torch ' + torch.__version__ + ' has no CUDA'; print('torch', torch.__version__, 'built with CUDA', torch.version.cuda, '- GPU visible:', torch.cuda.is_available())"

demo: $(STAMP)
	$(PY) -m seqrec_cli.demo --output demo_output

test: $(STAMP)
	$(PY) -m pytest -q tests

lint: $(STAMP)
	$(PY) -m ruff check trainer export runtime cli tests bench examples
	$(PY) -m mypy

golden: $(STAMP)
	$(PY) -m seqrec_export.golden tests/runtime/golden

bench: $(STAMP)
	$(PIP) install -q -e ".[bench]"
	$(PY) bench/run_all.py

bench-quick: $(STAMP)
	$(PIP) install -q -e ".[bench]"
	$(PY) bench/run_all.py --quick

# MovieLens-1M presets, then one row per dataset of ../shared/data (auto recipe beside
# popularity, item-item and transitions baselines; skips what is absent), then the table
# and figure.
bench-quality: $(STAMP)
	$(PY) bench/quality_ml1m.py
	$(PY) bench/quality.py --dataset ml-1m --baselines-only
	$(PY) bench/quality.py --dataset ml-1m-timestamps --recipe auto --set epochs=8
	$(PY) bench/quality.py --dataset ml-latest-small --recipe auto
	$(PY) bench/quality.py --dataset beauty --recipe auto
	$(PY) bench/quality_report.py

# Bounded fuzz pass over the runtime's input parsing (any non-SeqrecError exception fails).
fuzz: $(STAMP)
	$(PY) tests/hardening/fuzz_runtime.py --seconds 60

clean:
	rm -rf demo_output build dist .pytest_cache
