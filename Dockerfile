# The ledger image: one image for both long-running processes of the production
# topology (docker-compose.yml): `ledger serve --external-projector` and `ledger project`.
# Configuration comes from the environment only (LEDGER_DB, LEDGER_WORKERS, ...: see
# ledger/config.py); nothing is baked in but the code.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The project from its source, as a regular (non-editable) install. Every dependency
# ships manylinux wheels (psycopg[binary] included), so the slim image needs no compiler.
# The source is removed afterwards: the code lives in site-packages only.
COPY pyproject.toml README.md /src/
COPY ledger /src/ledger
COPY projections /src/projections
COPY api /src/api
RUN pip install /src && rm -rf /src

# Never run as root. The home directory is the working directory, so the default
# LEDGER_DB (sqlite:///./ledger.db) would at least be writable; production sets
# LEDGER_DB to PostgreSQL.
RUN useradd --create-home --home-dir /home/ledger --uid 10001 --user-group ledger
USER ledger
WORKDIR /home/ledger

EXPOSE 8080
# Exec form and no ENTRYPOINT: compose's `command: [ledger, ...]` replaces this whole.
CMD ["ledger", "serve", "--host", "0.0.0.0", "--port", "8080"]
