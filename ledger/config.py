"""Settings, read from the environment in this one place; the CLI overrides them.

LEDGER_DB            database URL: sqlite:///path (default sqlite:///./ledger.db) or postgresql://...
LEDGER_HOST          address to serve on (127.0.0.1)
LEDGER_PORT          port to serve on (8080)
LEDGER_WORKERS       API worker processes (1)
LEDGER_PROJECTOR     "embedded" (the API process follows the log) or "external" (`ledger project` does)
LEDGER_MAX_BATCH     most events in one POST (10000)
LEDGER_MAX_BODY      largest request body in bytes (32 MiB)
LEDGER_READ_TIMEOUT  seconds a POST waits for the read model to include it (30)
LEDGER_LOCK_TIMEOUT  seconds a POST waits for the event store's write lock before it is
                     answered 503 "busy" (PostgreSQL 10, SQLite 30)
LEDGER_RATE_LIMIT    requests a second one token may send on average, per API worker (20; 0: no limit)
LEDGER_RATE_BURST    requests one token may send at once before the average applies (200)
LEDGER_CONTACT_NAME, LEDGER_CONTACT_EMAIL, LEDGER_CONTACT_URL
                     the operator's contact in the OpenAPI document (placeholders until set)
LEDGER_IV3_CONTACT_NAME, LEDGER_IV3_CONTACT_EMAIL, LEDGER_IV3_CONTACT_PHONE
                     the contact of every Iv3 delivery (CBS's `contact`: naam, email, telefoon);
                     unset (any of the three), a delivery says so and CBS would refuse it
LEDGER_SNAPSHOT_KEY  a secret of at least 32 bytes, as hex, held outside the database: snapshots
                     of the books are then stored sealed with it, and only a proven one is used
                     (ledger/snapshots.py); unset, snapshots stay in each process's memory
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

DEFAULT_DB = "sqlite:///./ledger.db"
MIN_SNAPSHOT_KEY_BYTES = 32


def snapshot_key(text: str | None) -> bytes | None:
    """LEDGER_SNAPSHOT_KEY as bytes (None when unset or empty); a ValueError that does not
    quote it when it is not hex or too short to be a secret."""
    if not text or not text.strip():
        return None
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise ValueError("LEDGER_SNAPSHOT_KEY is not hex digits (make one with: "
                         "python -c 'import secrets; print(secrets.token_hex(32))')") from None
    if len(key) < MIN_SNAPSHOT_KEY_BYTES:
        raise ValueError(f"LEDGER_SNAPSHOT_KEY holds {len(key)} bytes; a key is at least {MIN_SNAPSHOT_KEY_BYTES} "
                         f"({2 * MIN_SNAPSHOT_KEY_BYTES} hex digits)")
    return key


def iv3_contact(env: dict[str, str]) -> dict[str, str] | None:
    """CBS's `contact` of an Iv3 delivery from LEDGER_IV3_CONTACT_*, None unless all three are set."""
    values = {key: env.get(f"LEDGER_IV3_CONTACT_{name}", "").strip()
              for key, name in (("naam", "NAME"), ("email", "EMAIL"), ("telefoon", "PHONE"))}
    return values if all(values.values()) else None


@dataclass(frozen=True)
class Settings:
    db: str = DEFAULT_DB
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    projector: str = "embedded"
    max_batch: int = 10_000
    max_body: int = 32 * 1024 * 1024
    read_timeout: float = 30.0
    lock_timeout: int | None = None  # None: the store's default (ledger/store.py)
    rate_limit: float = 20.0
    rate_burst: int = 200
    contact_name: str = "participatie-ledger operator"
    contact_email: str = "operator@example.org"
    contact_url: str = "https://example.org/participatie-ledger"
    snapshot_key: bytes | None = field(default=None, repr=False)  # a secret: never in a repr or a log
    iv3_contact: dict[str, str] | None = None  # naam, email, telefoon; None: not configured

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            db=env.get("LEDGER_DB") or DEFAULT_DB,
            host=env.get("LEDGER_HOST", cls.host),
            port=int(env.get("LEDGER_PORT", cls.port)),
            workers=int(env.get("LEDGER_WORKERS", cls.workers)),
            projector=env.get("LEDGER_PROJECTOR", cls.projector),
            max_batch=int(env.get("LEDGER_MAX_BATCH", cls.max_batch)),
            max_body=int(env.get("LEDGER_MAX_BODY", cls.max_body)),
            read_timeout=float(env.get("LEDGER_READ_TIMEOUT", cls.read_timeout)),
            lock_timeout=int(env["LEDGER_LOCK_TIMEOUT"]) if env.get("LEDGER_LOCK_TIMEOUT") else None,
            rate_limit=float(env.get("LEDGER_RATE_LIMIT", cls.rate_limit)),
            rate_burst=int(env.get("LEDGER_RATE_BURST", cls.rate_burst)),
            contact_name=env.get("LEDGER_CONTACT_NAME", cls.contact_name),
            contact_email=env.get("LEDGER_CONTACT_EMAIL", cls.contact_email),
            contact_url=env.get("LEDGER_CONTACT_URL", cls.contact_url),
            snapshot_key=snapshot_key(env.get("LEDGER_SNAPSHOT_KEY")),
            iv3_contact=iv3_contact(env),
        )

    def override(self, **values: Any) -> Settings:
        """These settings with every non-None value replaced (CLI flags win)."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})
