# The two commands of the README. Both create .venv and install requirements.txt on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .  # so notebooks and kernels import autonomic_lib from any folder
	touch $(STAMP)

demo: $(STAMP)  ## run the whole demo on the sandbox and write reports/
	$(PY) -m autonomic_lib demo --out reports

CHROMIUM := /usr/bin/chromium
$(CHROMIUM):  # the browser test drives Debian's chromium: installed here when missing, if we may (root + apt)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	else echo "note: no $(CHROMIUM) and no root apt-get: the browser test will be skipped (apt-get install chromium)"; fi

test: $(STAMP) $(CHROMIUM)  ## run the test suite
	$(PY) -m pytest

bench: $(STAMP)  ## print the benchmarks (never part of the tests)
	$(PY) bench/ingest_query.py
	$(PY) bench/swarm.py
	$(PY) bench/monitors.py
	$(PY) bench/demo.py
	$(PY) bench/series_catalogue.py
	$(PY) bench/dogstatsd.py

clean:
	rm -rf $(VENV) reports .sandbox .pytest_cache
