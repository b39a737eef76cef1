"""The `ledger` command as an operator uses it: token, demo, rebuild, export, serve."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from typing import Any

import orjson

from ledger import chain, demo
from ledger.application import Ledger
from ledger.events import content_hash, parse_event
from projections import queries
from projections.db import ReadDB
from tests.procs_ledger import ROOT, cli, free_port

DEMO_EVENTS = sum(len(batch.events) for batch in demo.batches())


def ledger(store: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return cli(store, *args, check=check, timeout=120)


def _reads(store: str) -> tuple[Any, ...]:
    db = ReadDB(store)
    try:
        return queries.balances(db, parties=None), queries.reserves(db, parties=None, year=2016)
    finally:
        db.close()


def test_token_create_prints_the_token_alone(store: str) -> None:
    ledger(store, "demo")  # GM0439 registered: a token is for a registered party only
    out = ledger(store, "token", "create", "--role", "gemeente", "--party", "GM0439")
    (line,) = out.stdout.splitlines()
    assert line.startswith("plg_") and len(line) > 40
    assert line not in out.stderr
    bad = ledger(store, "token", "create", "--role", "controller", check=False)
    assert bad.returncode == 2 and "--party" in bad.stderr and not bad.stdout


def test_demo_then_rebuild_gives_identical_reads(store: str) -> None:
    ledger(store, "demo")
    before = _reads(store)
    assert any(r["saldoCents"] == -2_261_600 for r in before[0])  # Purmerend 2018
    out = ledger(store, "rebuild")
    assert "100%" in out.stderr and f"rebuilt the read model from {DEMO_EVENTS} events" in out.stderr
    assert _reads(store) == before
    ledger(store, "demo")  # loading the demo again is an idempotent retry
    assert _reads(store) == before


def test_demo_into_a_ledger_holding_other_figures_says_so_in_one_line(tmp_path: Any) -> None:
    """A ledger with an event of the demo's id but other content (another version of the
    demo): `ledger demo` names the batch and stops, storing none of it, no traceback."""
    store = f"sqlite:///{tmp_path}/ledger.db"
    first = demo.batches()[0]
    changed = [{**e, "reference": "een andere versie"} for e in first.events]
    other = Ledger(store)
    other.post([parse_event(e) for e in changed], "admin:test")
    other.close()
    out = ledger(store, "demo", check=False)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert first.title in line and "new database" in line


def test_export_writes_the_log_as_ndjson(store: str) -> None:
    ledger(store, "demo")
    lines = [orjson.loads(line) for line in ledger(store, "export").stdout.splitlines()]
    assert len(lines) == DEMO_EVENTS
    assert [e["position"] for e in lines] == sorted({e["position"] for e in lines})
    assert all({"id", "type", "party", "effectiveDate", "year", "data", "recordedAt", "postedBy"} <= set(e) for e in lines)



def _request(url: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_serve_answers_over_http(store: str) -> None:
    ledger(store, "demo")
    token = ledger(store, "token", "create", "--role", "auditor").stdout.strip()
    port = free_port()
    env = {**os.environ, "LEDGER_DB": store}
    server = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if _request(base + "/readyz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        status, body = _request(base + "/v1/balances?party=GM0439&year=2018", token)
        assert status == 200 and body["results"][0]["saldoCents"] == -2_261_600
        status, body = _request(base + "/v1/events", token, body={})
        assert status == 403  # an auditor never writes
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_export_then_import_into_an_empty_ledger_gives_identical_reads(store: str, tmp_path: Any) -> None:
    ledger(store, "demo")
    exported = ledger(store, "export").stdout
    target = f"sqlite:///{tmp_path}/imported.db"
    (tmp_path / "log.ndjson").write_text(exported)
    out = ledger(target, "import", str(tmp_path / "log.ndjson"))
    assert f"imported {DEMO_EVENTS} events" in out.stderr
    assert _reads(target) == _reads(store)
    # The same log, position by position: content, poster and recorded instant.
    assert ledger(target, "export").stdout == exported
    again = ledger(target, "import", str(tmp_path / "log.ndjson"), check=False)
    assert again.returncode == 2 and "not empty" in again.stderr


def _reseal(events: list[dict[str, Any]]) -> None:
    """Recompute every hash of an exported log, as a forger with the recipe would."""
    previous = chain.GENESIS
    for e in events:
        e["previousHash"], e["contentHash"] = previous, content_hash(chain.entry_of(e))
        e.pop("chainHash")
        e["chainHash"] = previous = chain.seal(e)


def test_import_refuses_a_tampered_export_and_a_log_that_breaks_the_rules(store: str, tmp_path: Any) -> None:
    ledger(store, "demo")
    lines = ledger(store, "export").stdout.splitlines()
    # Tampered: a 2018 reserve withdrawal doubled would take the reserve below zero.
    events = [orjson.loads(line) for line in lines]
    withdrawal = next(e for e in events if e["type"] == "ReserveWithdrawn" and e["year"] == 2018)
    withdrawal["data"]["amountCents"] *= 2
    target = f"sqlite:///{tmp_path}/imported.db"
    (tmp_path / "log.ndjson").write_bytes(b"\n".join(orjson.dumps(e) for e in events))
    out = ledger(target, "import", str(tmp_path / "log.ndjson"), check=False)
    assert out.returncode == 1, out.stderr
    assert f"chain breaks at position {withdrawal['position']}" in out.stderr and "nothing was stored" in out.stderr
    assert not (tmp_path / "imported.db").exists()  # nor an empty ledger left behind
    # With every hash recomputed the chain holds, and the rules still refuse it.
    _reseal(events)
    (tmp_path / "log.ndjson").write_bytes(b"\n".join(orjson.dumps(e) for e in events))
    out = ledger(target, "import", str(tmp_path / "log.ndjson"), check=False)
    assert out.returncode == 1 and "reserve-below-zero" in out.stderr


def test_an_export_with_gaps_in_its_positions_imports_position_for_position(
    pg_url: str, other_pg_url: str, tmp_path: Any, monkeypatch: Any
) -> None:
    """PostgreSQL spends a position on every insert that rolls back (here: the loser of
    two processes posting the same batch), so its log has gaps; the chain seals each
    event's position, so an import must keep them, into either store."""
    from tests.test_races import _event, _ledgers, _race

    first, second = _ledgers(pg_url)
    batch = [_event("CostBooked", {"budget": "participatiebudget", "category": "re-integratie", "amountCents": 70})]
    _race(first, second, batch, monkeypatch)
    first.post([_event("CostBooked", {"budget": "participatiebudget", "category": "re-integratie", "amountCents": 5})],
               "gemeente:test")
    positions = [e.position for e in first.log(after=0)]
    assert positions[-1] > len(positions), positions  # the gap this test is about
    exported = ledger(pg_url, "export").stdout
    (tmp_path / "log.ndjson").write_text(exported)
    for target in (f"sqlite:///{tmp_path}/imported.db", other_pg_url):
        out = ledger(target, "import", str(tmp_path / "log.ndjson"), check=False)
        assert out.returncode == 0, out.stderr
        assert f"imported {len(positions)} events" in out.stderr
        assert ledger(target, "export").stdout == exported, target
        assert ledger(target, "verify").returncode == 0


