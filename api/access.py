"""Who may do what (api.md "Authentication and roles"), enforced on every route.

- admin: everything; auditor: read everything, never write.
- gemeente: post for its own party; read it and the organisations it belongs to.
- organisation: post for its organisation; read it.
- controller: read its party and the organisations that party belongs to.
"""

from __future__ import annotations

from aiohttp import web

from api.problems import forbidden, unauthorized
from api.tokens import Principal, TokenRefused, TokenStore
from ledger.events import ADMIN_ONLY_TYPES, Event
from projections.db import ReadDB
from projections.queries import readable_parties

READ_ALL = frozenset({"admin", "auditor"})


def authenticate(request: web.Request, tokens: TokenStore) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise unauthorized()
    try:
        principal = tokens.authenticate(secret.strip())
    except TokenRefused as e:
        raise unauthorized(str(e)) from None
    if principal is None:
        raise unauthorized()
    return principal


def readable(principal: Principal, db: ReadDB) -> set[str] | None:
    """The parties this principal may read, or None for all of them."""
    if principal.role in READ_ALL:
        return None
    assert principal.party is not None
    if principal.role == "organisation":
        return {principal.party}
    return readable_parties(db, principal.party)


def check_read(principal: Principal, db: ReadDB, party: str | None) -> set[str] | None:
    """The parties a read may cover: `party` alone if given and allowed, else all readable."""
    allowed = readable(principal, db)
    if party is None:
        return allowed
    if allowed is not None and party not in allowed:
        raise forbidden(f"this token may not read {party}")
    return {party}


WRITERS = frozenset({"admin", "gemeente", "organisation"})


def check_may_post(principal: Principal) -> None:
    """Roles that never write are refused before their body is read."""
    if principal.role not in WRITERS:
        raise forbidden(f"a {principal.role} token may not post events")


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
