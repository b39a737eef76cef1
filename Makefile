# The two commands of the README: `make run` and `make test`. Both build the
# virtualenv first, so a fresh machine with Python 3.11 needs nothing else.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DB ?= sqlite:///./ledger.db
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# Serve the demo ledger: a fresh SQLite database with the source municipalities,
# and an admin token printed once for curl and the dashboard.
run: venv
	rm -f ./ledger.db ./ledger.db-wal ./ledger.db-shm
	LEDGER_DB=$(DB) $(BIN)/ledger demo
	@echo "Admin token (shown once): $$(LEDGER_DB=$(DB) $(BIN)/ledger token create --role admin)"
	LEDGER_DB=$(DB) $(BIN)/ledger serve --host $(HOST) --port $(PORT)

test: venv
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) ledger.db ledger.db-wal ledger.db-shm .pytest_cache
