# The two commands of the quickstart: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.tunelog-installed

.PHONY: demo test lint typecheck bench sysdeps clean

$(STAMP): pyproject.toml constraints.txt
	@PYTHON=$(PYTHON) bash scripts/setup-venv.sh $(VENV)
	@touch $(STAMP)

sysdeps:
	@bash scripts/system-deps.sh

demo: $(STAMP)
	$(PY) -m tunelog demo

lint: $(STAMP)
	$(PY) -m ruff check src tests bench
	$(PY) -m ruff format --check src tests bench

typecheck: $(STAMP)
	$(PY) -m mypy

test: sysdeps $(STAMP) lint typecheck
	$(PY) -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .venv-* .mypy_cache .ruff_cache .pytest_cache
