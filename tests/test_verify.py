"""Tamper evidence: `ledger verify` and /v1/audit/verify against rows edited directly in
the real SQLite and PostgreSQL stores, as someone with database access would."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg
import pytest

from ledger import chain, demo
from ledger.application import Ledger
from ledger.events import content_hash, parse_event
from tests.conftest import Api, assert_problem, event
from tests.test_cli import ledger


class Database:
    """Direct SQL on the event store, behind the ledger's back."""

    def __init__(self, url: str):
        self.postgres = url.startswith("postgresql")
        self.events, self.position = ("ledger_events", "notification_id") if self.postgres else ("stored_events", "rowid")
        self._url = url

    def run(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        if self.postgres:
            with psycopg.connect(self._url, autocommit=True) as conn:
                cur = conn.execute(sql.replace("?", "%s"), params)
                return cur.fetchall() if cur.description else []
        conn = sqlite3.connect(self._url.removeprefix("sqlite:///"))
        try:
            with conn:
                return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def alter_event(self, position: int, old: str, new: str) -> None:
        state = (
            "convert_to(replace(convert_from(state, 'UTF8'), ?, ?), 'UTF8')"
            if self.postgres
            else "CAST(replace(CAST(state AS TEXT), ?, ?) AS BLOB)"
        )
        self.run(f"UPDATE {self.events} SET state = {state} WHERE {self.position} = ?", old, new, position)

    def delete_event(self, position: int) -> None:
        self.run(f"DELETE FROM {self.events} WHERE {self.position} = ?", position)

    def swap_events(self, a: int, b: int) -> None:
        """Exchange the positions of two stored events (the receipts stay where they were)."""
        for old, new in ((a, -1), (b, a), (-1, b)):
            self.run(f"UPDATE {self.events} SET {self.position} = ? WHERE {self.position} = ?", new, old)


def load_demo(store: str) -> list[dict[str, Any]]:
    """Purmerend 2014-2018 stored through the application; the exported log."""
    app = Ledger(store)
    try:
        for batch in [demo.purmerend_setup()] + [demo.purmerend_year(y) for y in demo.YEARS]:
            app.post([parse_event(e) for e in batch], "admin:test")
    finally:
        app.close()
    return [orjson.loads(line) for line in ledger(store, "export").stdout.splitlines()]


def cost_at(log: list[dict[str, Any]], year: int, category: str) -> dict[str, Any]:
    return next(e for e in log if e["type"] == "CostBooked" and e["year"] == year and e["data"]["category"] == category)


def verify(store: str, *args: str) -> tuple[int, str]:
    out = ledger(store, "verify", *args, check=False)
    return out.returncode, out.stdout + out.stderr


def test_an_untouched_log_verifies_and_its_head_is_the_last_chain_hash(store: str) -> None:
    log = load_demo(store)
    code, out = verify(store)
    assert code == 0, out
    assert f"intact: 74 events; head at position {log[-1]['position']}: {log[-1]['chainHash']}" in out
    assert "snapshots: none trusted" in out  # the books are derived from these events (ledger/snapshots.py)
    # Each line seals its predecessor, and the hashes are the documented recipe.
    previous = chain.GENESIS
    for line in log:
        sealed = {k: v for k, v in line.items() if k != "chainHash"}
        assert sealed["previousHash"] == previous
        assert sealed["contentHash"] == content_hash(chain.entry_of(sealed))
        assert line["chainHash"] == chain.seal(sealed)
        previous = line["chainHash"]


def test_an_altered_event_is_named_by_its_position(store: str) -> None:
    log = load_demo(store)
    cost = cost_at(log, 2016, "scholing")  # 10.000 euro
    Database(store).alter_event(cost["position"], '"amountCents":1000000', '"amountCents":100000')
    code, out = verify(store)
    assert code == 1, out
    assert f"NOT INTACT at position {cost['position']}" in out


def test_a_deleted_event_is_named_by_its_position(store: str) -> None:
    log = load_demo(store)
    cost = cost_at(log, 2017, "diagnose")
    Database(store).delete_event(cost["position"])
    code, out = verify(store)
    assert code == 1, out
    assert f"NOT INTACT at position {cost['position']}: the chain records an event here" in out
    # Nothing else reads past the damage quietly either.
    rebuild = ledger(store, "rebuild", "--quiet", check=False)
    assert rebuild.returncode == 1 and "the log is damaged" in rebuild.stderr


def test_swapped_events_are_named_at_the_first_of_them(store: str) -> None:
    log = load_demo(store)
    first = cost_at(log, 2015, "activering")["position"]
    Database(store).swap_events(first, first + 1)
    code, out = verify(store)
    assert code == 1, out
    assert f"NOT INTACT at position {first}" in out


def test_an_altered_receipt_breaks_the_chain(store: str) -> None:
    log = load_demo(store)
    position = cost_at(log, 2014, "bbz")["position"]
    Database(store).run("UPDATE ledger_receipts SET recorded_at = ? WHERE position = ?", "2014-01-01T00:00:00.000000Z", position)
    code, out = verify(store)
    assert code == 1 and f"NOT INTACT at position {position}" in out, out


def test_an_event_deleted_with_its_receipt_breaks_the_next_link(store: str) -> None:
    log = load_demo(store)
    position = cost_at(log, 2018, "bbz")["position"]
    db = Database(store)
    db.delete_event(position)
    db.run("DELETE FROM ledger_receipts WHERE position = ?", position)
    code, out = verify(store)
    following = next(e["position"] for e in log if e["position"] > position)
    assert code == 1 and f"NOT INTACT at position {following}" in out, out


def test_a_rewritten_chain_is_caught_by_an_anchor_held_outside(store: str) -> None:
    """Someone who alters an event and recomputes every later chain hash gets a chain that
    is intact in itself; the chain hash the auditor wrote down still exposes it."""
    log = load_demo(store)
    anchor = f"{log[-1]['position']}:{log[-1]['chainHash']}"
    cost = cost_at(log, 2016, "scholing")
    db = Database(store)
    db.alter_event(cost["position"], '"amountCents":1000000', '"amountCents":100000')
    previous = next(e["chainHash"] for e in reversed(log) if e["position"] < cost["position"])
    for line in log[log.index(cost):]:
        if line is cost:
            line["data"]["amountCents"] = 100000
        sealed = {**{k: v for k, v in line.items() if k != "chainHash"}, "previousHash": previous}
        sealed["contentHash"] = content_hash(chain.entry_of(sealed))
        previous = chain.seal(sealed)
        db.run("UPDATE ledger_receipts SET chain_hash = ?, content_hash = ? WHERE position = ?",
               previous, sealed["contentHash"], line["position"])
    assert verify(store)[0] == 0  # the forgery is consistent...
    code, out = verify(store, "--anchor", anchor)
    assert code == 1 and f"NOT INTACT at position {log[-1]['position']}: its chain hash is not the anchored one" in out


def test_an_export_verifies_offline_and_a_tampered_one_does_not(store: str, tmp_path: Any) -> None:
    log = load_demo(store)
    path = tmp_path / "log.ndjson"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in log))
    assert verify(store, "--file", str(path))[0] == 0
    swapped = log[:10] + [log[11], log[10]] + log[12:]
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in swapped))
    code, out = verify(store, "--file", str(path))
    assert code == 1 and f"NOT INTACT at position {log[11]['position']}: does not follow the event before it" in out, out


