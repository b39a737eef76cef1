"""Structured logs: one JSON object per line, each request's lines tied by a request id.

`ledger serve` and `ledger project` log this way to stderr, for a log shipper to read
as it is. Every request gets an id: the client's `X-Request-ID` when it is a plain
token of at most 128 characters, else a new one. The id is echoed in the response's
`X-Request-ID`, so a user quoting it finds the server's lines for their request.

What is logged of a request is its method, path (never the query string), status,
size, time taken, the address it came from and the id of the token it used: never a
token, a body or anything out of an event. As a second line of defence every line is
scrubbed of anything shaped like a token (`plg_...`, a JWT) or a BSN (nine digits passing the
elfproef), whatever put it there. An exception is logged with its traceback and class
but not its message, which may quote a posted value.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import re
import sys
import traceback
import uuid
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from pythonjsonlogger.orjson import OrjsonFormatter

from ledger.privacy import mask_bsns

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
REQUEST_ID_HEADER = "X-Request-ID"
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# A CLI token, or a JWT (its header and payload are base64url JSON: `eyJ`).
_TOKEN_LIKE = re.compile(r"plg_[A-Za-z0-9_-]+|eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
REQUEST_ID_KEY = web.RequestKey("request_id", str)
PRINCIPAL_ID = web.RequestKey("principal_id", str)  # the token id, set once the request is authenticated


# A new request id: this process's random prefix and a count, unique without a call
# for random bytes on every request (a system call, after which the event loop waited
# for the GIL).
_PROCESS = uuid.uuid4().hex[:16]
_COUNT = itertools.count(1)


def request_id_for(request: web.Request) -> str:
    """The client's request id if it is fit to log and echo, else a new one."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _CLIENT_ID.fullmatch(given) else f"{_PROCESS}{next(_COUNT):016x}"


def scrub(text: str) -> str:
    """`text` with token-shaped strings and BSN-like numbers masked."""
    return mask_bsns(_TOKEN_LIKE.sub("[token redacted]", text), "[bsn?]")


class JsonFormatter(OrjsonFormatter):
    """time (RFC 3339, UTC), level, logger, message, requestId when in a request, and any
    `extra` fields; every text value scrubbed."""

    def __init__(self) -> None:
        super().__init__("{levelname}{name}{message}", style="{", timestamp="time",
                         rename_fields={"levelname": "level", "name": "logger", "exc_info": "error"})

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_data, record, message_dict)
        request_id = REQUEST_ID.get()
        if request_id is not None and "requestId" not in log_data:
            log_data["requestId"] = request_id

    def formatException(self, ei: Any) -> str:
        """The traceback of each exception in the chain, with its class but not its message:
        a message may quote what a client posted (openpyxl's quotes the text it refused)."""
        exc, parts, seen = ei[1], list[str](), set[int]()
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            frames = "".join(traceback.format_tb(exc.__traceback__))
            name = f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins.")
            parts.append(f"Traceback (most recent call last):\n{frames}{name} (message withheld from the log)")
            if exc.__cause__ is not None:
                parts.append("The above exception was the direct cause of the following exception:")
            elif exc.__context__ is not None and not exc.__suppress_context__:
                parts.append("During handling of the above exception, another exception occurred:")
            exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        return "\n\n".join(reversed(parts))

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {key: scrub(value) if isinstance(value, str) else value for key, value in log_data.items()}


def configure(level: int = logging.INFO) -> None:
    """JSON lines on stderr for this process (replacing any handler set before)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class AccessLogger(AbstractAccessLogger):
    """One line per request, as fields (see the module docstring for what is left out)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        principal = request.get(PRINCIPAL_ID)
        self.logger.info(
            "%s %s %s", request.method, request.path, response.status,
            extra={
                "requestId": request.get(REQUEST_ID_KEY),
                "method": request.method,
                "path": request.path,
                "status": response.status,
                "bytes": response.body_length,
                "ms": round(time * 1000, 1),
                "remote": request.remote,
                **({"token": principal} if principal else {}),
            },
        )


@web.middleware
async def request_ids(request: web.Request, handler: Any) -> web.StreamResponse:
    """Give the request its id, for the log lines written while it is served and for the
    response header (set in api/app.py's header hook, so problems carry it too)."""
    request_id = request_id_for(request)
    request[REQUEST_ID_KEY] = request_id
    token = REQUEST_ID.set(request_id)
    try:
        return await handler(request)
    finally:
        REQUEST_ID.reset(token)
