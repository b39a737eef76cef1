"""RFC 9457 problem details: every 4xx and 5xx the API sends is one of these.

`status`, `title` and `detail` are always present (the ADR ruleset requires all
three); `type` is a URN naming the rule or the kind of error, so a client can act
on it; validation errors add `invalidParams`, refused batches add `errors`.
"""

from __future__ import annotations

from typing import Any

import orjson
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
    return bad_request(f"query parameter {name}: {reason}", [{"name": name, "code": code, "reason": reason}])


def unauthorized() -> Problem:
    p = Problem(401, "unauthorized", "Unauthorized", "send a valid token as 'Authorization: Bearer <token>'")
    p.headers["WWW-Authenticate"] = 'Bearer realm="participatie-ledger"'
    return p


def forbidden(detail: str, **extra: Any) -> Problem:
    return Problem(403, "forbidden", "Forbidden", detail, **extra)


def not_found(detail: str) -> Problem:
    return Problem(404, "not-found", "Not found", detail)


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
