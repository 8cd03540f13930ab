# The two commands a newcomer needs: `make run` and `make test`. Everything else is set up by them.
# `make test-fast` is the edit-test loop: the unit tests only (moto, in-process).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check
DYNALITE_PORT ?= 8001
comma := ,

.PHONY: run test test-fast bench bench-smoke setup dynalite check-deploy clean chromium wrk pins

# One stamp per requirements set, so `make run` and `make test-fast` skip the benchmark's heavy stack
# (locust, gevent, matplotlib, numpy, pyzmq); `make test` needs it for the benchmark's smoke test.
setup: $(VENV)/.installed-dev $(VENV)/.installed-bench node_modules/.installed

$(VENV)/.created:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	touch $@

$(VENV)/.installed-run: requirements.txt | $(VENV)/.created
	$(PIP_INSTALL) -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(VENV)/.created
	$(PIP_INSTALL) -r requirements-dev.txt
	touch $@ $(VENV)/.installed-run

$(VENV)/.installed-bench: requirements.txt requirements-bench.txt | $(VENV)/.created
	$(PIP_INSTALL) -r requirements-bench.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

chromium:
	@command -v chromium >/dev/null 2>&1 || { echo "Installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  { echo "Could not install chromium (needs root and Debian's package registry)."; exit 1; }; }

# The benchmark's light load generator for its GET-only phases (bench/wrk.py); without it they fall
# back to locust, which costs the load process ~20x more CPU per request.
wrk:
	@command -v wrk >/dev/null 2>&1 || { echo "Installing Debian's wrk for the benchmark"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null) || \
	  { echo "Could not install wrk (needs root and Debian's package registry)."; exit 1; }; }

## Serve the site on http://127.0.0.1:8000 with a persistent local dynalite. Ctrl-C stops both.
run: $(VENV)/.installed-run node_modules/.installed
	DYNALITE_PORT=$(DYNALITE_PORT) scripts/run.sh

## Run every test: unit (moto), integration (dynalite), browser (Chromium + gunicorn).
test: setup chromium wrk
	scripts/test.sh

## The unit tests only (moto, in-process): no dynalite, gunicorn or browser, no benchmark stack.
## Tests marked `integration`, `browser` or `subprocess` (they start a Python or a tool) are left out.
## Extra pytest arguments: ARGS="-k room -x".
## One worker more than cores: some tests wait on purpose (sleeps, threads), and a third worker on 2
## cores runs in that time. Two back-to-back pairs, load ~2: 85 and 82 s wall with 3 workers (156 and
## 155 s CPU), 98 and 88 s with 2 (159 and 139 s CPU). TEST_FAST_WORKERS=2 for the old count.
## Later, 1,924 tests at load ~1-2.5: a fourth worker 64 s wall, 126 s CPU (three: 65 s, 118 s).
## `--dist worksteal` (an idle worker takes half of a busy one's queue; files stay together):
## 62, 68 and 70 s wall, 113, 127 and 129 s CPU, against 65 and 70 s, 118 and 129 s with `load`.
TEST_FAST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
test-fast: $(VENV)/.installed-dev
	PYTHONDONTWRITEBYTECODE= CHATSITE_QUICK_PROPERTIES=1 scripts/test.sh -m "not integration and not browser and not subprocess" -n $(TEST_FAST_WORKERS) --dist worksteal $(ARGS)

## Start only the local dynalite (persisted under var/dynalite) in the foreground.
dynalite: node_modules/.installed
	mkdir -p var/dynalite
	node_modules/.bin/dynalite --host 127.0.0.1 --port $(DYNALITE_PORT) --path var/dynalite

## The load benchmark: writes docs/benchmarks.md and .png. All of it took 36 minutes on 2
## cores, of which the big room's search index load is ~16 and its BatchWriteItem seeding ~4.
## ONLY=room runs the room pages, the sidebar, the floor and the many-rooms phase (no big room, no
## search index: minutes, for before/after comparisons); ONLY=search the big room, its index and
## the searches; also post and live, comma-separated. BIG_ROOM=200000 makes the big room smaller.
## bench-smoke: the CI version, tiny data and ~1 s phases (output in a temp dir).
BIG_ROOM ?= 1000000
ONLY ?=
bench: $(VENV)/.installed-bench node_modules/.installed wrk
	$(PY) -m bench $(if $(ONLY),--only $(ONLY)) $(if $(or $(if $(ONLY),,all),$(filter search,$(subst $(comma), ,$(ONLY))),$(filter-out file,$(origin BIG_ROOM))),--big-room $(BIG_ROOM))

bench-smoke: $(VENV)/.installed-bench node_modules/.installed wrk
	$(PY) -m bench --smoke

## Django's deployment checklist with production settings.
check-deploy: $(VENV)/.installed-run
	DJANGO_DEBUG=0 DJANGO_SECRET_KEY=check-deploy-$$(date +%s)-not-a-real-secret-but-long-enough-000000 \
	  DJANGO_ALLOWED_HOSTS=chat.example.com DYNAMODB_ENDPOINT_URL= $(PY) manage.py check --deploy --fail-level WARNING

## Regenerate the pinned requirements*.txt from the short requirements*.in files with pip-tools
## (itself pinned in requirements-tools.txt, run from its own .venv-pins). Existing pins are kept;
## bump one package (and what it needs) with `make pins UPGRADE=django`.
PINS_VENV := .venv-pins
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make pins" $(PINS_VENV)/bin/pip-compile --quiet --strip-extras \
  --no-emit-index-url --no-emit-find-links --annotation-style=line $(if $(UPGRADE),--upgrade-package $(UPGRADE))

$(PINS_VENV)/.installed: requirements-tools.txt
	test -x $(PINS_VENV)/bin/python || $(PYTHON) -m venv $(PINS_VENV)
	$(PINS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	touch $@

# In this order: each file is compiled against the pins of the one before it (its -c line).
pins: $(PINS_VENV)/.installed
	$(PIP_COMPILE) requirements.in
	$(PIP_COMPILE) requirements-dev.in
	$(PIP_COMPILE) requirements-bench.in
	$(PIP_COMPILE) --allow-unsafe requirements-tools.in

clean:
	rm -rf $(VENV) $(PINS_VENV) node_modules staticfiles .pytest_cache
