"""The ledger application: posting batches of events, and reading the ordered log.

`Ledger` is synchronous (the eventsourcing library is); the HTTP layer calls it from
a thread executor. A batch is all or nothing: every event is checked against the
books of its party, and only if none is refused are all of them stored, with their
receipts, in one transaction, in the order the client sent them. That order is the
log's order: a batch that registers a party and then an organisation of it replays
in the same order.

Concurrency: within a process a lock serialises writers (SQLite allows one writer
anyway, and it lets the cached books be used without copying). Across processes, the
books' versions and the receipts' keys conflict in the database; the whole batch is
then retried on fresh state, so limits are re-checked and nothing is doubled.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import RecordConflictError

from ledger.book import RECORDED_AT, Book
from ledger.events import ADMIN_ONLY_TYPES, Event
from ledger.privacy import bsn_like_fields
from ledger.rules import RuleViolation
from ledger.store import PendingReceipt, library_env

SNAPSHOT_INTERVAL = 500
_CONFLICT_RETRIES = 8


@dataclass(frozen=True, slots=True)
class Accepted:
    """Where an event stands in the log: the answer to its post, then and on every retry."""

    id: str
    position: int
    recorded_at: str


@dataclass(frozen=True, slots=True)
class PostResult:
    results: list[Accepted]
    created: bool  # False when every event was already in the ledger (a pure retry)

    @property
    def last_position(self) -> int:
        return max(r.position for r in self.results)


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One event as stored: the client's content, what the ledger derived, and the stamps."""

    position: int
    entry: dict[str, Any]
    derived: dict[str, Any]
    posted_by: str
    recorded_at: str


class BatchRefused(Exception):
    """Some events broke rules; `violations` lists each by its index in the batch."""

    def __init__(self, violations: list[tuple[int, RuleViolation]]):
        super().__init__("; ".join(f"[{i}] {v}" for i, v in violations))
        self.violations = violations


class IdReused(Exception):
    """Some ids were posted before with different content; `indexes` lists them."""

    def __init__(self, indexes: list[int]):
        super().__init__(f"ids reused with different content at {indexes}")
        self.indexes = indexes


