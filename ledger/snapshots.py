"""Snapshots of the books, held in the memory of the process that took them, never in the store.

Why: a snapshot read back from the database is state that no hash chain seals. An
altered one (a reserve of 10.00 made 510.00) was relied on by the rules, and
`ledger verify`, which recomputes the chain over the events, could not see it. The
alternatives were weighed: sealing snapshots with an HMAC needs a key the database's
users cannot read, a second secret to keep and rotate, and without it snapshots go
unused anyway; binding a snapshot to its last event's chain hash proves where it
stands, not what it holds, so it must be re-derived to be trusted, which is the replay
it was meant to save. So every book a rule decides on is derived, in the process that
decides, from the events the chain seals: the first time a process needs it, it is
replayed from its first event (50,000 events: under 2 s, see README), and
then kept in the aggregate cache. What the store may hold in a snapshots table from an
earlier version is never read.

The snapshots here only spare a reload the replay from the first event: a refused or
conflicting batch drops the books it advanced from the cache, and the next batch
rebuilds them from the latest snapshot this process took and the events after it.
One per book is kept (the latest); nobody but this process writes them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder, StoredEvent

# What `ledger verify` and /v1/audit/verify say of snapshots, beside the chain.
NOT_TRUSTED = "none trusted: every book is derived from the events verified here, never read from a stored snapshot"


class MemorySnapshots(AggregateRecorder):
    """The library's snapshot store, in memory: each book's latest snapshot."""

    def __init__(self) -> None:
        self._latest: dict[str, StoredEvent] = {}
        self._lock = threading.Lock()

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        with self._lock:
            for s in stored_events:
                held = self._latest.get(str(s.originator_id))
                if held is None or held.originator_version < s.originator_version:
                    self._latest[str(s.originator_id)] = s
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
        held = self._latest.get(str(originator_id))
        if held is None or (gt is not None and held.originator_version <= gt) or (lte is not None and held.originator_version > lte):
            return []
        return [held]
