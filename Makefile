# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Embedded defaults for `make run`: SQLite, filesystem broker, local forge, demo repositories on loopback.
RUN_ENV := DSO_ALLOW_HTTP_LOOPBACK=1

# The test suite runs on PostgreSQL and Redis for real; `make test-lite` uses SQLite and no broker server.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/dso_console
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test test-lite bench check clean

$(STAMP): pyproject.toml package-lock.json
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "needs $(PYTHON) (or run: make PYTHON=python3 ...)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@# axe-core for the accessibility tests (package-lock.json pins it); without npm those tests skip.
	if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --silent; else echo "no npm: accessibility tests will skip"; fi
	touch $(STAMP)

run: $(STAMP)
	$(RUN_ENV) $(BIN)/python manage.py migrate --noinput
	$(RUN_ENV) $(BIN)/python manage.py demo_seed
	$(RUN_ENV) $(BIN)/python manage.py run_embedded

# The reliability suites (tests/reliability) record their figures; they are printed after the run.
FIGURES := $(CURDIR)/var/reliability-figures.jsonl

test: $(STAMP)
	@mkdir -p var && rm -f $(FIGURES)
	DSO_RELIABILITY_FIGURES=$(FIGURES) DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
		$(BIN)/python -m pytest $(PYTEST_ARGS)
	@$(BIN)/python tests/reliability/report.py $(FIGURES)

test-lite: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Every row of the performance table (docs/performance.md): now, target, ratio. BENCH_ARGS="--scale 0.2" for a
# smaller PostgreSQL seed; it uses (drops and re-creates) the database BENCH_DATABASE_URL.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/dso_bench
bench: $(STAMP)
	@mkdir -p var
	CELERY_BROKER_URL=$(TEST_BROKER_URL) $(BIN)/python bench/run.py --database $(BENCH_DATABASE_URL) \
		--save var/bench.json $(BENCH_ARGS)

check: $(STAMP)
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

clean:
	rm -rf var .pytest_cache