def rfc3339(ts: datetime) -> str:
    """Fixed-width UTC instants, so text order is time order."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Batch:
    """The books one batch touches, and the events it accepted so far (for corrections
    of events earlier in the same batch)."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.books: dict[str, Book | None] = {}
        self.versions_at_start: dict[str, int] = {}
        self.accepted: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        self.stored = False

    def book(self, party: str) -> Book | None:
        if party not in self.books:
            book = self.ledger._cached_book(party)
            self.books[party] = book
            self.versions_at_start[party] = 0 if book is None else book.version
        return self.books[party]

    def snapshots_due(self) -> list[Book]:
        """Books that passed a multiple of the snapshot interval in this batch."""
        return [
            book
            for party, book in self.books.items()
            if book is not None
            and book.version // SNAPSHOT_INTERVAL > self.versions_at_start[party] // SNAPSHOT_INTERVAL
        ]

    def party_kind(self, code: str) -> str | None:
        book = self.book(code)
        return None if book is None else book.kind

    def original(self, event_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        return self.accepted.get(event_id) or self.ledger.stored_event(event_id)


class Ledger(Application[UUID]):
    name = "ledger"
    snapshotting_intervals = {Book: SNAPSHOT_INTERVAL}

    def __init__(self, db_url: str):
        super().__init__(
            env={
                **library_env(db_url),
                "AGGREGATE_CACHE_MAXSIZE": "20000",
                "IS_SNAPSHOTTING_ENABLED": "y",
            }
        )
        self._write_lock = threading.Lock()

    # --- writing ----------------------------------------------------------------

    def post(
        self, events: Sequence[Event], posted_by: str, recorded_at: Sequence[datetime] | None = None
    ) -> PostResult:
        """Store every event of the batch, or none: raise `BatchRefused` or `IdReused`.
        `recorded_at` is for an import: the instants the events were first recorded in
        the ledger they were exported from (every rule is still checked again)."""
        if len({e.id for e in events}) != len(events):
            raise ValueError("an id occurs twice in one batch")
        with self._write_lock:
            for attempt in range(_CONFLICT_RETRIES):
                batch = _Batch(self)
                try:
                    return self._post_once(events, posted_by, batch, recorded_at)
                except RecordConflictError:
                    if attempt == _CONFLICT_RETRIES - 1:
                        raise
                finally:
                    if not batch.stored:
                        self._evict(batch.books)
        raise AssertionError("unreachable")

    def _post_once(
        self, events: Sequence[Event], posted_by: str, batch: _Batch, recorded_at: Sequence[datetime] | None = None
    ) -> PostResult:
        receipts = self.recorder.receipts([e.id for e in events])  # type: ignore[attr-defined]
        results: list[Accepted | None] = [None] * len(events)
        reused = []
        for i, e in enumerate(events):
            receipt = receipts.get(e.id)
            if receipt is None:
                continue
            if receipt.content_hash != e.content_hash:
                reused.append(i)
            results[i] = Accepted(e.id, receipt.position, receipt.recorded_at)
        if reused:
            raise IdReused(reused)
        fresh = [(i, e) for i, e in enumerate(events) if results[i] is None]
        if not fresh:
            return PostResult([r for r in results if r is not None], created=False)

        violations: list[tuple[int, RuleViolation]] = []
        pending = []
        for i, e in fresh:
            stamp = RECORDED_AT.set(recorded_at[i] if recorded_at is not None else None)
            try:
                pending.extend(self._decide(e, posted_by, batch))
            except RuleViolation as v:
                violations.append((i, v))
            finally:
                RECORDED_AT.reset(stamp)
        if violations:
            raise BatchRefused(violations)

        stamped = [(e, rfc3339(ev.timestamp)) for (_, e), ev in zip(fresh, pending, strict=True)]
        recordings = self.save(
            *pending,
            receipts=[PendingReceipt(e.id, e.content_hash, at) for e, at in stamped],
        )
        batch.stored = True
        for (i, _), (e, at), recording in zip(fresh, stamped, recordings, strict=True):
            results[i] = Accepted(e.id, recording.notification.id, at)
        for book in batch.snapshots_due():
            self._snapshot(book)
        return PostResult([r for r in results if r is not None], created=True)

    def _decide(self, event: Event, posted_by: str, batch: _Batch) -> list[Any]:
        """Check one event against its party's books and record it there; return the
        library event to store."""
        entry = event.entry
        fields = bsn_like_fields(entry)
        if fields:
            raise RuleViolation("bsn-like-value", f"{', '.join(fields)} holds a value that passes the elfproef")
        book = batch.book(event.party)
        if event.type in ADMIN_ONLY_TYPES:
            Book.check_registration(entry, book, batch)
            derived: dict[str, Any] = {}
            if book is None:
                book = Book(party=event.party, entry=entry, derived=derived, posted_by=posted_by)
                batch.books[event.party] = book
            else:
                book.record(entry=entry, derived=derived, posted_by=posted_by)
        else:
            if book is None:
                raise RuleViolation("unknown-party", f"{event.party} is not registered")
            derived = book.decide(entry, batch)
            book.record(entry=entry, derived=derived, posted_by=posted_by)
        batch.accepted[event.id] = (entry, derived)
        return list(book.collect_events())

    def _cached_book(self, party: str) -> Book | None:
        try:
            return self.repository.get(Book.create_id(party), deepcopy_from_cache=False)
        except AggregateNotFoundError:
            return None

    def _snapshot(self, book: Book) -> None:
        """Snapshot the stored book as it is in memory (the library's `take_snapshot`
        would reload it from the store first)."""
        snapshot_class = getattr(type(book), "Snapshot", type(self).snapshot_class)
        self.snapshots.put([snapshot_class.take(book)])  # type: ignore[union-attr]

    def _evict(self, parties: Iterable[str]) -> None:
        """Drop books a refused or conflicting batch may have advanced in the cache;
        the next batch reloads them from a snapshot and the events after it."""
        for party in parties:
            try:
                self.repository.cache.get(Book.create_id(party), evict=True)  # type: ignore[union-attr]
            except KeyError:
                pass

    # --- reading the log ----------------------------------------------------------

    def stored_event(self, event_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The (entry, derived) of an accepted event, found through its receipt."""
        receipt = self.recorder.receipts([event_id]).get(event_id)  # type: ignore[attr-defined]
        if receipt is None:
            return None
        logged = next(self.log(after=receipt.position - 1, limit=1))
        return logged.entry, logged.derived

    def log(self, after: int = 0, limit: int = 1000) -> Iterator[LoggedEvent]:
        """Events with positions after `after`, in order, at most `limit` of them."""
        for n in self.recorder.select_notifications(start=after, limit=limit, inclusive_of_start=False):
            e = self.mapper.to_domain_event(n)
            yield LoggedEvent(n.id, e.entry, e.derived, e.posted_by, rfc3339(e.timestamp))

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0
