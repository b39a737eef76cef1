"""Logs as an operator reads them: JSON lines from a real `ledger serve`, each request's
line carrying the id echoed to the client, and never a token, a BSN, a query string or
anything out of an event."""

from __future__ import annotations

import io
import logging
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from api import logs
from tests.conftest import event, serve_demo
from tests.procs_ledger import Proc

PARTY = "GM0439"
BSN = "111222333"  # passes the elfproef
SECRET_TEXT = "kenmerk-dossier-Zeldzaam-7Q"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, Proc]]:
    with serve_demo(tmp_path, LEDGER_RATE_LIMIT="1", LEDGER_RATE_BURST="20") as (demo, proc):
        yield demo.base, demo.admin, proc


def call(base: str, path: str, secret: str, body: Any = None, request_id: str | None = None) -> tuple[int, str]:
    """(status, the response's X-Request-ID)."""
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    if request_id is not None:
        headers["X-Request-ID"] = request_id
    data = None if body is None else orjson.dumps(body)
    request = urllib.request.Request(base + path, data=data, headers=headers, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request) as r:
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
            raise ValueError(f"bad value {BSN} for {token_value}")
        except ValueError:
            log.exception("failed on %s", token_value)
        finally:
            logs.REQUEST_ID.reset(reset)
    finally:
        log.removeHandler(handler)
    line = orjson.loads(stream.getvalue())
    assert line["requestId"] == "req-1" and line["level"] == "ERROR"
    assert "ValueError" in line["error"] and "[bsn?]" in line["error"] and "plg_[redacted]" in line["message"]
    assert BSN not in stream.getvalue() and "s3cr3t" not in stream.getvalue()
    assert logs.scrub("position 123456780 of 111222334") == "position 123456780 of 111222334"  # no elfproef
