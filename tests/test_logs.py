"""Logs as an operator reads them: JSON lines from a real `ledger serve`, each request's
line carrying the id echoed to the client, and never a token, a BSN, a query string or
anything out of an event, whatever the event meets on its way (a refusal, an export, an
old log). A client that leaves mid-body or mid-stream is a client abort, not a 500."""

from __future__ import annotations

import io
import logging
import re
import socket
import sqlite3
import struct
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from api import logs
from api.render import XLSX
from tests.conftest import Served, event, serve_demo
from tests.procs_ledger import Proc

PARTY = "GM0439"
BSN = "111222333"  # passes the elfproef
SECRET_TEXT = "kenmerk-dossier-Zeldzaam-7Q"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, Proc]]:
    with serve_demo(tmp_path, LEDGER_RATE_LIMIT="1", LEDGER_RATE_BURST="20") as (demo, proc):
        yield demo.base, demo.admin, proc


@pytest.fixture(scope="module")
def open_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Proc]]:
    """The demo served without a rate limit, for the tests that read only their own lines."""
    with serve_demo(tmp_path_factory.mktemp("logs")) as served:
        yield served


def call(base: str, path: str, secret: str, body: Any = None, request_id: str | None = None,
         accept: str | None = None) -> tuple[int, str]:
    """(status, the response's X-Request-ID)."""
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    if request_id is not None:
        headers["X-Request-ID"] = request_id
    if accept is not None:
        headers["Accept"] = accept
    data = None if body is None else orjson.dumps(body)
    request = urllib.request.Request(base + path, data=data, headers=headers, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request) as r:
            r.read()
            return r.status, r.headers["X-Request-ID"]
    except urllib.error.HTTPError as e:
        return e.code, e.headers["X-Request-ID"]


def json_lines(proc: Proc) -> list[dict[str, Any]]:
    """Every log line; aiohttp's start-up banner (printed, not logged) aside, each is JSON."""
    lines = [line for line in proc.text().splitlines() if line.strip()]
    banner = [line for line in lines if not line.startswith("{")]
    assert all(line.startswith(("========", "(Press CTRL+C")) for line in banner), banner
    return [orjson.loads(line) for line in lines if line.startswith("{")]


def test_requests_are_logged_as_json_with_their_id_and_nothing_private(served: tuple[str, str, Proc]) -> None:
    base, admin, proc = served
    mine = event("CostBooked", {"budget": "participatiebudget", "category": "re-integratie", "amountCents": 7_654_321},
                 party=PARTY, reference=SECRET_TEXT)
    assert call(base, "/v1/events", admin, {"events": [mine]}, request_id="trace-42") == (201, "trace-42")
    with_bsn = event("CostBooked", {"budget": "participatiebudget", "category": "re-integratie", "amountCents": 1},
                     party=PARTY, reference=f"client {BSN}")
    status, refused_id = call(base, "/v1/events", admin, with_bsn, request_id="not a plain id")
    assert status == 422 and re.fullmatch(r"[0-9a-f]{32}", refused_id)
    assert call(base, f"/v1/balances?party={PARTY}&year=2015", admin)[0] == 200
    assert call(base, "/v1/balances", admin[:-3] + "xyz")[0] == 401
    statuses = [call(base, "/v1/parties", admin)[0] for _ in range(25)]
    assert 429 in statuses  # 20 at once, then one a second

    sent = 4 + len(statuses)
    deadline = time.monotonic() + 10
    while len(access := [line for line in json_lines(proc) if line.get("path", "/readyz") != "/readyz"]) < sent:
        assert time.monotonic() < deadline, access  # each line is written just after its response
        time.sleep(0.1)
    assert {"time", "level", "message", "requestId", "method", "path", "status", "ms"} <= set(access[0])
    (posted,) = [line for line in access if line["requestId"] == "trace-42"]
    assert posted["path"] == "/v1/events" and posted["status"] == 201 and posted["token"].startswith("tok_")
    assert [line["status"] for line in access if line["requestId"] == refused_id] == [422]
    assert sum(line["status"] == 429 for line in access) == statuses.count(429)
    text = proc.text()
    for private in (admin, admin.split("_", 2)[2], BSN, SECRET_TEXT, "year=2015", "7654321"):
        assert private not in text, private


def access_lines(proc: Proc, request_ids: set[str]) -> list[dict[str, Any]]:
    """The access lines of these requests, once each is written (just after its response)."""
    deadline = time.monotonic() + 10
    while len(lines := [line for line in json_lines(proc) if line.get("requestId") in request_ids
                        and "status" in line]) < len(request_ids):
        assert time.monotonic() < deadline, (request_ids, lines)
        time.sleep(0.1)
    return lines


