"""Who may do what (api.md "Authentication and roles"), enforced on every route.

- admin: everything; auditor: read everything, never write.
- gemeente: post for its own party; read it and the organisations it belongs to.
- organisation: post for its organisation; read it.
- controller: read its party and the organisations that party belongs to.

A member (and its controller) reads an organisation for the years it was a member only
(projections/scope.py): a year since it left is refused like another party.
"""

from __future__ import annotations

from aiohttp import web

from api import state
from api.oidc import JWT_SHAPE, OidcRefused, OidcUnavailable, unavailable_problem
from api.problems import forbidden, unauthorized
from api.tokens import Principal, TokenRefused, TokenStore, with_article
from ledger.events import ADMIN_ONLY_TYPES, Event
from projections.db import ReadDB
from projections.scope import Scope, Years, covers, membership_years, years_of

READ_ALL = frozenset({"admin", "auditor"})


def _bearer(request: web.Request) -> str | None:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" and secret.strip() else None


def verified_by_issuer(request: web.Request) -> bool:
    """Whether the caller's token is a JWT for the OIDC issuer to verify, which needs no
    database (but may fetch the issuer's keys: best outside any transaction)."""
    secret = _bearer(request)
    return secret is not None and request.app.get(state.OIDC) is not None and bool(JWT_SHAPE.fullmatch(secret))


def authenticate(request: web.Request, tokens: TokenStore) -> Principal:
    """The caller of a CLI token (`plg_...`) or, with OIDC configured, of a JWT of the
    issuer (api/oidc.py: it may fetch the issuer's keys, so this runs in a worker thread);
    401 naming why, never quoting the token."""
    secret = _bearer(request)
    if secret is None:
        raise unauthorized()
    oidc = request.app.get(state.OIDC)
    if oidc is not None and JWT_SHAPE.fullmatch(secret):
        try:
            return oidc.verify(secret)
        except OidcRefused as e:
            raise unauthorized(f"this token is refused: {e}") from None
        except OidcUnavailable:
            raise unavailable_problem(oidc.refresh) from None
    try:
        principal = tokens.authenticate(secret)
    except TokenRefused as e:
        raise unauthorized(str(e)) from None
    if principal is None:
        raise unauthorized()
    return principal


def readable(principal: Principal, db: ReadDB, as_of: str | None = None) -> Scope:
    """The parties this principal may read (at `as_of`) with their years, or None for all."""
    if principal.role in READ_ALL:
        return None
    assert principal.party is not None
    own: dict[str, Years | None] = {principal.party: None}
    if principal.role == "organisation":
        return own
    return {**membership_years(db, principal.party, as_of), **own}


def check_read(
    principal: Principal, db: ReadDB, party: str | None, as_of: str | None = None, year: int | None = None
) -> Scope:
    """The parties (and years) a read may cover: `party` alone if given and allowed (in
    `year`, if given), else all readable."""
    allowed = readable(principal, db, as_of)
    if party is None:
        return allowed
    if allowed is not None and party not in allowed:
        raise forbidden(f"this token may not read {party}")
    years = years_of(allowed, party)
    if year is not None and not covers(years, year):  # refused as another party is
        raise forbidden(f"this token may not read {party} for {year}: not a member then")
    return {party: years}


def may_read(principal: Principal, db: ReadDB, party: str, year: int, as_of: str | None = None) -> bool:
    """Whether this principal may read `party` in `year` (an event of that budget year)."""
    allowed = readable(principal, db, as_of)
    return allowed is None or (party in allowed and covers(years_of(allowed, party), year))


WRITERS = frozenset({"admin", "gemeente", "organisation"})


def check_may_post(principal: Principal) -> None:
    """Roles that never write are refused before their body is read."""
    if principal.role not in WRITERS:
        raise forbidden(f"{with_article(principal.role)} token may not post events")


def refused_posts(principal: Principal, events: list[Event]) -> list[dict[str, object]]:
    """Each event this principal may not post, by index and why."""
    out: list[dict[str, object]] = []
    for i, e in enumerate(events):
        if principal.role == "admin":
            continue
        if e.type in ADMIN_ONLY_TYPES:
            reason = f"only an admin may post {e.type}"
        elif e.party != principal.party:
            reason = f"this token posts for {principal.party} only, not {e.party}"
        else:
            continue
        out.append({"index": i, "detail": reason})
    return out
