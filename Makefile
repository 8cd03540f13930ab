# The two commands a newcomer needs: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DYNALITE_PORT ?= 8001

.PHONY: run test bench bench-smoke setup dynalite check-deploy clean chromium

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-bench.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

chromium:
	@command -v chromium >/dev/null 2>&1 || { echo "Installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  { echo "Could not install chromium (needs root and Debian's package registry)."; exit 1; }; }

## Serve the site on http://127.0.0.1:8000 with a persistent local dynalite. Ctrl-C stops both.
run: setup
	DYNALITE_PORT=$(DYNALITE_PORT) scripts/run.sh

## Run every test: unit (moto), integration (dynalite), browser (Chromium + gunicorn).
test: setup chromium
	scripts/test.sh

## Start only the local dynalite (persisted under var/dynalite) in the foreground.
dynalite: node_modules/.installed
	mkdir -p var/dynalite
	node_modules/.bin/dynalite --host 127.0.0.1 --port $(DYNALITE_PORT) --path var/dynalite

## The load benchmark: writes docs/benchmarks.md and .png in about 10 minutes on 2 cores, of which
## the big room's BatchWriteItem seeding is ~4 (dynalite takes ~4,000 items/s here). BIG_ROOM=200000
## makes a quicker run. bench-smoke: the ~10-second CI version (output in a temp dir).
BIG_ROOM ?= 1000000
bench: setup
	$(PY) -m bench --big-room $(BIG_ROOM)

bench-smoke: setup
	$(PY) -m bench --smoke

## Django's deployment checklist with production settings.
check-deploy: setup
	DJANGO_DEBUG=0 DJANGO_SECRET_KEY=check-deploy-$$(date +%s)-not-a-real-secret-but-long-enough-000000 \
	  DJANGO_ALLOWED_HOSTS=chat.example.com DYNAMODB_ENDPOINT_URL= $(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) node_modules staticfiles .pytest_cache
