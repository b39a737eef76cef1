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

import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import EventStore, RecordConflictError, Transcoder

from ledger import chain, pseudonyms
from ledger.audit import Audit, Verification
from ledger.book import RECORDED_AT, Book
from ledger.effects import Effects
from ledger.events import LEDGER_ONLY_TYPES, REGISTRATION_TYPES, Event, parse_event
from ledger.privacy import bsn_like_fields
from ledger.pseudonyms import Keys
from ledger.rules import RuleViolation
from ledger.snapshots import NOT_TRUSTED, Seal, Snapshots, stored_recorder
from ledger.store import OnSealed, PendingReceipt, Receipt, library_env
from ledger.transcoder import OrjsonTranscoder

T = TypeVar("T")
SNAPSHOT_INTERVAL = 500
_CONFLICT_RETRIES = 16
_BACKOFF_CAP = 0.2  # seconds; a conflict waits a random time up to 2 ms doubled per attempt, up to this


@dataclass(frozen=True, slots=True)
class Accepted:
    """Where an event stands in the log: the answer to its post, then and on every retry."""

    id: str
    position: int
    recorded_at: str
    chain_hash: str

    @classmethod
    def of(cls, receipt: Receipt) -> Accepted:
        return cls(receipt.event_id, receipt.position, receipt.recorded_at, receipt.chain_hash)


@dataclass(frozen=True, slots=True)
class Post:
    """A client's batch, and who posted it."""

    events: Sequence[Event]
    posted_by: str
    dry_run: bool = False  # decide every event, store none (`Ledger.post`)
    imported: bool = False  # an import's: its clientRefs are pseudonyms already (ledger/pseudonyms.py)


@dataclass(frozen=True, slots=True)
class PostResult:
    results: list[Accepted]  # a dry run's: only the events stored before it
    created: bool  # False when every event was already in the ledger (a pure retry); a dry run: would be
    projected: bool = False  # the read model held it all as the post returned (`Ledger.project_inline`)
    dry_run: bool = False  # nothing was stored: every event was checked, `created` says whether any is new

    @property
    def last_position(self) -> int:
        return max(r.position for r in self.results)


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One event as stored: the client's content, what the ledger derived, the stamps,
    and its place in the hash chain."""

    position: int
    entry: dict[str, Any]
    derived: dict[str, Any]
    posted_by: str
    recorded_at: str
    content_hash: str
    previous_hash: str
    chain_hash: str
    effects: Effects | None = None  # as decided, for an event just posted; a reader derives them (ledger/effects.py)

    def sealed(self) -> dict[str, Any]:
        """The record its chain hash seals (ledger/chain.py)."""
        return chain.record(
            self.entry, self.derived, self.posted_by, self.position, self.recorded_at, self.previous_hash, self.content_hash
        )


class LogDamaged(Exception):
    """The store holds an event without its receipt, or the other way round: rows were
    deleted or moved behind the ledger's back. `ledger verify` names the position."""


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


def _distinct(events: Sequence[Event]) -> None:
    if len({e.id for e in events}) != len(events):
        raise ValueError("an id occurs twice in one batch")


def rfc3339(ts: datetime) -> str:
    """Fixed-width UTC instants (`isoformat` pads the year to four digits, where
    strftime leaves years below 1000 unpadded, and costs half), so text order is time
    order."""
    return ts.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


