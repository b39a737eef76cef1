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
LEDGER_OIDC_ISSUER   an OpenID Connect issuer (https, or http on loopback): its JWT access tokens
                     are then accepted beside the CLI's tokens (api/oidc.py); unset, they are not
LEDGER_OIDC_AUDIENCE the `aud` those tokens must carry (required with LEDGER_OIDC_ISSUER)
LEDGER_OIDC_JWKS_URL the issuer's key set (default: the `jwks_uri` of its
                     /.well-known/openid-configuration, read once)
LEDGER_OIDC_ALGORITHMS  the signature algorithms accepted, comma-separated (RS256,ES256,PS256);
                     asymmetric ones only: none and HS* are refused at startup
LEDGER_OIDC_ROLE_CLAIM  the claim naming the ledger role, a string or a list holding exactly one
                     (ledger_role); dotted for a nested one (Keycloak: realm_access.roles)
LEDGER_OIDC_PARTY_CLAIM the claim naming the party of a gemeente, organisation or controller (ledger_party)
LEDGER_OIDC_LEEWAY   seconds of clock difference allowed on exp, nbf and iat (30)
LEDGER_OIDC_JWKS_TTL seconds the issuer's key set is kept before it is fetched again (300)
LEDGER_OIDC_JWKS_REFRESH  least seconds between fetches for a key id not in the set (10), and
                     how long an issuer that did not answer is answered 503 without asking it
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

DEFAULT_DB = "sqlite:///./ledger.db"
MIN_SNAPSHOT_KEY_BYTES = 32
# Signature algorithms with a public key: a token can be checked without its signing secret.
# HS* would make the issuer's public key a shared secret (the algorithm-confusion attack).
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
DEFAULT_OIDC_ALGORITHMS = ("RS256", "ES256", "PS256")
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


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


def oidc_algorithms(text: str | None) -> tuple[str, ...]:
    """LEDGER_OIDC_ALGORITHMS as a tuple (the default when unset or empty)."""
    if not text or not text.strip():
        return DEFAULT_OIDC_ALGORITHMS
    return tuple(a.strip() for a in text.split(",") if a.strip())


def check_url(name: str, url: str) -> None:
    """https, or http on loopback only: keys fetched over plain http could be swapped in transit."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return
    raise ValueError(f"{name} must be an https URL (http only on loopback)")


def check_oidc(settings: Settings) -> None:
    """A ValueError naming the setting when the OIDC settings cannot be used safely."""
    if not settings.oidc_issuer:
        return
    check_url("LEDGER_OIDC_ISSUER", settings.oidc_issuer)
    if settings.oidc_jwks_url:
        check_url("LEDGER_OIDC_JWKS_URL", settings.oidc_jwks_url)
    if not settings.oidc_audience:
        raise ValueError("LEDGER_OIDC_AUDIENCE must be set with LEDGER_OIDC_ISSUER: a token for another service "
                         "of the same issuer would be accepted otherwise")
    if not settings.oidc_algorithms:
        raise ValueError("LEDGER_OIDC_ALGORITHMS names no algorithm")
    refused = [a for a in settings.oidc_algorithms if a not in ASYMMETRIC_ALGORITHMS]
    if refused:
        raise ValueError(f"LEDGER_OIDC_ALGORITHMS names what is no asymmetric signature algorithm: "
                         f"{', '.join(refused)} (it may name {', '.join(sorted(ASYMMETRIC_ALGORITHMS))}; none and HS* are never accepted)")
    if not settings.oidc_role_claim or not settings.oidc_party_claim:
        raise ValueError("LEDGER_OIDC_ROLE_CLAIM and LEDGER_OIDC_PARTY_CLAIM must name a claim")
    for name, value in (("LEDGER_OIDC_LEEWAY", settings.oidc_leeway),
                        ("LEDGER_OIDC_JWKS_REFRESH", settings.oidc_jwks_refresh)):
        if not 0 <= value < float("inf"):
            raise ValueError(f"{name} must be a number of seconds, 0 or more")
    if not 0 < settings.oidc_jwks_ttl < float("inf"):
        raise ValueError("LEDGER_OIDC_JWKS_TTL must be a number of seconds above 0")


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds") from None


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
    oidc_issuer: str | None = None  # None: no JWTs are accepted, only the CLI's tokens
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None  # None: discovered from the issuer
    oidc_algorithms: tuple[str, ...] = DEFAULT_OIDC_ALGORITHMS
    oidc_role_claim: str = "ledger_role"
    oidc_party_claim: str = "ledger_party"
    oidc_leeway: float = 30.0
    oidc_jwks_ttl: float = 300.0
    oidc_jwks_refresh: float = 10.0

    def __post_init__(self) -> None:
        check_oidc(self)  # here, so Settings made in code are held to it as the environment's are

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
            oidc_issuer=env.get("LEDGER_OIDC_ISSUER", "").strip() or None,
            oidc_audience=env.get("LEDGER_OIDC_AUDIENCE", "").strip() or None,
            oidc_jwks_url=env.get("LEDGER_OIDC_JWKS_URL", "").strip() or None,
            oidc_algorithms=oidc_algorithms(env.get("LEDGER_OIDC_ALGORITHMS")),
            oidc_role_claim=env.get("LEDGER_OIDC_ROLE_CLAIM", "").strip() or cls.oidc_role_claim,
            oidc_party_claim=env.get("LEDGER_OIDC_PARTY_CLAIM", "").strip() or cls.oidc_party_claim,
            oidc_leeway=_seconds(env, "LEDGER_OIDC_LEEWAY", cls.oidc_leeway),
            oidc_jwks_ttl=_seconds(env, "LEDGER_OIDC_JWKS_TTL", cls.oidc_jwks_ttl),
            oidc_jwks_refresh=_seconds(env, "LEDGER_OIDC_JWKS_REFRESH", cls.oidc_jwks_refresh),
        )

    def override(self, **values: Any) -> Settings:
        """These settings with every non-None value replaced (CLI flags win)."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})
