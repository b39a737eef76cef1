"""Snapshots of a party's books: taken and read in the memory of one process only
(ledger/snapshots.py). A book loaded from one decides exactly as from its whole
history; a snapshot in the store, altered or of an older Book, is never relied on; and
a refused post does not cost the replay of a book from its first event."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger.application import SNAPSHOT_INTERVAL, BatchRefused, Ledger
from ledger.book import Book
from ledger.events import Event, parse_event
from tests.conftest import event
from tests.procs_ledger import Proc, cli, free_port, readyz, token
from tests.test_subsidies import placement, placement_ended, target

PARTY = "GM0439"


def history() -> list[Event]:
    """Purmerend with a binding beschut-werk cap of 1 in 2015 and 2017, and b1 placed
    from February 2015 to March 2016."""
    registered = event("PartyRegistered", {"name": "Purmerend", "kind": "gemeente"}, date="2014-01-01")
    cap_2017 = target("beschut-werk", 1, binding=True) | {"effectiveDate": "2017-01-01"}
    return [parse_event(e) for e in (registered, target("beschut-werk", 1, binding=True), cap_2017,
                                     placement("b1", "beschut-werk", 32, "2015-02-01"), placement_ended("b1", "2016-03-01"))]


def placed(pid: str, on: str) -> Event:
    return parse_event(placement(pid, "beschut-werk", 32, on))


def assert_decides_placements(ledger: Ledger) -> None:
    """2015's one place was b1's on 31 December; from 2016 on it is free."""
    with pytest.raises(BatchRefused) as refused:
        ledger.post([placed("b2", "2015-06-01")], "gemeente:test")
    assert refused.value.violations[0][1].rule == "placement-cap-reached"
    ledger.post([placed("b2", "2016-06-01")], "gemeente:test")


def filler(n: int) -> list[Event]:
    income = {"budget": "participatiebudget", "source": "rijk", "amountCents": 1}
    return [parse_event(event("IncomeBooked", income)) for _ in range(n)]


def test_a_book_loaded_from_its_snapshot_decides_as_from_its_events(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    income = {"budget": "participatiebudget", "source": "rijk", "amountCents": 1}
    first = Ledger(url)
    try:
        first.post(history() + [parse_event(event("BudgetAllocated", income))] + filler(SNAPSHOT_INTERVAL), "admin:test")
        (taken,) = first.snapshots.get(Book.create_id(PARTY))  # type: ignore[union-attr]
        assert taken.originator_version > SNAPSHOT_INTERVAL
        first._evict([PARTY])  # as a refused batch does: reloaded from the snapshot
        assert_decides_placements(first)
    finally:
        first.close()
    again = Ledger(url)  # a new process: from the events alone
    try:
        assert not list(again.snapshots.get(Book.create_id(PARTY)))  # type: ignore[union-attr]
        with pytest.raises(BatchRefused) as refused:
            again.post([placed("b3", "2015-07-01")], "gemeente:test")
        assert refused.value.violations[0][1].rule == "placement-cap-reached"
    finally:
        again.close()


def reserve_of_ten_euros(url: str) -> None:
    """GM0439 with a reserve of 10.00, and a snapshot of its books in the store's own
    snapshots table (where earlier versions kept them), altered to hold 510.00."""
    app = Ledger(url)
    try:
        registered = event("PartyRegistered", {"name": "Purmerend", "kind": "gemeente"}, date="2014-01-01")
        allocated = event("BudgetAllocated", {"budget": "participatiebudget", "source": "rijk", "amountCents": 100},
                          date="2015-01-01")
        reserve = event("ReserveEstablished", {"reserve": "r", "openingBalanceCents": 1_000, "purpose": "test"},
                        date="2015-01-01")
        app.post([parse_event(e) for e in (registered, allocated, reserve)], "admin:test")
        book = app.repository.get(Book.create_id(PARTY))
        forged = Book.Snapshot.take(book)
        moves = forged.state["reserves"]["r"]["moves"]
        moves["2015-01-01"] += 50_000
        stored = app.factory.event_store(mapper=app.mapper, recorder=app.factory.aggregate_recorder(purpose="snapshots"))
        stored.put([forged])
    finally:
        app.close()


def request(base: str, token_: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else orjson.dumps(body)
    r = urllib.request.Request(f"{base}{path}", data=data, headers={"Authorization": f"Bearer {token_}",
                                                                  "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(r, timeout=30) as answer:
            return answer.status, orjson.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, orjson.loads(e.read())


def test_a_snapshot_in_the_store_is_never_relied_on(store: str, tmp_path: Path) -> None:
    """Failing case before the fix: with the altered snapshot a withdrawal of 500.00 from
    the reserve of 10.00 was accepted (the reserve stood at -490.00), and verify said
    intact without a word on snapshots."""
    reserve_of_ten_euros(store)
    port = free_port()
    server = Proc.start("serve", store, ["serve", "--port", str(port)], tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while readyz(base)[0] != 200:
            assert server.alive() and time.monotonic() < deadline, server.text()
            time.sleep(0.2)
        withdrawal = event("ReserveWithdrawn", {"reserve": "r", "budget": "participatiebudget", "amountCents": 50_000},
                           date="2015-06-01")
        status, body = request(base, token(store, "admin"), "/v1/events", withdrawal)
        assert status == 422 and "reserve-below-zero" in f"{body.get('type')} {body.get('title')}", body
        status, body = request(base, token(store, "auditor"), "/v1/audit/verify")
        assert status == 200 and body["intact"] is True and body["snapshots"].startswith("none trusted"), body
    finally:
        server.stop()
    verified = cli(store, "verify", check=False)
    assert verified.returncode == 0 and "snapshots: none trusted" in verified.stdout, verified.stdout


def test_a_refused_post_reloads_its_book_from_memory_not_from_its_first_event(tmp_path: Path) -> None:
    """Only a process's first load of a book replays it from its first event; after a
    refusal (which drops the book from the cache) it is rebuilt from the snapshot that
    load took and the few events after it."""
    url = f"sqlite:///{tmp_path}/ledger.db"
    first = Ledger(url)
    first.post(history() + filler(2 * SNAPSHOT_INTERVAL), "admin:test")
    first.close()
    app = Ledger(url)
    try:
        reads: list[int | None] = []
        get = app.events.get

        def counted(originator_id: Any, *, gt: int | None = None, **kwargs: Any) -> Any:
            reads.append(gt)
            return get(originator_id, gt=gt, **kwargs)

        app.events.get = counted  # type: ignore[method-assign]
        for _ in range(3):
            with pytest.raises(BatchRefused):
                app.post([placed("b9", "2015-06-01")], "gemeente:test")
        app.post([placed("b2", "2016-06-01")], "gemeente:test")
        assert reads.count(None) == 1 and reads[0] is None, reads
        assert min(gt for gt in reads if gt is not None) >= 2 * SNAPSHOT_INTERVAL, reads
    finally:
        app.close()
