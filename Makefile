# refeed: `make demo` and `make test` on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8080
# Unit tests of single modules, no crawl: the edit loop's suite (under a minute).
FAST_TESTS := tests/test_config.py tests/test_config_paths.py tests/test_canonical.py tests/test_feeds_topics.py \
	tests/test_feeds_build.py tests/test_minhash.py tests/test_extract_fields.py tests/test_extract_links.py \
	tests/test_extract_encoding.py tests/test_dedup.py tests/test_golden.py tests/test_structure.py

.PHONY: demo test test-fast lint venv clean

# setuptools 70.1 or later builds the editable install's wheel itself (a new venv's 65.5 would need "wheel").
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip "setuptools>=70.1"
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e . || $(PY) -m pip install --quiet --no-deps -e .
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(PY) scheduler.py demo --port $(PORT)

test: venv
	$(PY) -m pytest

test-fast: venv
	$(PY) -m pytest $(FAST_TESTS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) public data .pytest_cache