class _Batch:
    """The books one batch touches, and the events it accepted so far (for corrections
    of events earlier in the same batch)."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self.books: dict[str, Book | None] = {}
        self.versions_at_start: dict[str, int] = {}
        self.accepted: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        self.stored = False
        self.stored_parties: int | None = None

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

    def party_count(self) -> int:
        if self.stored_parties is None:
            self.stored_parties = self.ledger.recorder.book_count()  # type: ignore[attr-defined]
        new = sum(1 for party, book in self.books.items() if book is not None and self.versions_at_start[party] == 0)
        return self.stored_parties + new


class Ledger(Application[UUID]):
    name = "ledger"
    snapshotting_intervals = {Book: SNAPSHOT_INTERVAL}

    def __init__(self, db_url: str, lock_timeout: int | None = None, snapshot_key: bytes | None = None):
        self._snapshot_key = snapshot_key  # read by construct_snapshot_store, during super().__init__
        super().__init__(
            env={
                **library_env(db_url, lock_timeout),
                "AGGREGATE_CACHE_MAXSIZE": "20000",
                "IS_SNAPSHOTTING_ENABLED": "y",
            }
        )
        self._write_lock = threading.Lock()
        self.client_keys = self.recorder.client_keys()  # type: ignore[attr-defined]
        # Set by a projector that projects this process's posts in their own transaction
        # (projections/runner.py): called with a cursor of it, the position the log
        # stood at before the batch, and the batch as logged events; it answers whether
        # the batch's rows are written, so that the read model holds everything up to it.
        self.project_inline: Callable[[Any, int, list[LoggedEvent]], bool] | None = None

    def construct_snapshot_store(self) -> EventStore[UUID]:
        """Snapshots in this process's memory, and with a key sealed in the store too
        (only a proven one is read back): ledger/snapshots.py."""
        if self._snapshot_key is None:
            return EventStore(mapper=self.mapper, recorder=Snapshots())
        recorder = Snapshots(stored_recorder(self.factory), Seal(self._snapshot_key))
        return EventStore(mapper=self.mapper, recorder=recorder)

    @property
    def _snapshots(self) -> Snapshots:
        return self.snapshots.recorder  # type: ignore[union-attr,return-value]

    def construct_transcoder(self) -> Transcoder:
        transcoder = OrjsonTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    # --- writing ----------------------------------------------------------------

    def post(
        self,
        events: Sequence[Event],
        posted_by: str,
        recorded_at: Sequence[datetime] | None = None,
        first_position: int | None = None,
        dry_run: bool = False,
    ) -> PostResult:
        """Store every event of the batch, or none: raise `BatchRefused` or `IdReused`.
        Each clientRef is stored as its pseudonym (ledger/pseudonyms.py), except in an
        import: `recorded_at` and `first_position` are for one, the instants the events
        were first recorded in the ledger they were exported from (and pseudonymised
        there), and the position of the first (the log there may have gaps: PostgreSQL
        spends a position on every insert that rolled back). Every rule is still checked
        again. A `dry_run` decides every event as a post would, under the write lock,
        raises as it would, and then stores nothing: the books it advanced are evicted
        from the cache, as a refused batch's are, and no snapshot is taken of them."""
        post = Post(events, posted_by, dry_run, imported=recorded_at is not None)
        return self._post_alone(post if post.imported else self._admissible(post), recorded_at, first_position)

    @staticmethod
    def _admissible(post: Post) -> Post:
        """A client's post, refused before any key is made for it when it holds an id
        twice or a ClientErased: the ledger's own record of an erasure (`erase_client`),
        never a client's to post (it would claim a key destroyed that was not)."""
        _distinct(post.events)
        erasures = [(i, RuleViolation("erasure-by-command", "a ClientErased is made by `ledger erase-client`, "
                                      "which destroys the client's key"))
                    for i, e in enumerate(post.events) if e.type in LEDGER_ONLY_TYPES]
        if erasures:
            raise BatchRefused(erasures)
        return post

    def _pseudonymized(self, posts: Sequence[Post]) -> tuple[list[Post], Keys | None]:
        """Posts as the ledger stores them: a client's clientRefs as pseudonyms, the keys
        of all of them read in one round (and made for new clients, to be stored with the
        events); None for keys when no post names a client."""
        wanted = pseudonyms.clients(e for p in posts if not p.imported for e in p.events)
        if not wanted:
            return list(posts), None
        keys = self.client_keys.prepare(wanted)
        return [p if p.imported else replace(p, events=pseudonyms.with_keys(p.events, keys)) for p in posts], keys

    def erase_client(self, party: str, client_ref: str, reference: str, effective_date: str) -> Accepted | None:
        """Destroy the key of `party`'s client `client_ref`, recording that as a
        ClientErased (with `reference`, the AVG request, and the key's id; never the
        clientRef); None when the client has no key (never posted, or erased before).
        Crash-safe: the event's id is marked on the key row before it is posted, so a
        second run after a crash posts the same event (a retry) and then destroys the key.
        `InvalidEvent` for a reference a ClientErased cannot carry, `BatchRefused` for a
        party that is not registered."""
        key = self.client_keys.find(party, client_ref)
        if key is None:
            return None
        event_id = key.erasing or str(uuid4())
        event = parse_event({"id": event_id, "type": pseudonyms.ERASURE, "party": party, "effectiveDate": effective_date,
                             "reference": reference, "data": {"keyId": key.key_id}})  # a bad reference: nothing marked
        if key.erasing is None:
            self.client_keys.mark_erasing(key, event_id)
        stored = self.recorder.receipts([event_id])  # type: ignore[attr-defined]
        if event_id in stored:  # posted before a crash: only the key is left to destroy
            accepted = Accepted.of(stored[event_id])
        else:
            accepted = self._post_retrying([Post([event], "admin:cli-erase-client")])[0].results[0]
        self.client_keys.destroy(key)
        return accepted

    def adopt(self, staging: Ledger) -> int:
        """Store the whole log of `staging`, an import posted and checked there in full,
        in one transaction: its events at their positions, with their receipts as
        sealed there (ledger/store.py's `copy_in`). Only into an empty ledger; the
        number of events copied."""

        def pages() -> Iterator[tuple[Sequence[Any], Sequence[Receipt]]]:
            after = 0
            while notifications := staging.recorder.select_notifications(start=after, limit=1000, inclusive_of_start=False):
                _, receipts = staging.recorder.receipts_between(after, notifications[-1].id)  # type: ignore[attr-defined]
                yield notifications, receipts
                after = notifications[-1].id

        return self.recorder.copy_in(pages())  # type: ignore[attr-defined,no-any-return]

    def post_group(self, posts: Sequence[Post]) -> list[PostResult | Exception]:
        """Several independent posts, each still all or nothing, answered as posting them
        one by one in this order would answer them: each its `PostResult` or the error
        `post` raised. Where all are accepted they are stored in one transaction (group
        commit: the API's queued single-event posts cost one round of lookups, one
        insert and one commit); where any is refused, two share an id, or another
        process wrote one of the group's books meanwhile, one by one."""
        prepared = [self._outcome(p, self._admissible) for p in posts]
        answers = iter(self._group([p for p in prepared if isinstance(p, Post)]))
        return [p if isinstance(p, Exception) else next(answers) for p in prepared]

    def _group(self, posts: list[Post]) -> list[PostResult | Exception]:
        ids = [e.id for p in posts for e in p.events]
        if len(posts) > 1 and len(set(ids)) == len(ids) and not any(p.dry_run for p in posts):
            try:
                return list(self._post_retrying(posts, attempts=1))
            except Exception:  # noqa: BLE001 - answered one by one below
                # A refusal, a reused id, another process writing one of the group's many
                # books meanwhile (retried whole, two workers' groups kept colliding, 16
                # times in a row under the load test), or an error no rule foresaw: one
                # post at a time, each gets the answer it would get alone, and an error
                # of one is that one's alone.
                pass
        return [self._outcome(p, self._post_alone) for p in posts]

    def _post_alone(
        self, post: Post, recorded_at: Sequence[datetime] | None = None, first_position: int | None = None
    ) -> PostResult:
        _distinct(post.events)
        return self._post_retrying([post], recorded_at, first_position)[0]

    @staticmethod
    def _outcome(post: Post, step: Callable[[Post], T]) -> T | Exception:
        try:
            return step(post)
        except Exception as e:  # noqa: BLE001 - the caller answers each post with its own error
            return e

    def _post_retrying(
        self,
        posts: Sequence[Post],
        recorded_at: Sequence[datetime] | None = None,
        first_position: int | None = None,
        attempts: int = _CONFLICT_RETRIES,
    ) -> list[PostResult]:
        with self._write_lock:
            for attempt in range(attempts):
                batch = _Batch(self)
                try:  # pseudonyms on each attempt: a conflict may be another process's new key for a client
                    ready, keys = self._pseudonymized(posts)
                    return self._post_once(ready, batch, recorded_at, first_position, keys)
                except RecordConflictError:
                    if attempt == attempts - 1:
                        raise
                    # Another process wrote the same books first. Retrying at once lets a
                    # writer that never waits starve this one; a random pause does not.
                    time.sleep(random.uniform(0, min(_BACKOFF_CAP, 0.002 * 2**attempt)))
                finally:
                    if not batch.stored:
                        self._evict(batch.books)
        raise AssertionError("unreachable")

    def _post_once(
        self,
        posts: Sequence[Post],
        batch: _Batch,
        recorded_at: Sequence[datetime] | None = None,
        first_position: int | None = None,
        keys: Keys | None = None,
    ) -> list[PostResult]:
        """One try at storing `posts` in one transaction, with the new client `keys` their
        pseudonyms were made under; `recorded_at` is for a single post (an import)."""
        receipts = self.recorder.receipts([e.id for p in posts for e in p.events])  # type: ignore[attr-defined]
        answers: list[list[Accepted | None]] = []
        fresh: list[list[tuple[int, Event]]] = []  # per post: (index in it, event) not yet stored
        for p in posts:
            results: list[Accepted | None] = [None] * len(p.events)
            mine, reused = [], []
            for i, e in enumerate(p.events):
                receipt = receipts.get(e.id)
                if receipt is None:
                    mine.append((i, e))
                    continue
                if receipt.content_hash != e.content_hash:
                    reused.append(i)
                results[i] = Accepted.of(receipt)
            if reused:
                raise IdReused(reused)
            answers.append(results)
            fresh.append(mine)

        pending = []
        effects: list[Effects | None] = []
        projected: list[bool] = []  # what `project_inline` answered, once the batch was sealed
        for p, mine in zip(posts, fresh):
            violations: list[tuple[int, RuleViolation]] = []
            for i, e in mine:
                stamp = RECORDED_AT.set(recorded_at[i] if recorded_at is not None else None)
                try:
                    stored_events, decided_effects = self._decide(e, p.posted_by, batch)
                    pending.extend(stored_events)
                    effects.extend([decided_effects] * len(stored_events))
                except RuleViolation as v:
                    violations.append((i, v))
                finally:
                    RECORDED_AT.reset(stamp)
            if violations:
                if self.recorder.receipts([e.id for _, e in mine]):  # type: ignore[attr-defined]
                    # Another process stored these events after their receipts were looked
                    # up above but before their books were read: the books refuse them as
                    # a second time. Go round again, to answer from the receipts.
                    raise RecordConflictError("the batch was stored meanwhile")
                raise BatchRefused(violations)

        if any(p.dry_run for p in posts):  # only ever alone (`post_group`): decided, and nothing stored
            return [PostResult([a for a in results if a is not None], created=bool(mine), dry_run=True)
                    for results, mine in zip(answers, fresh, strict=True)]
        if pending:
            placed = [(n, i, e) for n, mine in enumerate(fresh) for i, e in mine]  # in the order decided
            stored = [
                PendingReceipt(ev.entry, ev.derived, ev.posted_by, e.content_hash, rfc3339(ev.timestamp))
                for (_, _, e), ev in zip(placed, pending, strict=True)
            ]
            # Straight to the event store: `Application.save` would also check each event
            # against a runtime protocol, a third of the posting time in batches of 1,000.
            projecting = None if self.project_inline is None else self._projecting(effects, projected)
            self.events.put(pending, receipts=stored, first_position=first_position,
                            on_sealed=self._sealing(keys, projecting))
            batch.stored = True
            for (n, i, _), r in zip(placed, stored, strict=True):
                assert r.receipt is not None  # completed by the recorder
                answers[n][i] = Accepted.of(r.receipt)
            for book in batch.snapshots_due():
                self._snapshot(book)
        return [
            PostResult([a for a in results if a is not None], created=bool(mine), projected=projected == [True])
            for results, mine in zip(answers, fresh, strict=True)
        ]

    def _decide(self, event: Event, posted_by: str, batch: _Batch) -> tuple[list[Any], Effects | None]:
        """Check one event against its party's books and record it there; return the
        library event to store, and the effects of a non-registration (for the
        projection in the same transaction)."""
        entry = event.entry
        fields = bsn_like_fields(entry)
        if fields:
            raise RuleViolation("bsn-like-value", f"{', '.join(fields)} holds a value that passes the elfproef")
        book = batch.book(event.party)
        effects = None
        if event.type in REGISTRATION_TYPES:
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
            decided = book.decide(entry, batch)
            derived, effects = decided.derived, decided.effects
            book.record(entry=entry, derived=derived, posted_by=posted_by, decided=decided)
        batch.accepted[event.id] = (entry, derived)
        return list(book.collect_events()), effects

    def _sealing(self, keys: Keys | None, projecting: OnSealed | None) -> OnSealed | None:
        """What the store runs in the batch's transaction once it is sealed: the new client
        keys written, then the batch projected (`_projecting`)."""
        if keys is None or not (keys.new or keys.new_secret):
            return projecting

        def on_sealed(cursor: Any, after: int, previous: str, sealed: Sequence[PendingReceipt]) -> None:
            self.client_keys.store(cursor, keys)
            if projecting is not None:
                projecting(cursor, after, previous, sealed)

        return on_sealed

    def _projecting(self, effects: Sequence[Effects | None], projected: list[bool]) -> OnSealed:
        """What the store runs once the batch is sealed, in its transaction: the batch
        as logged events, with the effects decided for them, handed to `project_inline`;
        its answer goes to `projected`."""

        def on_sealed(cursor: Any, after: int, previous: str, sealed: Sequence[PendingReceipt]) -> None:
            assert self.project_inline is not None
            events = []
            for p, e in zip(sealed, effects, strict=True):
                r = p.receipt
                assert r is not None
                events.append(
                    LoggedEvent(r.position, p.entry, p.derived, p.posted_by, r.recorded_at, r.content_hash, previous,
                                r.chain_hash, e)
                )
                previous = r.chain_hash
            projected.append(self.project_inline(cursor, after, events))

        return on_sealed

    def _cached_book(self, party: str) -> Book | None:
        """The party's book: this process's, cached; else derived from its events (after
        this process's latest snapshot of it, or with a key the store's latest proven
        one: ledger/snapshots.py) and snapshotted in memory, so that a refused batch's
        eviction reloads it from there rather than from its first event. A load that
        read a snapshot interval's worth of events or more also stores its snapshot
        (sealed), so that the next process's first load does not read them again."""
        book_id = Book.create_id(party)
        try:
            self.repository.cache.get(book_id)  # type: ignore[union-attr]
            loaded = False
        except KeyError:
            loaded = True
        try:
            book = self.repository.get(book_id, deepcopy_from_cache=False)
        except AggregateNotFoundError:
            return None
        if loaded:
            self._snapshot(book, memory_only=book.version - self._snapshots.loaded_from(book_id) < SNAPSHOT_INTERVAL)
        return book

    def _snapshot(self, book: Book, memory_only: bool = False) -> None:
        """Snapshot the stored book as it is in memory (the library's `take_snapshot`
        would reload it from the store first): into memory, and with a key into the store."""
        snapshot_class = getattr(type(book), "Snapshot", type(self).snapshot_class)
        self.snapshots.put([snapshot_class.take(book)], memory_only=memory_only)  # type: ignore[union-attr]

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
        previous, events, receipts = self.recorder.log_page(after, limit)  # type: ignore[attr-defined]
        if [r.position for r in receipts] != [position for position, _ in events]:
            raise LogDamaged(f"the events and receipts after position {after} do not pair up: run `ledger verify`")
        decode = self.mapper.transcoder.decode  # every stored event is a book's: no event objects needed
        for (position, state), receipt in zip(events, receipts):
            e = decode(state)
            yield LoggedEvent(
                position, e["entry"], e["derived"], e["posted_by"], receipt.recorded_at, receipt.content_hash, previous,
                receipt.chain_hash,
            )
            previous = receipt.chain_hash

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

    # --- auditing -------------------------------------------------------------------

    def verify(self, anchors: dict[int, str] | None = None, as_of: str | None = None, page: int = 1000) -> Verification:
        """Recompute the hash chain over the stored events and their receipts, in order,
        and name the first position that does not match (ledger/audit.py); with `as_of`,
        over the events recorded by then. It says, too, what of the stored snapshots is
        trusted: with a key, each one's seal checked (ledger/snapshots.py); without,
        none: the books are derived from these events alone."""
        audit = Audit(anchors=dict(anchors or {}))
        parties: dict[str, str] = {}  # book id: party, to name a snapshot by
        after = 0
        while not audit.failed and after is not None:
            notifications = self.recorder.select_notifications(start=after, limit=page, inclusive_of_start=False)
            upto = notifications[-1].id if notifications else self.recorder.last_receipt_position()  # type: ignore[attr-defined]
            _, receipts = self.recorder.receipts_between(after, upto)  # type: ignore[attr-defined]
            if not notifications and not receipts:
                break
            events = {n.id: n for n in notifications}
            by_position = {r.position: r for r in receipts}
            after = upto
            for position in sorted(events.keys() | by_position.keys()):
                receipt = by_position.get(position)
                if as_of is not None and receipt is not None and receipt.recorded_at > as_of:
                    after = None  # recordedAt never goes back: nothing later was known then
                    break
                if not self._verify_one(audit, position, events.get(position), receipt, parties):
                    break
        checked = self._snapshots.check(parties)
        if checked is None:
            return replace(audit.result(), snapshots=NOT_TRUSTED)
        return replace(audit.result(), snapshots=checked.summary(), snapshots_unproven=checked.unproven)

    def _verify_one(
        self, audit: Audit, position: int, notification: Any, receipt: Receipt | None, parties: dict[str, str]
    ) -> bool:
        if receipt is None:
            audit.fail(position, "a stored event without its receipt: the chain does not record it")
            return False
        if notification is None:
            audit.fail(position, "the chain records an event here that the store no longer holds: it was deleted or moved")
            return False
        try:
            e = self.mapper.to_domain_event(notification)
            entry, derived, posted_by = e.entry, e.derived, e.posted_by
        except Exception as error:  # a row altered past decoding is a finding, not a crash
            audit.fail(position, f"the stored event cannot be read ({type(error).__name__}): it was altered")
            return False
        parties[str(e.originator_id)] = entry.get("party")
        if receipt.event_id != entry.get("id"):
            audit.fail(position, "the stored event is not the one its receipt was written for: it was moved")
            return False
        # The receipt's content hash goes into the record; the audit checks it against the content.
        sealed = chain.record(entry, derived, posted_by, position, receipt.recorded_at, audit.previous, receipt.content_hash)
        return audit.check(position, sealed, receipt.chain_hash)
