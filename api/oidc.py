"""JWT access tokens of an OpenID Connect issuer, beside the CLI's tokens (issue 19).

`OidcVerifier.verify` turns a JWT into a `Principal` or refuses it with the reason
(`OidcRefused`, a 401) or says the issuer's keys cannot be had (`OidcUnavailable`, a
503). It blocks on the network when the key set must be fetched, so it runs where
`admit` does, in a worker thread, never on the event loop.

The keys come from the issuer's JWKS through PyJWT's `PyJWKClient`, whose set cache
lives `LEDGER_OIDC_JWKS_TTL` seconds; its per-kid LRU (`cache_keys`) is left off on
purpose: it never expires, so a key the issuer retired (perhaps as leaked) would stay
trusted. A kid not in the set fetches it again, at most once per
`LEDGER_OIDC_JWKS_REFRESH` seconds, so made-up kids cannot make us hammer the issuer.
Keys named in a token's header (`jwk`, `jku`, `x5u`) are never used.

The claims become the principal: `oidc:<sub>` its id, the role and party from the
configured claims, the `name` claim the person. They end up in the hash-chained log,
so they are checked strictly, and no 401 quotes them or the token.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
import urllib.request
from datetime import UTC, datetime
from typing import Any

import jwt
from jwt import PyJWK, PyJWKClient

from api.problems import Problem
from api.tokens import PARTY_ROLES, ROLES, Principal, TokenError, clean, person_name, with_article
from ledger.config import Settings, check_url
from ledger.events import PARTY_CODE

log = logging.getLogger(__name__)

# Three base64url segments; the signature may be empty (`alg: none`), refused with its reason.
JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
TIMEOUT = 5.0  # seconds for the issuer to answer: a request waits for it in a worker thread
MAX_DISCOVERY_BYTES = 1 << 20
MAX_SUB = 255
_INSTANT = "%Y-%m-%dT%H:%M:%SZ"
# The key families an algorithm may be verified with (PyJWK's `key_type`).
_FAMILIES = {"RSA": ("RS", "PS"), "EC": ("ES",), "OKP": ("Ed",)}


class OidcRefused(Exception):
    """A JWT this ledger does not accept: why, for the 401's detail (never the token)."""


class OidcUnavailable(Exception):
    """The issuer's discovery document or key set cannot be had now."""