def test_reading_commands_refuse_a_ledger_file_that_does_not_exist(tmp_path: Any) -> None:
    """`ledger --db sqlite:///nonexistent.db status` made the file and answered healthy."""
    missing = tmp_path / "nonexistent.db"
    store = f"sqlite:///{missing}"
    for args in (["status"], ["token", "list"], ["export"], ["verify"], ["rebuild"],
                 ["sisa", "--party", "GM0439", "--year", "2018"], ["erase-client", "GM0439", "c-1", "--reference", "x"]):
        out = ledger(store, *args, check=False)
        assert out.returncode == 1 and "there is no ledger at" in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr and not missing.exists(), args


def test_token_create_refuses_a_party_that_is_not_registered_and_says_an_admin(store: str) -> None:
    ledger(store, "demo")
    for party in ("GM9999", "XX"):
        out = ledger(store, "token", "create", "--role", "gemeente", "--party", party, check=False)
        assert out.returncode == 2 and f"{party} is not a registered party" in out.stderr and not out.stdout
    out = ledger(store, "token", "create", "--role", "admin", "--party", "GM0439", check=False)
    assert out.returncode == 2 and "an admin token is not bound to a party" in out.stderr
    assert ledger(store, "token", "create", "--role", "gemeente", "--party", "GM0439").stdout.startswith("plg_")


def test_token_revoke_given_the_secret_asks_for_the_id_without_echoing_it(store: str) -> None:
    secret = ledger(store, "token", "create", "--role", "auditor").stdout.strip()
    out = ledger(store, "token", "revoke", secret, check=False)
    assert out.returncode == 2 and "tok_" in out.stderr and secret not in out.stderr + out.stdout


def test_a_refused_import_into_a_new_file_leaves_nothing_behind(tmp_path: Any) -> None:
    bad = tmp_path / "bad.ndjson"
    bad.write_text('{"not": "an event"}\n')
    target = tmp_path / "new.db"
    for source in (str(bad), str(tmp_path / "missing.ndjson")):
        out = ledger(f"sqlite:///{target}", "import", source, check=False)
        assert out.returncode == 1 and "nothing was stored" in out.stderr and "Traceback" not in out.stderr
        assert list(tmp_path.glob("new.db*")) == []


def test_serve_and_make_run_refuse_a_taken_port_in_one_line(store: str) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = ledger(store, "serve", "--port", str(port), check=False)
        assert out.returncode == 1 and f"cannot serve on 127.0.0.1:{port}" in out.stderr
        assert "Traceback" not in out.stderr
        before = (ROOT / "ledger.db").stat().st_mtime if (ROOT / "ledger.db").exists() else None
        made = subprocess.run(["make", "-s", "run", f"PORT={port}"], cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
        assert made.returncode != 0 and f"127.0.0.1:{port} is taken" in made.stdout + made.stderr
        after = (ROOT / "ledger.db").stat().st_mtime if (ROOT / "ledger.db").exists() else None
        assert after == before  # the ledger there, if any, untouched
