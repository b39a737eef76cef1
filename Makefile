# The two commands of the README: `make run` and `make test`. Both build the
# virtualenv first, so a fresh machine with Python 3.11 needs nothing else.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DB ?= sqlite:///./ledger.db
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test venv browser clean

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

# The dashboard's test drives Debian's Chromium through ChromeDriver. They are installed
# here when missing and this user may (root, or sudo without a password); elsewhere
# that test is skipped and the run ends with a loud notice.
BROWSER_PACKAGES := chromium chromium-driver

browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
		echo "!!! no apt-get here: install Chromium and ChromeDriver, or the browser test is skipped"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else \
		echo "!!! may not install $(BROWSER_PACKAGES) (not root, no sudo): the browser test is skipped"; exit 0; fi; \
	echo "installing $(BROWSER_PACKAGES) for the browser test"; \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(BROWSER_PACKAGES) >/dev/null \
	|| { $$SUDO apt-get update -q >/dev/null && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(BROWSER_PACKAGES) >/dev/null; } \
	|| echo "!!! installing $(BROWSER_PACKAGES) failed: the browser test is skipped"

test: venv browser
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) ledger.db ledger.db-wal ledger.db-shm .pytest_cache
