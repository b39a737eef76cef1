"""API tokens: made by the CLI, shown once, stored only as a SHA-256 hash.

A token is 32 random bytes, so a plain SHA-256 is a safe verifier (no dictionary
to guess from) and lets a lookup by hash stand in for a comparison of secrets.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from projections.db import ReadDB

ROLES = ("admin", "gemeente", "organisation", "controller", "auditor")
PARTY_ROLES = frozenset({"gemeente", "organisation", "controller"})
_PREFIX = "plg_"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS api_tokens (token_id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, "
    "role TEXT NOT NULL, party TEXT, created_at TEXT NOT NULL, revoked_at TEXT)"
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a token's role, and the party it is bound to (if any)."""

    token_id: str
    role: str
    party: str | None

    @property
    def name(self) -> str:
        """How the log records the poster: role, party and token id, never the secret."""
        return f"{self.role}:{self.party}:{self.token_id}" if self.party else f"{self.role}:{self.token_id}"


class TokenError(ValueError):
    pass


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TokenStore:
    def __init__(self, db: ReadDB):
        self.db = db
        with db.transaction(write=True) as cur:
            cur.execute(_SCHEMA)

    def create(self, role: str, party: str | None = None) -> tuple[str, str]:
        """Make a token; return (token_id, secret). Only the hash of the secret is kept."""
        if role not in ROLES:
            raise TokenError(f"role must be one of {', '.join(ROLES)}")
        if role in PARTY_ROLES and not party:
            raise TokenError(f"a {role} token is bound to one party: give --party")
        if role not in PARTY_ROLES and party:
            raise TokenError(f"a {role} token is not bound to a party")
        if party and not re.fullmatch(r"[A-Z0-9-]{2,40}", party):
            raise TokenError("party codes are 2-40 of A-Z, 0-9 and -")
        token_id = "tok_" + secrets.token_hex(6)
        secret = _PREFIX + secrets.token_urlsafe(32)
        with self.db.transaction(write=True) as cur:
            cur.execute(
                "INSERT INTO api_tokens VALUES (?,?,?,?,?,NULL)", (token_id, _hash(secret), role, party, _now())
            )
        return token_id, secret

    def revoke(self, token_id: str) -> bool:
        with self.db.transaction(write=True) as cur:
            found = cur.execute(
                "SELECT 1 FROM api_tokens WHERE token_id = ? AND revoked_at IS NULL", (token_id,)
            ).fetchone()
            cur.execute("UPDATE api_tokens SET revoked_at = ? WHERE token_id = ?", (_now(), token_id))
        return found is not None

    def authenticate(self, secret: str) -> Principal | None:
        if not secret.startswith(_PREFIX):
            return None
        with self.db.transaction() as cur:
            row = cur.execute(
                "SELECT token_id, role, party FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
                (_hash(secret),),
            ).fetchone()
        return None if row is None else Principal(*row)
