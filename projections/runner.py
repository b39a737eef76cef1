"""The projector: follows the event log and keeps the read model up to date.

Why not the library's `ProjectionRunner`: its SQLite recorder offers no
subscription, and it applies one event per transaction. This runner polls the log
(and is woken at once by an in-process writer), applies up to `batch_size` events
in one read-model transaction, and moves its tracking row in that same transaction
with a compare-and-set. Each event is therefore applied exactly once, across
crashes and even with several projectors running (API workers and `ledger project`):
whichever takes the write lock first advances, the others find nothing left to do.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import orjson
from tqdm import tqdm

from ledger.application import Ledger, LoggedEvent
from ledger.effects import effects_of
from projections.db import Cursor, ReadDB
from projections.schema import READ_MODEL_TABLES, TRACKING, create_schema

log = logging.getLogger(__name__)

NAME = "read-model"


def public_event(e: LoggedEvent) -> dict[str, Any]:
    """An event as the API shows it: the client's content and the ledger's stamps."""
    return {**e.entry, "position": e.position, "recordedAt": e.recorded_at, "postedBy": e.posted_by}


def apply_events(cur: Cursor, events: Sequence[LoggedEvent]) -> None:
    """Write the read-model rows for `events` (in log order) through `cur`."""
    log_rows, line_rows, reserve_rows = [], [], []
    for e in events:
        entry = e.entry
        log_rows.append(
            (
                e.position,
                entry["id"],
                entry["type"],
                entry["party"],
                entry["year"],
                entry["effectiveDate"],
                e.recorded_at,
                e.posted_by,
                orjson.dumps(public_event(e)).decode(),
            )
        )
        effects = effects_of(entry, e.derived)
        for d in effects.lines:
            line_rows.append(
                (
                    e.position,
                    entry["party"],
                    d.year,
                    d.budget,
                    d.sub_budget or "",
                    entry["effectiveDate"],
                    e.recorded_at,
                    d.allocated,
                    d.income,
                    d.spent,
                    d.committed,
                )
            )
        for r in effects.reserves:
            reserve_rows.append(
                (e.position, entry["party"], r.reserve, r.date, e.recorded_at, r.added, r.withdrawn, r.reflux)
            )
        _apply_registry(cur, e)
    cur.executemany(f"INSERT INTO log_events VALUES ({','.join('?' * 9)})", log_rows)
    cur.executemany(f"INSERT INTO budget_movements VALUES ({','.join('?' * 11)})", line_rows)
    cur.executemany(
        "INSERT INTO budget_lines VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (party, year, budget, sub_budget) "
        "DO UPDATE SET allocated = budget_lines.allocated + excluded.allocated, "
        "income = budget_lines.income + excluded.income, spent = budget_lines.spent + excluded.spent, "
        "committed = budget_lines.committed + excluded.committed",
        [row[1:5] + row[7:] for row in line_rows],
    )
    cur.executemany(f"INSERT INTO reserve_movements VALUES ({','.join('?' * 8)})", reserve_rows)


def _apply_registry(cur: Cursor, e: LoggedEvent) -> None:
    """Parties, memberships and reserves: rare events, applied one by one in order."""
    entry, data = e.entry, e.entry["data"]
    kind = entry["type"]
    if kind == "PartyRegistered":
        cur.execute(
            "INSERT INTO parties VALUES (?,?,?,NULL)", (entry["party"], data["name"], data["kind"])
        )
    elif kind == "OrganisationRegistered":
        cur.execute(
            "INSERT INTO parties VALUES (?,?,'organisation',?) ON CONFLICT (code) DO UPDATE SET "
            "name = excluded.name, kind = excluded.kind, fund_holder = excluded.fund_holder",
            (entry["party"], data["name"], data.get("fundHolder")),
        )
        cur.executemany(
            "INSERT INTO memberships VALUES (?,?,?,NULL)",
            [(entry["party"], m, entry["effectiveDate"]) for m in data["members"]],
        )
    elif kind == "MembershipChanged" and data["change"] == "joined":
        cur.execute(
            "INSERT INTO memberships VALUES (?,?,?,NULL)", (entry["party"], data["member"], entry["effectiveDate"])
        )
    elif kind == "MembershipChanged":
        cur.execute(
            "UPDATE memberships SET left_on = ? WHERE organisation = ? AND member = ? AND left_on IS NULL",
            (entry["effectiveDate"], entry["party"], data["member"]),
        )
    elif kind == "ReserveEstablished":
        cur.execute(
            "INSERT INTO reserves VALUES (?,?,?,?,?)",
            (entry["party"], data["reserve"], data["purpose"], int(data["revolving"]), entry["effectiveDate"]),
        )


class Projector:
    """Keeps the read model at the head of the log; see the module docstring."""

    def __init__(self, ledger: Ledger, db: ReadDB, batch_size: int = 1000):
        self.ledger = ledger
        self.db = db
        self.batch_size = batch_size
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._advanced = threading.Condition()
        self._thread: threading.Thread | None = None
        create_schema(db, NAME)

    def position(self) -> int:
        with self.db.transaction() as cur:
            row = cur.execute(f"SELECT position FROM {TRACKING} WHERE name = ?", (NAME,)).fetchone()
        return row[0] if row else 0

    def run_once(self) -> int:
        """Apply the next batch of events, if any; return how many were applied."""
        with self.db.transaction(write=True) as cur:
            lock = " FOR UPDATE" if self.db.postgres else ""
            (position,) = cur.execute(
                f"SELECT position FROM {TRACKING} WHERE name = ?{lock}", (NAME,)
            ).fetchone() or (0,)
            events = list(self.ledger.log(after=position, limit=self.batch_size))
            if not events:
                return 0
            apply_events(cur, events)
            cur.execute(f"UPDATE {TRACKING} SET position = ? WHERE name = ?", (events[-1].position, NAME))
        with self._advanced:
            self._advanced.notify_all()
        return len(events)

    def catch_up(self) -> int:
        total = 0
        while n := self.run_once():
            total += n
        return total

    def rebuild(self, progress: bool = False) -> int:
        """Empty the read model and replay the whole log into it."""
        with self.db.transaction(write=True) as cur:
            if self.db.postgres:
                cur.execute(f"SELECT position FROM {TRACKING} WHERE name = ? FOR UPDATE", (NAME,))
            for table in READ_MODEL_TABLES:
                cur.execute(f"DELETE FROM {table}")
            cur.execute(f"UPDATE {TRACKING} SET position = 0 WHERE name = ?", (NAME,))
        head = self.ledger.head()
        done = 0
        with tqdm(total=head, unit="event", disable=not progress, desc="rebuild") as bar:
            while n := self.run_once():
                done += n
                bar.update(self.position() - bar.n)
        return done

    # --- following the log in a thread -------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._follow, name="projector", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wake(self) -> None:
        self._wake.set()

    def _follow(self, idle: float = 0.2) -> None:
        while not self._stop.is_set():
            try:
                if self.run_once():
                    continue
            except Exception:  # the database may be busy or down: retry, never die
                log.exception("projector failed to apply a batch; retrying")
                self._stop.wait(1.0)
            self._wake.wait(timeout=idle)
            self._wake.clear()

    def wait_for(self, position: int, timeout: float) -> bool:
        """Block until the read model includes `position` (read-your-writes)."""
        deadline = time.monotonic() + timeout
        pause = 0.002
        while self.position() < position:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with self._advanced:
                self._advanced.wait(timeout=min(pause, left))
            pause = min(pause * 2, 0.05)
        return True