def unavailable_problem(retry_after: float) -> Problem:
    """503 with Retry-After: the issuer does not hand out its keys; a retry may succeed."""
    problem = Problem(503, "identity-provider-unavailable", "Identity provider unavailable",
                      "the issuer of this token (LEDGER_OIDC_ISSUER) does not hand out its keys now; "
                      "send the request again after Retry-After seconds")
    problem.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return problem


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def _instant(seconds: Any) -> str | None:
    try:
        return datetime.fromtimestamp(float(seconds), UTC).strftime(_INSTANT)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def claim(claims: dict[str, Any], path: str) -> Any:
    """The claim `path`: a top-level claim of that very name first (Auth0's namespaced
    claims are URLs, dots and all), else the dotted path into nested objects."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


class OidcVerifier:
    """The settings' issuer, its keys and how its claims map to a principal."""

    def __init__(self, settings: Settings, timeout: float = TIMEOUT):
        if not settings.oidc_issuer or not settings.oidc_audience:  # the rest Settings checked when made
            raise ValueError("OIDC needs LEDGER_OIDC_ISSUER and LEDGER_OIDC_AUDIENCE")
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        self.algorithms = settings.oidc_algorithms
        self.role_claim = settings.oidc_role_claim
        self.party_claim = settings.oidc_party_claim
        self.leeway = settings.oidc_leeway
        self.ttl = settings.oidc_jwks_ttl
        self.refresh = settings.oidc_jwks_refresh
        self.timeout = timeout
        self._jwks_url = settings.oidc_jwks_url
        self._client: PyJWKClient | None = None
        self._lock = threading.Lock()  # one thread fetches; the others wait for its keys
        self._fetched_at = -math.inf
        self._down_until = -math.inf

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcVerifier | None:
        return cls(settings) if settings.oidc_issuer else None

    # --- the issuer's keys ------------------------------------------------------------

    def _down(self, what: str, e: BaseException | str) -> OidcUnavailable:
        """Answer 503 at once for `refresh` seconds rather than have every request wait."""
        self._down_until = time.monotonic() + self.refresh
        log.warning("OIDC issuer %s: %s (%s); JWTs are answered 503 for %s s", self.issuer, what,
                    e if isinstance(e, str) else f"{type(e).__name__}: {' '.join(str(e).split())}", self.refresh)
        return OidcUnavailable(what)

    def _discover(self) -> str:
        """The issuer's `jwks_uri`, read from its discovery document (whose `issuer` must be
        the configured one, as OpenID Connect Discovery 1.0 requires)."""
        url = discovery_url(self.issuer)
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/json"}),
                                        timeout=self.timeout) as response:
                document = json.loads(response.read(MAX_DISCOVERY_BYTES))
        except (OSError, ValueError) as e:  # URLError, a timeout, a reset, not JSON
            raise self._down(f"its discovery document {url} cannot be read", e) from None
        if not isinstance(document, dict) or document.get("issuer") != self.issuer:
            raise self._down(f"its discovery document {url} names another issuer", "issuer differs")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise self._down(f"its discovery document {url} has no jwks_uri", "no jwks_uri")
        try:
            check_url("the discovered jwks_uri", jwks_uri)
        except ValueError as e:
            raise self._down(f"its discovery document {url} names an unsafe jwks_uri", e) from None
        return jwks_uri

    def _may_fetch(self) -> None:
        if time.monotonic() < self._down_until:
            raise OidcUnavailable("the issuer did not answer a moment ago")

    def _jwks_client(self) -> PyJWKClient:
        if self._client is None:
            self._may_fetch()
            self._client = PyJWKClient(self._jwks_url or self._discover(), cache_keys=False, lifespan=self.ttl,
                                       timeout=self.timeout)
        return self._client

    def _keys(self, refresh: bool = False) -> list[PyJWK]:
        """The issuer's signing keys, from the cache while it lives (even while the issuer
        is down), else fetched; never a symmetric one."""
        client = self._jwks_client()
        jwk_set = None if refresh or client.jwk_set_cache is None else client.jwk_set_cache.get()
        if jwk_set is None:
            self._may_fetch()
            try:
                jwk_set = client.get_jwk_set(refresh=True)
            except (jwt.PyJWKClientError, jwt.PyJWKSetError, OSError, ValueError) as e:
                raise self._down(f"its key set {client.uri} cannot be had", e) from None
            self._fetched_at = time.monotonic()
        return [k for k in jwk_set.keys if k.public_key_use in ("sig", None) and k.key_type in _FAMILIES]

    def _key(self, kid: str | None) -> PyJWK:
        with self._lock:
            keys = self._keys()
            if kid is None:
                if len(keys) == 1:
                    return keys[0]
                raise OidcRefused("unknown key: the token names no key (kid) and the issuer has several")
            found = next((k for k in keys if k.key_id == kid), None)
            if found is None and time.monotonic() - self._fetched_at >= self.refresh:
                found = next((k for k in self._keys(refresh=True) if k.key_id == kid), None)
            if found is None:
                raise OidcRefused("unknown key: the issuer's key set has no key with this token's kid")
            return found

    def _verifying(self, key: PyJWK, alg: str) -> tuple[Any, list[str]]:
        """What `jwt.decode` verifies `alg` with. A PyJWK is bound to one algorithm, its
        JWK's `alg` or, when it names none (Azure AD's keys do not), RS256 for every RSA
        key, refusing a PS256 token of the same issuer; so an RSA key verifies any allowed
        RS*/PS* algorithm (the key type still pins the family). Other keys: their own."""
        if key.key_type == "RSA" and alg[:2] in _FAMILIES["RSA"]:
            return key.key, [alg]
        if alg == key.algorithm_name:
            return key, [alg]
        raise OidcRefused("algorithm not allowed: the token's algorithm does not fit its key")

    # --- the token ----------------------------------------------------------------------

    def verify(self, token: str) -> Principal:
        """The principal of a valid JWT; OidcRefused (why) or OidcUnavailable. Blocking."""
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise OidcRefused("malformed token: not a JWT of JSON header and claims") from None
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise OidcRefused(f"algorithm not allowed: this ledger accepts {', '.join(self.algorithms)} only")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise OidcRefused("malformed token: its kid is not text")
        # Before the keys are asked for: another issuer's tokens never make us fetch.
        if unverified.get("iss") != self.issuer:
            raise OidcRefused(f"wrong issuer: this ledger accepts tokens of {self.issuer}")
        key, algorithms = self._verifying(self._key(kid), alg)
        try:
            claims = jwt.decode(
                token, key, algorithms=algorithms, audience=self.audience, issuer=self.issuer, leeway=self.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            at = _instant(unverified.get("exp"))
            raise OidcRefused(f"expired at {at}" if at else "expired") from None
        except jwt.ImmatureSignatureError:
            at = _instant(unverified.get("nbf"))
            raise OidcRefused(f"not yet valid: not before {at}" if at and "nbf" in unverified
                              else "not yet valid: issued in the future") from None
        except jwt.InvalidIssuerError:
            raise OidcRefused(f"wrong issuer: this ledger accepts tokens of {self.issuer}") from None
        except jwt.InvalidAudienceError:
            raise OidcRefused(f"wrong audience: the token's aud does not name {self.audience}") from None
        except jwt.MissingRequiredClaimError as e:
            raise OidcRefused(f"malformed token: no {e.claim} claim") from None
        except jwt.InvalidSignatureError:
            raise OidcRefused("bad signature: the issuer's key does not verify this token") from None
        except jwt.InvalidAlgorithmError:
            raise OidcRefused("algorithm not allowed: the token's algorithm does not fit its key") from None
        except jwt.PyJWTError as e:  # exp, nbf, iat (and sub, from PyJWT 2.10) not of their type; a crit header
            raise OidcRefused(f"malformed token ({type(e).__name__})") from None
        return self._principal(claims)

    def _principal(self, claims: dict[str, Any]) -> Principal:
        sub = claims["sub"]
        if not (isinstance(sub, str) and 1 <= len(sub) <= MAX_SUB and clean(sub)
                and not any(c.isspace() for c in sub)):
            raise OidcRefused(f"the sub claim must be 1-{MAX_SUB} characters without spaces or control characters")
        name = claims.get("name")
        if name is not None:
            if not isinstance(name, str):
                raise OidcRefused("the name claim is not text")
            try:
                name = person_name(name, "the name claim") if name.strip() else None
            except TokenError as e:
                raise OidcRefused(str(e)) from None
        role = self._role(claims)
        party = claim(claims, self.party_claim)
        if role in PARTY_ROLES:
            if not isinstance(party, str) or not re.fullmatch(PARTY_CODE, party):
                raise OidcRefused(f"{with_article(role)} token needs a party code (such as GM0439) in its {self.party_claim} claim")
        elif party is not None:
            raise OidcRefused(f"{with_article(role)} token is bound to no party, yet it has a {self.party_claim} claim")
        return Principal(token_id=f"oidc:{sub}", role=role, party=party if role in PARTY_ROLES else None,
                         person=name or None)

    def _role(self, claims: dict[str, Any]) -> str:
        value = claim(claims, self.role_claim)
        named = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        roles = sorted({r for r in named if isinstance(r, str) and r in ROLES})
        if not roles:
            raise OidcRefused(f"no ledger role: the {self.role_claim} claim names none of {', '.join(ROLES)}")
        if len(roles) > 1:
            raise OidcRefused(f"the {self.role_claim} claim names {len(roles)} ledger roles ({', '.join(roles)}); "
                              "a token has exactly one")
        return roles[0]