def test_nothing_out_of_an_event_reaches_the_log_whatever_it_meets(open_demo: tuple[Served, Proc]) -> None:
    demo, proc = open_demo
    before = len(proc.text())
    cost = {"budget": "participatiebudget", "category": "re-integratie", "amountCents": 1}

    def posted(data: dict[str, Any] = cost, reference: str = SECRET_TEXT, **extra: Any) -> dict[str, Any]:
        return event("CostBooked", data, party=PARTY, reference=reference, **extra)

    kept = posted()
    sent = {
        "stored": (kept, {201}),
        "reused": ({**kept, "data": {**cost, "amountCents": 2}}, {409}),
        "refused": (posted({**cost, "budget": "geen-budget"}), {422}),
        "invalid": (posted({**cost, "amountCents": "1"}), {400}),
        "control": (posted(reference=SECRET_TEXT + "\u0001"), {201, 400}),  # refused since issue 15
    }
    for request_id, (body, statuses) in sent.items():
        assert call(demo.base, "/v1/events", demo.admin, body, request_id)[0] in statuses, request_id
    # An old log, from before control characters were refused, holds one in the reference.
    with sqlite3.connect(demo.db.removeprefix("sqlite:///")) as db:
        db.execute("UPDATE log_events SET body = replace(body, ?, ?)", [SECRET_TEXT, SECRET_TEXT + "\\u0001"])
    reads = {f"read-{n}": (path, accept) for n, (path, accept) in enumerate(
        (path, accept) for path in (f"/v1/events?party={PARTY}", f"/v1/balances/{PARTY}/2015/participatiebudget/trail")
        for accept in (XLSX, "text/csv", "application/json"))}
    reads["read-ndjson"] = ("/v1/events", "application/x-ndjson")
    reads["read-one"] = (f"/v1/events/{kept['id']}", "application/json")
    for request_id, (path, accept) in reads.items():
        assert call(demo.base, path, demo.admin, request_id=request_id, accept=accept)[0] == 200, (path, accept)
    lines = access_lines(proc, set(sent) | set(reads))
    assert all(line["status"] in (sent[line["requestId"]][1] if line["requestId"] in sent else {200}) for line in lines), \
        str([(line["requestId"], line["status"]) for line in lines])
    text = proc.text()[before:]
    assert SECRET_TEXT not in text and '"level":"ERROR"' not in text, text


def _connect(base: str, receive_buffer: int | None = None) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    s = socket.socket()
    if receive_buffer is not None:  # small, so the server waits on the client while it streams
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    s.connect((host, int(port)))
    return s


def _reset(s: socket.socket) -> None:
    """Close with a reset, as a client that crashed or gave up does."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def test_a_client_that_leaves_midway_is_a_client_abort_not_a_server_error(open_demo: tuple[Served, Proc]) -> None:
    demo, proc = open_demo
    before = len(proc.text())
    auth = f"Authorization: Bearer {demo.admin}\r\n"
    trickles = {
        "abort-body": "Content-Length: 100000\r\n\r\n{\"id\": \"",
        "abort-chunk": "Transfer-Encoding: chunked\r\n\r\n400\r\n{\"id\": \"",
    }
    for request_id, rest in trickles.items():
        s = _connect(demo.base)
        s.sendall(f"POST /v1/events HTTP/1.1\r\nHost: ledger\r\n{auth}X-Request-ID: {request_id}\r\n"
                  f"Content-Type: application/json\r\n{rest}".encode())
        time.sleep(0.3)
        s.sendall(b"6f1c2c9e")
        time.sleep(0.3)
        _reset(s)
    # A log larger than the kernel buffers it passes (4 MiB at most): the server waits on the client.
    cost = {"budget": "participatiebudget", "category": "re-integratie", "amountCents": 1}
    for n in range(4):
        batch = [event("CostBooked", cost, party="GM0995", date="2016-03-01", reference="x" * 200) for _ in range(2000)]
        assert call(demo.base, "/v1/events", demo.admin, {"events": batch}, f"bulk-{n}")[0] == 201
    s = _connect(demo.base, receive_buffer=4096)
    s.sendall(f"GET /v1/events HTTP/1.1\r\nHost: ledger\r\n{auth}X-Request-ID: abort-stream\r\n"
              "Accept: application/x-ndjson\r\n\r\n".encode())
    assert s.recv(64).startswith(b"HTTP/1.1 200")
    time.sleep(0.5)
    _reset(s)
    lines = access_lines(proc, {*trickles, "abort-stream"})
    assert {line["requestId"]: line["status"] for line in lines} == {"abort-body": 499, "abort-chunk": 499,
                                                                     "abort-stream": 499}
    text = proc.text()[before:]
    assert "Traceback" not in text and '"level":"ERROR"' not in text, text
    assert text.count("client disconnected") == 3, text


def test_a_log_line_is_scrubbed_of_tokens_and_bsns_whatever_wrote_it() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    log = logging.getLogger("tests.scrub")
    log.addHandler(handler)
    try:
        token_value = "plg_0123456789ab_" + "s3cr3t" * 7 + "x"
        reset = logs.REQUEST_ID.set("req-1")
        try:
            try:
                raise KeyError(SECRET_TEXT)
            except KeyError as e:
                raise ValueError(f"bad value {BSN} for {token_value}") from e
        except ValueError:
            log.exception("failed on %s for %s", token_value, BSN)
        finally:
            logs.REQUEST_ID.reset(reset)
    finally:
        log.removeHandler(handler)
    line = orjson.loads(stream.getvalue())
    assert line["requestId"] == "req-1" and line["level"] == "ERROR"
    assert line["message"] == "failed on [token redacted] for [bsn?]"
    # The traceback and each exception's class, never its message: it may quote a posted value.
    assert "test_logs.py" in line["error"] and "direct cause" in line["error"]
    assert "KeyError (message withheld" in line["error"] and "ValueError (message withheld" in line["error"]
    for private in (BSN, "s3cr3t", SECRET_TEXT):
        assert private not in stream.getvalue(), private
    assert logs.scrub("position 123456780 of 111222334") == "position 123456780 of 111222334"  # no elfproef


def test_a_jwt_is_scrubbed_like_a_cli_token() -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJqYW4ifQ.c2lnbmF0dXJl"
    assert logs.scrub(f"refused {jwt} and plg_abc_def") == "refused [token redacted] and [token redacted]"
