# govreg: `make run` serves the embedded default with demo data; `make test` runs the suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test browser lint format bench schemathesis clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	DEBUG=true $(BIN)/python manage.py migrate --noinput
	DEBUG=true $(BIN)/python manage.py seed_demo
	@echo "govreg is serving on http://$(HOST):$(PORT)/ (admin at /admin/, API docs at /api/docs/)"
	DEBUG=true $(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The board UI's browser tests drive Debian's Chromium; install it when we can.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium not found and cannot be installed here: browser tests will be skipped"; \
	  fi; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=true $(BIN)/python manage.py check
	DEBUG=true $(BIN)/python manage.py makemigrations --check --dry-run
	DEBUG=false SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))') \
	  GOVREG_AUDIT_SIGNING_KEY=$$($(BIN)/python -c 'import base64, secrets; print(base64.b64encode(secrets.token_bytes(32)).decode())') \
	  ALLOWED_HOSTS=govreg.example.com $(BIN)/python manage.py check --deploy --fail-level WARNING

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	@for script in $(filter-out bench/harness.py,$(wildcard bench/*.py)); do \
	  echo "== $$script"; $(BIN)/python $$script || exit 1; \
	done

# schemathesis over the whole OpenAPI document, longer than the suite's bounded run: every
# operation as admin, pipeline and outsider, with the coverage phase and more fuzzed examples.
SCHEMATHESIS_EXAMPLES ?= 25
schemathesis: install
	GOVREG_SCHEMATHESIS_EXAMPLES=$(SCHEMATHESIS_EXAMPLES) GOVREG_SCHEMATHESIS_COVERAGE=true \
	  $(BIN)/python -m pytest -p no:cacheprovider tests/faults/test_schemathesis.py $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .venv-mlflow govreg.sqlite3 staticfiles