def test_bad_anchors_and_instants_are_usage_errors(store: str) -> None:
    code, out = verify(store, "--anchor", "12:nothex")
    assert code == 2 and "POSITION:HASH" in out
    code, out = verify(store, "--as-of", "2017-03-01T00:00:00")
    assert code == 2 and "needs a time zone" in out


def test_verify_as_of_stops_where_the_log_stood(store: str) -> None:
    log = load_demo(store)
    last = log[len(demo.purmerend_setup()) + len(demo.purmerend_year(2014)) - 1]  # a batch's last: a commit follows
    code, out = verify(store, "--as-of", last["recordedAt"])
    assert code == 0 and f"intact: {last['position']} events; head at position {last['position']}: {last['chainHash']}" in out, out


def _race(store: str, parties: tuple[str, str], posts: int) -> list[Ledger]:
    """Two ledgers, as two API processes would be, each posting `posts` single events
    for its party at once; both parties registered first."""
    ledgers = [Ledger(store), Ledger(store)]
    register = [event("PartyRegistered", {"name": p, "kind": "gemeente"}, party=p, date="2014-01-01") for p in set(parties)]
    reserves = [event("ReserveEstablished", {"reserve": "r", "openingBalanceCents": 0, "purpose": "test"}, party=p,
                      date="2014-01-01") for p in set(parties)]
    ledgers[0].post([parse_event(e) for e in register + reserves], "admin:test")
    failures: list[BaseException] = []

    def write(app: Ledger, party: str) -> None:
        try:
            for i in range(posts):
                added = event("ReserveAdded", {"reserve": "r", "amountCents": 1 + i}, party=party, date="2014-02-01")
                app.post([parse_event(added)], f"gemeente:{party}")
        except BaseException as e:  # noqa: BLE001 - reported below, in the test's thread
            failures.append(e)

    threads = [threading.Thread(target=write, args=(app, party)) for app, party in zip(ledgers, parties)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    return ledgers


def test_concurrent_writers_keep_one_chain_and_recorded_order(store: str) -> None:
    """Racing inserts are sealed under the store's write lock: still one chain, and what
    was recorded by any instant is a prefix of the log."""
    ledgers = _race(store, ("GM0439", "GM0995"), 40)
    try:
        logged = list(ledgers[0].log(limit=1000))
        assert len(logged) == 84
        assert [e.recorded_at for e in logged] == sorted(e.recorded_at for e in logged)
        assert ledgers[1].verify().intact
    finally:
        for app in ledgers:
            app.close()


def test_concurrent_writers_on_the_same_books_both_get_through(store: str) -> None:
    """Two processes posting for one party conflict on its books; each conflict is retried
    on fresh state after a random pause, so neither starves and nothing is lost."""
    ledgers = _race(store, ("GM0439", "GM0439"), 40)
    try:
        added = [e for e in ledgers[0].log(limit=1000) if e.entry["type"] == "ReserveAdded"]
        assert len(added) == 80 and len({e.entry["id"] for e in added}) == 80
        assert ledgers[1].verify().intact
    finally:
        for app in ledgers:
            app.close()


# --- closed years and the HTTP route -----------------------------------------------


@pytest.fixture
async def closed(api: Api) -> Iterator[dict[str, Any]]:
    """Purmerend 2014-2018 with 2016 closed; the YearClosed's answer."""
    admin = api.token("admin")
    assert (await api.post(admin, {"events": demo.purmerend_setup()}))[0] == 201
    for year in demo.YEARS:
        assert (await api.post(admin, {"events": demo.purmerend_year(year)}))[0] == 201
    status, body = await api.post(admin, event("YearClosed", {}, date="2016-12-31"))
    assert status == 201
    return body["events"][0]


async def test_a_closed_year_is_sealed_with_its_figures_and_stays_unchanged(api: Api, closed: dict[str, Any]) -> None:
    auditor = api.token("auditor")
    _, year_closed = await api.get(auditor, f"/v1/events/{closed['id']}")
    assert year_closed["chainHash"] == closed["chainHash"]
    # Purmerend 2016 (reference/purmerend.md): 4.393.427 in (allocated + income), all spent.
    assert year_closed["derived"]["figures"] == [
        {"budget": "participatiebudget", "subBudget": None, "allocatedCents": 197_561_600,
         "incomeCents": 241_781_100, "spentCents": 439_342_700, "committedCents": 0}
    ]
    # A 2016 cost corrected after the close goes by the correction route into 2017.
    _, log = await api.get(auditor, "/v1/events", limit=1000)
    cost = next(e for e in log["results"] if e["type"] == "CostBooked" and e["year"] == 2016)
    fix = event("Correction", {"corrects": cost["id"], "reason": "dubbel"}, date="2017-03-15")
    assert (await api.post(api.token("admin"), fix))[0] == 201
    status, body = await api.get(auditor, "/v1/audit/verify", anchor=f"{closed['position']}:{closed['chainHash']}")
    assert status == 200 and body["intact"] is True
    assert body["closedYears"] == [{"party": "GM0439", "year": 2016, "position": closed["position"],
                                    "chainHash": closed["chainHash"], "figuresUnchanged": True, "changedAt": None,
                                    "reopenedAt": None}]
    assert body["anchors"] == [{"position": closed["position"], "hash": closed["chainHash"], "matches": True}]
    assert body["count"] == 76 and body["headPosition"] == body["count"]


async def test_the_verify_route_finds_an_altered_row_and_is_for_auditors(api: Api, closed: dict[str, Any]) -> None:
    auditor = api.token("auditor")
    _, log = await api.get(auditor, "/v1/events", limit=1000)
    withdrawal = next(e for e in log["results"] if e["type"] == "ReserveWithdrawn" and e["year"] == 2015)
    Database(api.db_url).alter_event(withdrawal["position"], '"amountCents":29065400', '"amountCents":9065400')
    status, body = await api.get(auditor, "/v1/audit/verify")
    assert status == 200 and body["intact"] is False
    assert body["firstBadPosition"] == withdrawal["position"] and "altered" in body["problem"]
    assert body["count"] == withdrawal["position"] - 1
    for role, party in (("gemeente", "GM0439"), ("controller", "GM0439")):
        r = await api.client.get("/v1/audit/verify", headers={"Authorization": f"Bearer {api.token(role, party)}"})
        assert_problem(r.status, r.content_type, await r.json(), 403)
    status, body = await api.get(auditor, "/v1/audit/verify", anchor="7:abc")
    assert status == 400 and body["invalidParams"][0]["name"] == "anchor"


async def test_verify_as_of_checks_the_log_as_it_stood_then(api: Api, closed: dict[str, Any]) -> None:
    """What was recorded by an instant is a prefix of the log: verified as of the close,
    a later alteration is outside it; verified now, it is found."""
    auditor = api.token("auditor")
    later = event("CostBooked", {"budget": "participatiebudget", "category": "scholing", "amountCents": 4_200}, date="2017-05-01")
    status, body = await api.post(api.token("admin"), later)
    assert status == 201
    Database(api.db_url).alter_event(body["events"][0]["position"], '"amountCents":4200', '"amountCents":420')
    status, then = await api.get(auditor, "/v1/audit/verify", asOf=closed["recordedAt"])
    assert status == 200 and then["intact"] is True and then["head"] == closed["chainHash"]
    assert then["headPosition"] == closed["position"]
    _, now = await api.get(auditor, "/v1/audit/verify")
    assert now["intact"] is False and now["firstBadPosition"] == body["events"][0]["position"]
