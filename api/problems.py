"""RFC 9457 problem details: every 4xx and 5xx the API sends is one of these.

`status`, `title` and `detail` are always present (the ADR ruleset requires all
three); `type` is a URN naming the rule or the kind of error, so a client can act
on it; validation errors add `invalidParams`, refused batches add `errors`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg
from aiohttp import web

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:participatie-ledger:problem:"


class Problem(Exception):
    """Raise anywhere in a handler to answer with a problem document."""

    def __init__(self, status: int, code: str, title: str, detail: str, **extra: Any):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.extra = extra
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        return {
            "type": TYPE_PREFIX + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }

    def response(self) -> web.Response:
        return web.Response(
            status=self.status,
            body=orjson.dumps(self.body()),
            content_type=PROBLEM_JSON,
            headers=self.headers,
        )


def bad_request(detail: str, invalid_params: list[dict[str, Any]]) -> Problem:
    return Problem(400, "invalid-input", "Invalid input", detail, invalidParams=invalid_params)


def bad_param(name: str, reason: str, code: str = "invalid") -> Problem:
    return bad_request(f"parameter {name}: {reason}", [{"name": name, "code": code, "reason": reason}])


def unauthorized(detail: str = "send a valid token as 'Authorization: Bearer <token>'") -> Problem:
    p = Problem(401, "unauthorized", "Unauthorized", detail)
    p.headers["WWW-Authenticate"] = 'Bearer realm="participatie-ledger"'
    return p


def forbidden(detail: str, **extra: Any) -> Problem:
    return Problem(403, "forbidden", "Forbidden", detail, **extra)


def not_found(detail: str) -> Problem:
    return Problem(404, "not-found", "Not found", detail)


# --- the database does not answer ---------------------------------------------------

RETRY_AFTER_SECONDS = 5

# SQLSTATEs that mean the server cannot serve this connection now, not that the request
# is wrong: class 08 (connection exception), the server shutting down or crashing
# (57P01, 57P02), still starting (57P03), no connection slot free (53300).
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
# Lock not available, statement timeout, deadlock, serialisation failure.
_BUSY_SQLSTATES = ("55P03", "57014", "40P01", "40001")
BUSY_RETRY_AFTER_SECONDS = 1


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc`, or an error it was raised from, says the database does not answer.

    That is a psycopg `OperationalError` from the client side (no SQLSTATE: connection
    refused or lost, and psycopg_pool's `PoolTimeout` while no connection can be made)
    or one of the SQLSTATEs above. The eventsourcing library wraps psycopg's errors in
    its own (`eventsourcing.persistence.OperationalError` ... `from` the original), so
    the chain of causes is followed. Not an outage: SQLite's "database is locked" and
    a lock or statement timeout (`database_busy`), psycopg's `InterfaceError` (a closed
    cursor: a bug) and a `PipelineAborted` (a statement before it failed)."""
    for current in _causes(exc):
        if isinstance(current, psycopg.OperationalError) and not isinstance(current, psycopg.errors.PipelineAborted):
            state = current.sqlstate
            if state is None or state.startswith(_UNAVAILABLE_SQLSTATES):
                return True
    return False


def database_busy(exc: BaseException) -> bool:
    """Whether `exc` says the database answers but another transaction kept it from
    this one's work in time: the write lock not had within the lock timeout
    (LEDGER_LOCK_TIMEOUT; PostgreSQL's 55P03, SQLite's "database is locked"), a
    statement timeout, a deadlock. Nothing was written; the same request may be sent
    again at once."""
    for current in _causes(exc):
        if isinstance(current, psycopg.Error) and current.sqlstate in _BUSY_SQLSTATES:
            return True
        if isinstance(current, sqlite3.OperationalError) and "database is locked" in str(current):
            return True
    return False


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and the errors it was raised from: the eventsourcing library wraps the
    drivers' errors in its own."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def unavailable(method: str) -> Problem:
    """503 with `Retry-After`: the database does not answer; a retry may succeed."""
    if method == "POST":
        detail = (
            "the database does not answer; a batch is stored whole or not at all: post it again with the "
            "same ids after Retry-After seconds (200 means it had been stored, 201 that it is stored now)"
        )
    else:
        detail = "the database does not answer; try again after Retry-After seconds"
    problem = Problem(503, "database-unavailable", "Database unavailable", detail)
    problem.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return problem


def busy() -> Problem:
    """503 with `Retry-After`: other writers held the lock longer than the lock timeout."""
    detail = (
        "other writers held the ledger's write lock longer than its lock timeout; nothing was stored: "
        "send the request again with the same ids after Retry-After seconds"
    )
    problem = Problem(503, "ledger-busy", "Ledger busy", detail)
    problem.headers["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
    return problem


# Titles for errors aiohttp raises itself (unknown route, wrong method, body too large).
HTTP_TITLES = {
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


def from_http_exception(exc: web.HTTPException, request: web.Request) -> Problem:
    code, title = HTTP_TITLES.get(exc.status, ("http-error", exc.reason))
    problem = Problem(exc.status, code, title, f"{title}: {request.method} {request.path}")
    if exc.status == 405 and "Allow" in exc.headers:
        problem.headers["Allow"] = exc.headers["Allow"]
    return problem
