# The two commands of the README: `make run` serves the demo, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run serve-prod test lint format clean-venv

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@bash scripts/bootstrap.sh "$(PYTHON)" "$(VENV)"
	@touch $@

run: $(VENV)/.installed
	$(PY) manage.py sogoms devsecrets
	$(PY) manage.py sogoms check
	$(PY) manage.py sogoms migrate
	@echo "SOGOMS on http://$(HOST):$(PORT)/  (demo tenant prokov: curl http://$(HOST):$(PORT)/api/auth/me)"
	$(VENV)/bin/uvicorn sogoms_site.asgi:application --host $(HOST) --port $(PORT)

# The production HTTP set-up of docs/operations.md on this checkout: granian's WSGI interface,
# WORKERS processes of THREADS blocking thread(s) each, keep-alive on; what the speed checks
# measure. The same command as `sogoms ctl` and deploy/systemd (sogoms_site/serving.py):
# 2 workers on the embedded SQLite, 4 on a database server (DATABASE_URL), as default_workers().
WORKERS ?= $(if $(DATABASE_URL)$(DATABASE_URL_FILE),4,2)
THREADS ?= 1
serve-prod: $(VENV)/.installed
	$(PY) manage.py sogoms devsecrets
	$(PY) manage.py sogoms check
	$(PY) manage.py sogoms migrate
	$(VENV)/bin/granian --interface wsgi --host $(HOST) --port $(PORT) --workers $(WORKERS) --blocking-threads $(THREADS) --respawn-failed-workers --workers-kill-timeout 30 --respawn-interval 15 sogoms_site.wsgi:application

test: $(VENV)/.installed
	$(VENV)/bin/pytest -n 2 $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean-venv:
	rm -rf $(VENV)
