"""Snapshots of the books: in the memory of the process that took them, and, with
LEDGER_SNAPSHOT_KEY, in the store sealed under that key; only a proven one is used.

Why: a snapshot read back from the database is state that no hash chain seals. An
altered one (a reserve of 10.00 made 510.00) was relied on by the rules, and
`ledger verify`, which recomputes the chain over the events, could not see it. Without
a key every book a rule decides on is derived, in the process that decides, from the
events the chain seals: replayed from its first event the first time a process needs
it (50,000 events: under 2 s), and nothing is read from the store's snapshots table.

With a key (a secret held outside the database, so that a writer of the database
cannot forge a seal) each stored snapshot carries an HMAC-SHA256 over its book id,
version, topic, the code that took it and its state. One whose seal does not match
(altered, or sealed under another key) is never used: the book is replayed from its
events, a warning is logged, and `ledger verify` names it. One sealed by other code
(another version of the ledger: the books' state may have another shape, see
`CODE`) is passed by as well, without alarm. A snapshot in this process's memory never
left it, and is always trusted: a refused or conflicting batch drops the books it
advanced from the cache, and the next batch rebuilds them from the latest snapshot this
process holds and the events after it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    InfrastructureFactory,
    PersistenceError,
    RecordConflictError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresFactory

from ledger.store import SCHEMA_LOCK  # the one lock the store creates its tables under

log = logging.getLogger("ledger.snapshots")

# What `ledger verify` and /v1/audit/verify say of snapshots without a key, beside the chain.
NOT_TRUSTED = "none trusted: every book is derived from the events verified here, never read from a stored snapshot"
_NOT_PROVEN = "altered, or sealed under another key: never used, the book is replayed from its events"

_MAC_BYTES = 32
_CODE_BYTES = 32
_DOMAIN = b"participatie-ledger snapshot seal 1\x00"


def _code() -> bytes:
    """The code whose books a snapshot holds: the ledger package's source and the library's
    version. The books' state has no version of its own, so a snapshot taken by other code
    (older attributes, another meaning) is not read by this code."""
    digest = hashlib.sha256(metadata.version("eventsourcing").encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode() + b"\x00" + source.read_bytes())
    return digest.digest()


CODE = _code()


class Seal:
    """HMAC-SHA256 under the key, over what a stored snapshot says it is."""

    def __init__(self, key: bytes):
        self._key = key

    def _mac(self, s: StoredEvent, code: bytes, state: bytes) -> bytes:
        topic = s.topic.encode()
        message = b"".join((
            _DOMAIN, UUID(str(s.originator_id)).bytes, s.originator_version.to_bytes(8, "big", signed=True),
            len(topic).to_bytes(4, "big"), topic, code, state,
        ))
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def close(self, s: StoredEvent) -> StoredEvent:
        """The snapshot as stored: its seal and this code's fingerprint before its state."""
        return StoredEvent(s.originator_id, s.originator_version, s.topic, self._mac(s, CODE, s.state) + CODE + s.state)

    def open(self, s: StoredEvent) -> tuple[bool, StoredEvent | None]:
        """(proven, the snapshot as taken if this code may use it)."""
        mac, code, state = s.state[:_MAC_BYTES], s.state[_MAC_BYTES:_MAC_BYTES + _CODE_BYTES], s.state[_MAC_BYTES + _CODE_BYTES:]
        if len(code) != _CODE_BYTES or not hmac.compare_digest(mac, self._mac(s, code, state)):
            return False, None
        usable = hmac.compare_digest(code, CODE)
        return True, StoredEvent(s.originator_id, s.originator_version, s.topic, state) if usable else None


