"""Snapshots of a party's books: a fresh process decides from a snapshot exactly as from
the whole history, and a snapshot of an older Book (whose state lacks what the rules now
need) is passed by for the events, never misread."""

from __future__ import annotations

from pathlib import Path

import pytest
from eventsourcing.domain import Snapshot

from ledger.application import SNAPSHOT_INTERVAL, BatchRefused, Ledger
from ledger.book import Book
from ledger.events import Event, parse_event
from tests.conftest import event
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


def test_a_book_loaded_from_its_snapshot_decides_as_from_its_events(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    first = Ledger(url)
    income = {"budget": "participatiebudget", "source": "rijk", "amountCents": 1}
    filler = [parse_event(event("IncomeBooked", income)) for _ in range(SNAPSHOT_INTERVAL)]
    first.post(history() + [parse_event(event("BudgetAllocated", income))] + filler, "admin:test")
    first.close()
    again = Ledger(url)
    try:
        (taken,) = again.snapshots.get(Book.create_id(PARTY))
        assert taken.state["class_version"] == Book.class_version
        assert_decides_placements(again)
    finally:
        again.close()


def test_a_snapshot_of_an_older_book_is_passed_by_for_the_events(tmp_path: Path) -> None:
    """Failing case before the fix: a version-1 snapshot (placements without dates)
    would be read as a current one, and the first placement after it failed."""
    url = f"sqlite:///{tmp_path}/ledger.db"
    first = Ledger(url)
    first.post(history(), "admin:test")
    book = first.repository.get(Book.create_id(PARTY))
    state = {k: v for k, v in Snapshot.take(book).state.items() if k != "class_version"}
    state["placements"] = {pid: {"kind": p["kind"], "hours": p["hours"], "ended": p["ended"] is not None}
                           for pid, p in state["placements"].items()}
    old = Snapshot(originator_id=book.id, originator_version=book.version, timestamp=Snapshot.create_timestamp(),
                   topic=Snapshot.take(book).topic, state=state)
    first.snapshots.put([old])
    first.close()
    again = Ledger(url)
    try:
        assert_decides_placements(again)
    finally:
        again.close()
