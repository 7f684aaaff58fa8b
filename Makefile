# Two commands a new user needs (both create .venv on first use):
#   make run    start the app on http://127.0.0.1:7860
#   make test   run the whole test suite (installs Debian's chromium for browser tests when root)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TEST_ENV := HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False

.PHONY: run test venv browser clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

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

test: $(STAMP) browser
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache tests/artifacts .gradio