class Snapshots(AggregateRecorder):
    """The library's snapshot recorder: each book's latest snapshot in memory and, with a
    `store` and its `seal`, every snapshot sealed in the store. `select_events` answers
    the repository's one question, the latest snapshot of a book: from memory, else the
    store's latest if proven, else none (the book is replayed from its first event)."""

    def __init__(self, store: AggregateRecorder | None = None, seal: Seal | None = None):
        assert (store is None) == (seal is None)
        self._store, self._seal = store, seal
        self._latest: dict[str, StoredEvent] = {}
        self._loaded_from: dict[str, int] = {}
        self._lock = threading.Lock()

    def insert_events(self, stored_events: Sequence[StoredEvent], *, memory_only: bool = False,
                      **kwargs: Any) -> Sequence[int] | None:
        with self._lock:
            for s in stored_events:
                held = self._latest.get(str(s.originator_id))
                if held is None or held.originator_version < s.originator_version:
                    self._latest[str(s.originator_id)] = s
        if self._store is not None and self._seal is not None and not memory_only:
            try:
                self._store.insert_events([self._seal.close(s) for s in stored_events])
            except RecordConflictError:
                pass  # another process stored this version of the book: the same state, sealed alike
            except PersistenceError as e:  # the batch it follows is stored: it must not fail for a snapshot
                log.warning("a snapshot was not stored (%s): a later load reads more events", type(e).__name__)
        return None

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        found = self._latest.get(str(originator_id))
        if found is None and self._store is not None and self._seal is not None:
            found = self._proven(self._store.select_events(originator_id, lte=lte, desc=True, limit=1))
        if found is None or (gt is not None and found.originator_version <= gt) or (
            lte is not None and found.originator_version > lte
        ):
            self._loaded_from[str(originator_id)] = 0
            return []
        self._loaded_from[str(originator_id)] = found.originator_version
        return [found]

    def _proven(self, rows: Sequence[StoredEvent]) -> StoredEvent | None:
        if not rows:
            return None
        assert self._seal is not None
        proven, snapshot = self._seal.open(rows[0])
        if not proven:
            log.warning("the stored snapshot of book %s at version %s is not proven by LEDGER_SNAPSHOT_KEY (%s); "
                        "run `ledger verify`", rows[0].originator_id, rows[0].originator_version, _NOT_PROVEN)
        return snapshot

    def loaded_from(self, originator_id: UUID | str) -> int:
        """The version of the snapshot the latest load of this book started from (0: none)."""
        return self._loaded_from.get(str(originator_id), 0)

    def check(self, parties: dict[str, str]) -> SnapshotCheck | None:
        """Every stored snapshot's seal (None without a key); `parties` names book ids."""
        if self._store is None or self._seal is None:
            return None
        report = SnapshotCheck()
        for book_id in _stored_books(self._store):
            for row in self._store.select_events(book_id):
                proven, usable = self._seal.open(row)
                if not proven:
                    report.unproven.append({"party": parties.get(str(row.originator_id)),
                                            "book": str(row.originator_id), "version": row.originator_version})
                else:
                    report.proven += 1
                    report.other_code += usable is None
        return report


@dataclass
class SnapshotCheck:
    """What `ledger verify` found of the store's snapshots."""

    proven: int = 0
    other_code: int = 0  # proven, but taken by another version of the ledger: not used
    unproven: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        stored = self.proven + len(self.unproven)
        text = f"{stored} stored, {self.proven} proven by LEDGER_SNAPSHOT_KEY"
        if self.other_code:
            text += f" ({self.other_code} taken by another version of the ledger: not used)"
        if self.unproven:
            named = ", ".join(f"{u['party'] or 'no party'} (book {u['book']}) version {u['version']}" for u in self.unproven)
            text += f"; NOT PROVEN ({_NOT_PROVEN}): {named}"
        return text


class _PostgresSnapshots(PostgresAggregateRecorder):
    """The library's table, asked once (as ledger/store.py's recorder is: the library's ten
    retries held a post for 30 s while the database was down), and created under the
    store's schema lock (processes starting together collide in PostgreSQL's catalog)."""

    select_events = PostgresAggregateRecorder.select_events.__wrapped__  # type: ignore[attr-defined]
    insert_events = PostgresAggregateRecorder.insert_events.__wrapped__  # type: ignore[attr-defined]

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as lock:
            lock.execute(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
            super().create_table()


def stored_recorder(factory: InfrastructureFactory[Any]) -> AggregateRecorder:
    """The library's snapshots table of this store."""
    if not isinstance(factory, PostgresFactory):
        return factory.aggregate_recorder(purpose="snapshots")
    recorder = _PostgresSnapshots(datastore=factory.datastore, events_table_name=f"{factory.env.name.lower()}_snapshots")
    if factory.env_create_table():
        recorder.create_table()
    return recorder


def _stored_books(store: AggregateRecorder) -> Iterable[str]:
    """The book ids the store's snapshots table holds rows of."""
    datastore: Any = store.datastore  # type: ignore[attr-defined]
    table = store.events_table_name  # type: ignore[attr-defined]
    if hasattr(datastore, "schema"):  # PostgreSQL
        table = f'"{datastore.schema}"."{table}"'
    with datastore.transaction(commit=False) as c:
        c.execute(f"SELECT DISTINCT originator_id FROM {table}")
        return sorted(str(row["originator_id"]) for row in c.fetchall())
