"""A following projector projects its own process's posts in their write transaction.

Proven by making the log unreadable to the follower: the read model still reaches
the head as the post returns. Exactly once still holds where the inline path must
stand aside (the read model behind the log, as in a rebuild) and where it fails (the
batch is stored all the same, and the follower applies it once), on both stores.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.events import parse_event
from projections import queries, runner
from projections.db import ReadDB
from projections.runner import NAME, Projector
from projections.schema import TRACKING

PARTY = "GM0439"


def _event(kind: str, data: dict[str, Any], date: str = "2015-06-30") -> Any:
    return parse_event({"id": str(uuid.uuid4()), "type": kind, "party": PARTY, "effectiveDate": date, "data": data})


def _setup() -> list[Any]:
    return [
        _event("PartyRegistered", {"name": "Purmerend", "kind": "gemeente"}, "2014-01-01"),
        _event("BudgetAllocated", {"budget": "participatiebudget", "source": "rijk", "amountCents": 10_000}),
    ]


def _costs(*cents: int) -> list[Any]:
    return [_event("CostBooked", {"budget": "participatiebudget", "category": "uitvoering", "amountCents": c}) for c in cents]


def _spent(db: ReadDB) -> int:
    (row,) = queries.balances(db, parties=None, year=2015)
    return int(row["spentCents"])


@pytest.fixture(params=["sqlite", "postgres"])
def opened(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[Ledger, ReadDB, Projector]]:
    url = f"sqlite:///{tmp_path}/ledger.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    ledger, db = Ledger(url), ReadDB(url)
    projector = Projector(ledger, db)
    yield ledger, db, projector
    projector.stop()
    db.close()
    ledger.close()


def _blind(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """The follower can no longer read the log: whatever reaches the read model came inline."""

    def unreadable(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the follower may not read the log in this test")

    monkeypatch.setattr(ledger, "log", unreadable)


def test_a_post_is_in_the_read_model_when_it_returns(opened: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger, db, projector = opened
    projector.start()
    _blind(ledger, monkeypatch)
    ledger.post(_setup(), "admin:test")
    result = ledger.post(_costs(1, 2, 3), "gemeente:test")
    assert result.projected and projector.position() == result.last_position == ledger.head()
    assert _spent(db) == 6
    shown = queries.events(db, parties=None, limit=10)[0]
    assert shown == [runner.public_event(e) for e in Ledger.log(ledger, after=0)]  # as the follower would show them


def test_a_read_model_behind_the_log_is_left_to_the_follower(opened: Any) -> None:
    ledger, db, projector = opened
    ledger.post(_setup(), "admin:test")  # not projected: nothing projects yet
    projector.project_own_posts()  # as a following projector does, without its thread
    assert not ledger.post(_costs(5), "gemeente:test").projected
    assert projector.position() == 0  # the read model did not stand at the log's head: nothing inline
    assert projector.catch_up() == 3
    assert _spent(db) == 5
    assert ledger.post(_costs(7), "gemeente:test").projected  # at the head again: inline
    assert projector.position() == ledger.head() and projector.catch_up() == 0
    assert _spent(db) == 12


def test_a_batch_the_read_model_cannot_take_is_stored_and_applied_once_later(
    opened: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, db, projector = opened
    ledger.post(_setup(), "admin:test")
    projector.catch_up()
    projector.project_own_posts()
    real_apply = runner.apply_events
    failing = {"on": True}

    def half_then_fail(cur: Any, events: Any) -> None:
        real_apply(cur, events[:1])  # rows written, then a failure: the savepoint takes them back
        if failing["on"]:
            raise RuntimeError("the read model cannot take this batch")
        real_apply(cur, events[1:])

    monkeypatch.setattr(runner, "apply_events", half_then_fail)
    result = ledger.post(_costs(10, 20), "gemeente:test")
    assert len(result.results) == 2 and ledger.head() == result.last_position  # stored all the same
    assert not result.projected
    with db.transaction() as cur:
        assert cur.execute(f"SELECT position FROM {TRACKING} WHERE name = ?", (NAME,)).fetchone() == (2,)
    assert _spent(db) == 0
    failing["on"] = False
    assert projector.catch_up() == 2
    assert _spent(db) == 30
    assert [e["position"] for e in queries.events(db, parties=None, limit=10)[0]] == [1, 2, 3, 4]
