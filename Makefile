PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test bench lint i18n install clean

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
		$(BIN)/pybabel compile --use-fuzzy -i $$po -o $${po%.po}.mo >/dev/null || exit 1; \
	done

run: install
	$(BIN)/python -m bot

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m bench

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Refresh the message template after changing user-facing strings.
messages: $(STAMP)
	$(BIN)/pybabel extract -k _ -k __ -k lazy_gettext -o locales/messages.pot bot handlers

clean:
	rm -rf $(VENV) .pytest_cache
