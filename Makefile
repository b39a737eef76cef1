# The two commands of the README: `make run` and `make test`. Both build the
# virtualenv first, so a fresh machine with Python 3.11 needs nothing else.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DB ?= sqlite:///./ledger.db
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run demo test fuzz venv test-tools clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# Serve the ledger in ./ledger.db, with an admin token printed once for curl and the
# dashboard. A new ledger gets the demo (the source municipalities); an existing one,
# its events and tokens, is kept as it is: `make demo` starts afresh with the demo.
# A port another process holds is refused first, in one line, before anything changes.
LEDGER_FILE := ./ledger.db

run: venv
	@$(BIN)/python -c 'import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("$(HOST)", $(PORT)))' 2>/dev/null \
		|| { echo "make run: $(HOST):$(PORT) is taken (another process serves there); PORT=8081 make run picks another"; exit 1; }
	@if [ "$(DB)" = "sqlite:///$(LEDGER_FILE)" ] && [ -e $(LEDGER_FILE) ]; then \
		echo "Serving the ledger in $(LEDGER_FILE) as it is (make demo: a fresh demo ledger instead)"; \
	else LEDGER_DB=$(DB) $(BIN)/ledger demo; fi
	@echo "Admin token (shown once): $$(LEDGER_DB=$(DB) $(BIN)/ledger token create --role admin)"
	LEDGER_DB=$(DB) $(BIN)/ledger serve --host $(HOST) --port $(PORT)

# A fresh demo ledger: ./ledger.db (its events and tokens) deleted, then `make run`.
demo: venv
	rm -f $(LEDGER_FILE) $(LEDGER_FILE)-wal $(LEDGER_FILE)-shm
	$(MAKE) run

# Programs some tests drive, from Debian's packages: Chromium and ChromeDriver for the
# dashboard's browser test, docker-compose to check docker-compose.yml. They are
# installed here when missing and this user may (root, or sudo without a password);
# elsewhere those tests are skipped and the run ends with a loud notice.
TEST_PACKAGES := chromium chromium-driver docker-compose

test-tools:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null \
		&& { command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1; }; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
		echo "!!! no apt-get here: install $(TEST_PACKAGES), or the tests that need them are skipped"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else \
		echo "!!! may not install $(TEST_PACKAGES) (not root, no sudo): the tests that need them are skipped"; exit 0; fi; \
	echo "installing $(TEST_PACKAGES) for the tests"; \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(TEST_PACKAGES) >/dev/null \
	|| { $$SUDO apt-get update -q >/dev/null && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(TEST_PACKAGES) >/dev/null; } \
	|| echo "!!! installing $(TEST_PACKAGES) failed: the tests that need them are skipped"

# Spectral, the linter of the ADR ruleset (tests/test_adr.py), from npm into a local folder.
SPECTRAL := .tools/node_modules/.bin/spectral
SPECTRAL_VERSION := 6.16.3

$(SPECTRAL):
	@if command -v npm >/dev/null; then \
		npm install --prefix .tools --no-audit --no-fund --silent @stoplight/spectral-cli@$(SPECTRAL_VERSION) \
		|| echo "!!! installing Spectral failed: the ADR lint is skipped"; \
	else echo "!!! no npm here: the ADR lint is skipped"; fi

test: venv test-tools $(SPECTRAL)
	$(BIN)/python -m pytest

# The contract fuzzing of tests/test_contract.py at length: 1,000 examples per operation and mode.
fuzz: venv
	LEDGER_FUZZ_EXAMPLES=1000 $(BIN)/python -m pytest tests/test_contract.py

clean:
	rm -rf $(VENV) .tools ledger.db ledger.db-wal ledger.db-shm .pytest_cache
