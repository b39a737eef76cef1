"""The aiohttp application: middlewares, routes and the lifecycle of the ledger.

Every response carries `API-Version`, its request's `X-Request-ID` (api/logs.py) and
the ADR's security headers; every error,
including aiohttp's own (unknown route, wrong method, body too large), a query
parameter the operation does not have, and unexpected failures, is problem+json. A
database that does not answer (down, restarting, no connection to be had) is a 503
with `Retry-After`, not a 500: the request may simply be sent again (a POST with the
same ids), and the pools reconnect by themselves once the database is back. While it
is down the others are answered at once rather than each after a wait (`Outage`).
So is a write that waited longer than the lock timeout for the store's write lock
("busy": the database answers, so the breaker stays closed). A client that leaves
mid-body or mid-stream is logged as such (status 499 in the access log), not as a 500.
With the embedded projector (the default) the API process follows the log itself;
in the production topology `ledger project` does, and the API only waits for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from api import logs, pages, render, state
from api.limits import RateLimiter
from api.oidc import OidcVerifier, discovery_url
from api.openapi import API_VERSION, document, query_parameters, table_columns
from api.problems import Problem, bad_request, busy, database_busy, database_unavailable, from_http_exception, unavailable
from api.routes import routes
from api.waiting import Advances, Writer, readers
from api.tokens import TokenStore
from ledger.application import Ledger
from ledger.config import Settings
from projections.db import ReadDB
from projections.runner import Projector

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Outage:
    """A breaker for a database that does not answer. Each request would wait for a
    connection (3 s) before its 503, and requests arriving meanwhile queue behind the
    threads doing that waiting: a burst of them was answered after 3, 6, 9 s. So once
    a request found the database down, the others are answered 503 at once while one
    request at a time still goes through to see whether it is back; the first of those
    that is answered otherwise closes the breaker. /readyz always asks the database."""

    EXEMPT = frozenset({"/healthz", "/readyz", "/v1/healthz", "/v1/readyz", "/v1/openapi.json"})

    def __init__(self) -> None:
        self.down = False
        self.probing = False


OUTAGE = web.AppKey("outage", Outage)


QUERY_PARAMETERS = web.AppKey("query_parameters", dict)


def _check_query(request: web.Request) -> None:
    """Refuse query parameters the operation does not have, each named (400)."""
    resource = request.match_info.route.resource
    method = "GET" if request.method == "HEAD" else request.method
    known = request.app[QUERY_PARAMETERS].get((method, resource.canonical)) if resource is not None else None
    unknown = sorted(set(request.query) - known) if known is not None else []
    if unknown:
        reason = f"not a parameter of this operation (it has: {', '.join(sorted(known)) or 'none'})"
        raise bad_request(f"unknown query parameter {', '.join(unknown)}",
                          [{"name": name, "code": "unknown", "reason": reason} for name in unknown])


CLIENT_CLOSED = 499  # nginx's "client closed request": in the access log, never sent


def _client_left(request: web.Request, e: Exception) -> bool:
    """A connection error with the client's connection gone: the client left mid-body or
    mid-stream. Not a server error: no 500, no traceback."""
    transport = request.transport
    return isinstance(e, ConnectionError) and (transport is None or transport.is_closing())


async def _answer(request: web.Request, handler: Handler) -> tuple[web.StreamResponse, bool]:
    """The handler's response, or the problem+json for what it raised; and whether that
    was the database not answering."""
    try:
        _check_query(request)
        return await handler(request), False
    except Problem as p:
        return p.response(), False
    except web.HTTPException as e:
        if e.status < 400:
            raise
        return from_http_exception(e, request).response(), False
    except Exception as e:
        if database_unavailable(e):
            # One line, no body and no query string: the error's class and message only.
            log.warning("database unavailable: %s %s answered 503 (%s: %s)",
                        request.method, request.path, type(e).__name__, " ".join(str(e).split()))
            return unavailable(request.method).response(), True
        if database_busy(e):
            log.warning("database busy: %s %s answered 503 (%s: %s)",
                        request.method, request.path, type(e).__name__, " ".join(str(e).split()))
            return busy().response(), False
        if _client_left(request, e):
            log.info("client disconnected before its answer: %s %s (%s)", request.method, request.path,
                     type(e).__name__)
            return web.Response(status=CLIENT_CLOSED), False
        log.exception("unhandled error on %s %s", request.method, request.path)
        detail = "the ledger failed to answer; nothing half-written"
        return Problem(500, "internal-error", "Internal server error", detail).response(), False


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    outage = request.app.get(OUTAGE)
    if outage is None or request.path in Outage.EXEMPT or pages.is_page(request.path):
        return (await _answer(request, handler))[0]
    probe = outage.down
    if probe:
        if outage.probing:
            return unavailable(request.method).response()  # nothing was tried: nothing was stored
        outage.probing = True
    try:
        response, down = await _answer(request, handler)
    finally:
        if probe:
            outage.probing = False
    if down and not outage.down:
        log.warning("the database does not answer: answering 503 at once, one request at a time trying it")
        outage.down = True
    elif probe and not down:
        log.warning("the database answers again")
        outage.down = False
    return response


# The security headers of the ADR's transport security module, on every response. The
# dashboard's own stricter Content-Security-Policy and Cache-Control stand (api/pages.py).
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Strict-Transport-Security": "max-age=31536000",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


async def _standard_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["API-Version"] = API_VERSION
    if logs.REQUEST_ID_KEY in request:
        response.headers[logs.REQUEST_ID_HEADER] = request[logs.REQUEST_ID_KEY]
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def create_app(settings: Settings, *, ledger: Ledger | None = None) -> web.Application:
    app = web.Application(middlewares=[logs.request_ids, problems], client_max_size=settings.max_body)
    app[state.SETTINGS] = settings
    app[OUTAGE] = Outage()
    app[state.LIMITER] = RateLimiter(settings.rate_limit, settings.rate_burst)
    app.on_response_prepare.append(_standard_headers)
    app.router.add_routes(routes)
    pages.add_routes(app.router)
    contact = {"name": settings.contact_name, "email": settings.contact_email, "url": settings.contact_url}
    verifier = OidcVerifier.from_settings(settings)
    if verifier is not None:
        app[state.OIDC] = verifier
    app[state.OPENAPI] = orjson.dumps(_with_issuer(document(contact), settings))
    app[QUERY_PARAMETERS] = query_parameters()
    app[render.TABLES] = table_columns()
    app.cleanup_ctx.append(_lifecycle(ledger))
    return app


def _with_issuer(doc: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The document's `oidc` scheme pointing at the configured issuer's discovery document
    (api/openapi.py knows no settings and names a placeholder)."""
    if settings.oidc_issuer:
        doc["components"]["securitySchemes"]["oidc"]["openIdConnectUrl"] = discovery_url(settings.oidc_issuer)
    return doc


def _lifecycle(ledger: Ledger | None) -> Callable[[web.Application], object]:
    async def context(app: web.Application):  # type: ignore[no-untyped-def]
        settings = app[state.SETTINGS]
        app[state.LEDGER] = ledger or Ledger(settings.db, settings.lock_timeout, settings.snapshot_key)
        app[state.DB] = ReadDB(settings.db)
        app[state.TOKENS] = TokenStore(app[state.DB])
        projector = Projector(app[state.LEDGER], app[state.DB])
        app[state.PROJECTOR] = projector
        projector.start(follow=settings.projector == "embedded")
        asyncio.get_running_loop().set_default_executor(readers())
        app[state.WRITER] = Writer(app[state.LEDGER])
        app[state.ADVANCES] = Advances(projector)
        yield
        app[state.WRITER].shutdown()
        projector.stop()
        app[state.DB].close()
        if ledger is None:
            app[state.LEDGER].close()

    return context
