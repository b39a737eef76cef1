"""API tokens: made by the CLI, shown once, stored only as a SHA-256 hash, expiring.

A token reads `plg_<id>_<secret>`: the id (12 hex digits) finds the row, and the
hash of the whole token is then compared with the stored one in constant time
(`hmac.compare_digest`), so how long an answer takes says nothing about how much
of a guess was right. The secret is 32 random bytes, so a plain SHA-256 is a safe
verifier (no dictionary to guess from). Every token expires (`valid_for`); an
expired or revoked token is a 401 like an unknown one, with a detail saying which.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ledger.events import PARTY_CODE
from projections.db import Cursor, ReadDB

ROLES = ("admin", "gemeente", "organisation", "controller", "auditor")
PARTY_ROLES = frozenset({"gemeente", "organisation", "controller"})
DEFAULT_VALIDITY = timedelta(days=90)
_PREFIX = "plg_"
_TOKEN = re.compile(r"plg_([0-9a-f]{12})_[A-Za-z0-9_-]{43}")
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS api_tokens (token_id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, "
    "role TEXT NOT NULL, party TEXT, created_at TEXT NOT NULL, revoked_at TEXT, expires_at TEXT, person TEXT)"
)
# Columns added since the table was first made (`_add_columns`).
_ADDED_COLUMNS = ("expires_at", "person")
MAX_PERSON = 200
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_INSTANT = "%Y-%m-%dT%H:%M:%SZ"
# Compared against when the id is unknown, so that case takes as long as a wrong secret.
_NO_HASH = "0" * 64


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a token's role, the party it is bound to (if any), and the person
    it names (if it does)."""

    token_id: str
    role: str
    party: str | None
    person: str | None = None

    @property
    def name(self) -> str:
        """How the log records the poster (`postedBy`): role, party and token id, never
        the secret, then the person in parentheses where the token names one:
        `gemeente:GM0363:tok_0123456789ab (Jan de Vries)`."""
        who = f"{self.role}:{self.party}:{self.token_id}" if self.party else f"{self.role}:{self.token_id}"
        return f"{who} ({self.person})" if self.person else who


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What `ledger token list` shows of a token: everything but its hash."""

    token_id: str
    role: str
    party: str | None
    created_at: str
    expires_at: str | None
    revoked_at: str | None
    person: str | None = None


def with_article(role: str) -> str:
    """`an admin`, `a gemeente`: a role as an error names it."""
    return f"{'an' if role[:1] in 'aeiou' else 'a'} {role}"


class TokenError(ValueError):
    pass


class TokenRefused(Exception):
    """A token that was once valid and no longer is: why, for the 401's detail."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _instant(moment: datetime) -> str:
    return moment.strftime(_INSTANT)


def clean(text: str) -> bool:
    """No control or format character (a right-to-left override would make the trail
    lie), no lone surrogate (not storable as UTF-8), no line or paragraph separator."""
    return not any(unicodedata.category(c) in _UNPRINTABLE for c in text)


def person_name(value: str, source: str) -> str:
    """A person's name as the log may record it (it goes into the hash chain, the trail
    and every export): stripped, 1-200 characters, `clean`. `source` says where it came
    from, for the error: a CLI token's --name or a JWT's name claim."""
    name = value.strip()
    if not name or len(name) > MAX_PERSON:
        raise TokenError(f"{source} must be 1-{MAX_PERSON} characters")
    if not clean(name):
        raise TokenError(f"{source} holds a control character")
    return name


def _add_columns(cur: Cursor, postgres: bool) -> None:
    """Tables made before tokens expired lack `expires_at` (their rows never expire, but
    their tokens, the old `plg_<secret>` form, no longer authenticate either); tables
    made before tokens named a person lack `person` (their tokens name nobody)."""
    for column in _ADDED_COLUMNS:
        if postgres:
            cur.execute(f"ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS {column} TEXT")
        elif column not in {row[1] for row in cur.execute("PRAGMA table_info(api_tokens)").fetchall()}:
            cur.execute(f"ALTER TABLE api_tokens ADD COLUMN {column} TEXT")


class TokenStore:
    def __init__(self, db: ReadDB):
        self.db = db
        with db.transaction(write=True) as cur:
            cur.execute(_SCHEMA)
            _add_columns(cur, db.postgres)

    def create(
        self, role: str, party: str | None = None, valid_for: timedelta = DEFAULT_VALIDITY, person: str | None = None
    ) -> tuple[TokenInfo, str]:
        """Make a token valid for `valid_for`, naming `person` (who will use it, recorded
        with every event it posts) if given; return it and what is known of it. Only its
        hash is kept."""
        if role not in ROLES:
            raise TokenError(f"role must be one of {', '.join(ROLES)}")
        if role in PARTY_ROLES and not party:
            raise TokenError(f"{with_article(role)} token is bound to one party: give --party")
        if role not in PARTY_ROLES and party:
            raise TokenError(f"{with_article(role)} token is not bound to a party")
        if party and not re.fullmatch(PARTY_CODE, party):
            raise TokenError("party codes are 2-40 of A-Z, 0-9 and -")
        if valid_for <= timedelta(0):
            raise TokenError("a token must be valid for some time")
        if person is not None:
            person = person_name(person, "--name")
        key = secrets.token_hex(6)
        token_id = "tok_" + key
        token = f"{_PREFIX}{key}_{secrets.token_urlsafe(32)}"
        now = datetime.now(UTC)
        info = TokenInfo(token_id, role, party, _instant(now), _instant(now + valid_for), None, person)
        with self.db.transaction(write=True) as cur:
            cur.execute(
                "INSERT INTO api_tokens (token_id, token_hash, role, party, created_at, revoked_at, expires_at, person) "
                "VALUES (?,?,?,?,?,NULL,?,?)",
                (token_id, _hash(token), role, party, info.created_at, info.expires_at, person),
            )
        return info, token

    def revoke(self, token_id: str) -> bool:
        with self.db.transaction(write=True) as cur:
            found = cur.execute(
                "SELECT 1 FROM api_tokens WHERE token_id = ? AND revoked_at IS NULL", (token_id,)
            ).fetchone()
            cur.execute("UPDATE api_tokens SET revoked_at = ? WHERE token_id = ?", (_instant(datetime.now(UTC)), token_id))
        return found is not None

    def list_tokens(self) -> list[TokenInfo]:
        with self.db.transaction() as cur:
            rows = cur.execute(
                "SELECT token_id, role, party, created_at, expires_at, revoked_at, person FROM api_tokens "
                "ORDER BY created_at, token_id"
            ).fetchall()
        return [TokenInfo(*row) for row in rows]

    def authenticate(self, token: str) -> Principal | None:
        """The token's principal; None for a token that never was; TokenRefused for one
        that was and is revoked or expired."""
        match = _TOKEN.fullmatch(token)
        if match is None:
            return None
        token_id = "tok_" + match.group(1)
        with self.db.transaction() as cur:
            row = cur.execute(
                "SELECT token_hash, role, party, revoked_at, expires_at, person FROM api_tokens WHERE token_id = ?",
                (token_id,),
            ).fetchone()
        stored, role, party, revoked_at, expires_at, person = row if row is not None else (_NO_HASH, *[None] * 5)
        if not hmac.compare_digest(stored, _hash(token)) or row is None:
            return None
        if revoked_at is not None:
            raise TokenRefused(f"this token was revoked at {revoked_at}")
        if expires_at is not None and expires_at <= _instant(datetime.now(UTC)):
            raise TokenRefused(f"this token expired at {expires_at}; ask the administrator for a new one")
        return Principal(token_id, role, party, person)
