"""A following projector projects its own process's posts in their write transaction.

Proven by making the log unreadable to the follower: the read model still reaches
the head as the post returns. Exactly once still holds where the inline path must
stand aside (the read model behind the log, as in a rebuild), where it fails (the
batch is stored all the same, and the follower applies it once), and where two
writers project their own posts at once (the read model is a rebuild's), on both stores.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from ledger.application import Ledger
from ledger.events import parse_event
from projections import queries, runner
from projections.db import ReadDB
from projections.runner import NAME, Projector
from projections.schema import READ_MODEL_TABLES, TRACKING

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


def _rows(db: ReadDB) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model table's rows, sorted (positions and all)."""
    with db.transaction() as cur:
        return {t: sorted(map(repr, cur.execute(f"SELECT * FROM {t}").fetchall())) for t in READ_MODEL_TABLES}


def test_two_processes_projecting_their_own_posts_at_once_apply_each_event_once(
    opened: Any,
) -> None:
    """Two ledgers on one store (as two API workers), each projecting its posts in their
    transactions, post batches for their own parties at the same time: the read model is
    the one a rebuild makes, row for row, with every event in it once."""
    ledger, db, projector = opened
    url = db.url
    parties = ("GM0439", "GM0440")
    ledger.post(
        [parse_event({"id": str(uuid.uuid4()), "type": "PartyRegistered", "party": p, "effectiveDate": "2014-01-01",
                      "data": {"name": p, "kind": "gemeente"}}) for p in parties]
        + [parse_event({"id": str(uuid.uuid4()), "type": "BudgetAllocated", "party": p, "effectiveDate": "2015-01-01",
                        "data": {"budget": "participatiebudget", "source": "rijk", "amountCents": 10**9}}) for p in parties],
        "admin:test",
    )
    projector.catch_up()
    workers = [(Ledger(url), ReadDB(url)) for _ in parties]
    projected: list[bool] = []
    failed: list[BaseException] = []

    def post_all(worker: tuple[Ledger, ReadDB], party: str) -> None:
        try:
            post_batches(worker, party)
        except BaseException as e:  # noqa: BLE001 - reported by the test's own thread
            failed.append(e)

    def post_batches(worker: tuple[Ledger, ReadDB], party: str) -> None:
        other, other_db = worker
        Projector(other, other_db).project_own_posts()
        for n in range(30):
            batch = [parse_event({"id": str(uuid.uuid4()), "type": "CostBooked", "party": party,
                                  "effectiveDate": f"2015-{n % 12 + 1:02d}-10",
                                  "data": {"budget": "participatiebudget", "category": "uitvoering", "amountCents": n + i + 1}})
                     for i in range(20)]
            projected.append(other.post(batch, "admin:test").projected)

    threads = [threading.Thread(target=post_all, args=(w, p)) for w, p in zip(workers, parties)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for other, other_db in workers:
        other_db.close()
        other.close()
    assert not failed, failed
    assert any(projected)  # the workers did project inline, interleaved
    projector.catch_up()  # whatever a worker left to the follower
    assert len(projected) == 60 and projector.position() == ledger.head() == 4 + 60 * 20
    live = _rows(db)
    assert len(live["log_events"]) == ledger.head()  # every event once
    projector.rebuild()
    assert _rows(db) == live


def test_a_process_starting_beside_an_inline_projection_waits_for_it_and_does_not_deadlock(pg_url: str) -> None:
    """A worker starting (its projector creating the read model's schema) while another
    worker's post holds the tracking row and is about to write its rows: the starting
    one waits on the tracking row before it locks any table, so the post's writes go
    through. Before, CREATE INDEX IF NOT EXISTS took SHARE locks on every table and
    then waited on the row: PostgreSQL found a deadlock and killed one of them."""
    ledger, db = Ledger(pg_url), ReadDB(pg_url)
    Projector(ledger, db)
    posting = psycopg.connect(db.conninfo)
    started: list[BaseException | None] = []

    def start_worker() -> None:
        try:
            other, other_db = Ledger(pg_url), ReadDB(pg_url)
            Projector(other, other_db)
            other_db.close()
            other.close()
            started.append(None)
        except BaseException as e:  # noqa: BLE001 - reported by the test
            started.append(e)

    try:
        posting.execute("SET lock_timeout = '10s'")
        posting.execute(f"UPDATE {TRACKING} SET position = position WHERE name = %s", (NAME,))  # as the CAS does
        worker = threading.Thread(target=start_worker)
        worker.start()
        _wait_until_blocked(posting, worker)
        for table in READ_MODEL_TABLES:  # the lock each of the post's COPYs and upserts takes
            posting.execute(f"LOCK TABLE {table} IN ROW EXCLUSIVE MODE")
        posting.commit()
        worker.join(30)
        assert started == [None]
    finally:
        posting.close()
        db.close()
        ledger.close()


def _wait_until_blocked(posting: psycopg.Connection[Any], worker: threading.Thread) -> None:
    """Until another backend waits on a lock (the starting worker, on the tracking row)."""
    with psycopg.connect(posting.info.dsn, autocommit=True) as watcher:
        for _ in range(200):
            (waiting,) = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> %s",
                (posting.info.backend_pid,),
            ).fetchone() or (0,)
            if waiting:
                return
            assert worker.is_alive(), "the worker started without waiting for the post's transaction"
            time.sleep(0.05)
    raise AssertionError("the starting worker never waited on the posting transaction")
