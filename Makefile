PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-postgres bench lint i18n install clean

# Create the virtualenv and install the project (re-run when pyproject.toml changes).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) i18n

# Compile every translation catalog (locales/<lang>/LC_MESSAGES/messages.po -> .mo).
i18n: $(STAMP)
	@for po in $$(find locales -name '*.po' 2>/dev/null); do \
		$(BIN)/pybabel compile --statistics -i $$po -o $${po%.po}.mo >/dev/null || exit 1; \
	done

run: install
	$(BIN)/python -m bot

# The whole suite on SQLite; then, when TEST_DATABASE_URL names a PostgreSQL server (.ci/run starts one with
# .ci/services), the tests marked `postgres` again on PostgreSQL. Under CI=true a missing server fails the
# run at once (a green CI must have run both backends); elsewhere the PostgreSQL pass is skipped, saying so.
test: install
	@if [ "$$CI" = true ] && [ -z "$$TEST_DATABASE_URL" ]; then \
		echo "TEST_DATABASE_URL is not set under CI: start the servers with .ci/services or run .ci/run" >&2; \
		exit 1; \
	fi
	$(BIN)/python -m pytest
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
		$(MAKE) --no-print-directory test-postgres; \
	else \
		echo "PostgreSQL pass skipped: TEST_DATABASE_URL is not set (.ci/services starts a server)"; \
	fi

test-postgres: install
	TEST_BACKEND=postgresql $(BIN)/python -m pytest

# Every benchmark, or those named: make bench BENCH="throughput memory" (see bench/__main__.py).
bench: install
	$(BIN)/python -m bench $(BENCH)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# After changing user-facing strings: refresh the template, merge it into every catalog (a changed message
# turns fuzzy there until translated: tests refuse fuzzy and empty ones), and fill the English catalog from
# the source. Keywords: gettext as ``_``, lazy_gettext as ``__``, and the plural forms (singular, plural, n)
# of ngettext and lazy_ngettext.
messages: $(STAMP)
	$(BIN)/pybabel extract --sort-by-file --add-location=file -k _ -k __ -k lazy_gettext -k ngettext:1,2 \
		-k lazy_ngettext:1,2 -o locales/messages.pot bot handlers
	$(BIN)/pybabel update --ignore-obsolete --ignore-pot-creation-date --width 120 -i locales/messages.pot -d locales -D messages
	$(BIN)/python locales/source_catalog.py

clean:
	rm -rf $(VENV) .pytest_cache
