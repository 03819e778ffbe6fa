# refeed: `make demo` and `make test` on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8080

.PHONY: demo test venv clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(PY) scheduler.py demo --port $(PORT)

test: venv
	$(PY) -m pytest

clean:
	rm -rf $(VENV) public data .pytest_cache
