# The two commands of the README. Both check the Python, create .venv and install the pinned requirements on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The version of $(PYTHON), and whether it is new enough; a .venv built by another Python is rebuilt.
PY_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
PY_OK := $(shell $(PYTHON) -c 'import sys; print(int(sys.version_info >= (3, 11)))' 2>/dev/null)

.PHONY: demo test bench lab clean python venv-python

python:  # first: a clear line instead of a failure deep in pip (and no half-made .venv)
	@if [ "$(PY_OK)" != "1" ]; then \
		echo "error: autonomic-kit needs Python >= 3.11; '$(PYTHON)' is $(or $(PY_VERSION),not found)." \
		     "Install Python 3.11 or newer and run e.g. 'make PYTHON=python3.11 test'." >&2; exit 1; fi

venv-python: python  # a .venv made by another Python (or left half-made) is removed, so it is rebuilt
	@if [ -d $(VENV) ] && ! $(PY) -c 'import sys; sys.exit(0 if "%d.%d" % sys.version_info[:2] == "$(PY_VERSION)" else 1)' \
		2>/dev/null; then echo "note: $(VENV) was made by another Python; rebuilding it with $(PYTHON) $(PY_VERSION)"; \
		rm -rf $(VENV); fi

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml | venv-python
	rm -f $(STAMP)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .  # so notebooks and kernels import autonomic_lib from any folder
	touch $(STAMP)

# Python caches compiled modules by default; an environment that turns that off (PYTHONDONTWRITEBYTECODE) makes every
# process of a run (the sandbox, each kernel, each pytest worker) compile the kit and rewrite the tests again.
# The caches go to the git-ignored __pycache__ folders.
CACHE_BYTECODE := PYTHONDONTWRITEBYTECODE=

demo: venv-python $(STAMP)  ## run the whole demo on the sandbox and write reports/
	$(CACHE_BYTECODE) $(PY) -m autonomic_lib demo --out reports

CHROMIUM := /usr/bin/chromium
$(CHROMIUM):  # the browser test drives Debian's chromium: installed here when missing, if we may (root + apt)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	else echo "note: no $(CHROMIUM) and no root apt-get: the browser test will be skipped (apt-get install chromium)"; fi

test: venv-python $(STAMP) $(CHROMIUM)  ## run the test suite, on every core
	$(CACHE_BYTECODE) $(PY) -m pytest -n auto --dist loadfile

bench: venv-python $(STAMP)  ## print the benchmarks (never part of the tests)
	$(PY) bench/ingest_query.py
	$(PY) bench/swarm.py
	$(PY) bench/monitors.py
	$(PY) bench/demo.py
	$(PY) bench/analysis.py
	$(PY) bench/series_catalogue.py
	$(PY) bench/responsiveness.py
	$(PY) bench/unreachable.py
	$(PY) bench/dogstatsd.py

lab: venv-python $(STAMP)  ## JupyterLab on the notebooks (as root too, where Jupyter needs --allow-root)
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,)

clean:
	rm -rf $(VENV) reports .sandbox .pytest_cache
