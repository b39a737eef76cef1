"""The aiohttp application: middlewares, routes and the lifecycle of the ledger.

Every response carries `API-Version`; every error, including aiohttp's own (unknown
route, wrong method, body too large) and unexpected failures, is problem+json.
With the embedded projector (the default) the API process follows the log itself;
in the production topology `ledger project` does, and the API only waits for it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from api import state
from api.openapi import API_VERSION, document
from api.problems import Problem, from_http_exception
from api.routes import routes
from api.tokens import TokenStore
from ledger.application import Ledger
from ledger.config import Settings
from projections.db import ReadDB
from projections.runner import Projector

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem as p:
        return p.response()
    except web.HTTPException as e:
        if e.status < 400:
            raise
        return from_http_exception(e, request).response()
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return Problem(500, "internal-error", "Internal server error", "the ledger failed to answer; nothing half-written").response()


async def _api_version(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["API-Version"] = API_VERSION


def create_app(settings: Settings, *, ledger: Ledger | None = None) -> web.Application:
    app = web.Application(middlewares=[problems], client_max_size=settings.max_body)
    app[state.SETTINGS] = settings
    app.on_response_prepare.append(_api_version)
    app.router.add_routes(routes)
    contact = {"name": settings.contact_name, "email": settings.contact_email, "url": settings.contact_url}
    app[state.OPENAPI] = orjson.dumps(document(contact))
    app.cleanup_ctx.append(_lifecycle(ledger))
    return app


def _lifecycle(ledger: Ledger | None) -> Callable[[web.Application], object]:
    async def context(app: web.Application):  # type: ignore[no-untyped-def]
        settings = app[state.SETTINGS]
        app[state.LEDGER] = ledger or Ledger(settings.db)
        app[state.DB] = ReadDB(settings.db)
        app[state.TOKENS] = TokenStore(app[state.DB])
        projector = Projector(app[state.LEDGER], app[state.DB])
        app[state.PROJECTOR] = projector
        if settings.projector == "embedded":
            projector.start()
        yield
        projector.stop()
        app[state.DB].close()
        if ledger is None:
            app[state.LEDGER].close()

    return context
