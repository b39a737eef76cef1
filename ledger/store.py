"""The event store: the library's recorders plus an idempotency receipt per client event.

Idempotency lives in the store, not in memory. Each accepted client event leaves a
receipt (its id, content hash, position and recorded time) written in the same
transaction as the stored event itself. A retry is answered from the receipt; two
processes posting the same id race on the receipt's primary key, and the loser's
whole batch rolls back and is retried against what the winner stored.

The SQLite recorder inserts the events first and knows their positions at once; the
PostgreSQL recorder learns them after its insert, so each writes receipts at that point.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Identifier

RECEIPTS_TABLE = "ledger_receipts"
_LOOKUP_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Receipt:
    event_id: str
    content_hash: str
    position: int
    recorded_at: str


@dataclass(frozen=True, slots=True)
class PendingReceipt:
    """A receipt before its event has a position; aligned one-to-one with stored events."""

    event_id: str
    content_hash: str
    recorded_at: str


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        yield ids[start : start + _LOOKUP_CHUNK]


class SQLiteLedgerRecorder(SQLiteApplicationRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {RECEIPTS_TABLE} ("
            "event_id TEXT PRIMARY KEY, content_hash TEXT NOT NULL, "
            "position INTEGER NOT NULL, recorded_at TEXT NOT NULL)",
        ]

    def _insert_events(
        self,
        c: Any,
        stored_events: Sequence[StoredEvent],
        *,
        receipts: Sequence[PendingReceipt] = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        if receipts:
            assert positions is not None and len(positions) == len(receipts)
            c.executemany(
                f"INSERT INTO {RECEIPTS_TABLE} VALUES (?,?,?,?)",
                [(r.event_id, r.content_hash, p, r.recorded_at) for r, p in zip(receipts, positions)],
            )
        return positions

    def receipts(self, event_ids: Sequence[str]) -> dict[str, Receipt]:
        found: dict[str, Receipt] = {}
        with self.datastore.transaction(commit=False) as c:
            for chunk in _chunks(event_ids):
                c.execute(
                    f"SELECT event_id, content_hash, position, recorded_at FROM {RECEIPTS_TABLE} "
                    f"WHERE event_id IN ({','.join('?' * len(chunk))})",
                    list(chunk),
                )
                for row in c.fetchall():
                    found[row[0]] = Receipt(row[0], row[1], row[2], row[3])
        return found


class PostgresLedgerRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: Any, **kwargs: Any):
        super().__init__(datastore, **kwargs)
        self._receipts = SQL("{schema}.{table}").format(
            schema=Identifier(self.datastore.schema), table=Identifier(RECEIPTS_TABLE)
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {receipts} ("
                "event_id text PRIMARY KEY, content_hash text NOT NULL, "
                "position bigint NOT NULL, recorded_at text NOT NULL)"
            ).format(receipts=self._receipts)
        )

    def _fetch_ids_after_insert_events(
        self,
        curs: Any,
        stored_events: Sequence[StoredEvent],
        *,
        receipts: Sequence[PendingReceipt] = (),
        **kwargs: Any,
    ) -> Sequence[int] | None:
        positions = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if receipts:
            assert positions is not None and len(positions) == len(receipts)
            curs.executemany(
                SQL("INSERT INTO {receipts} VALUES (%s, %s, %s, %s)").format(receipts=self._receipts),
                [(r.event_id, r.content_hash, p, r.recorded_at) for r, p in zip(receipts, positions)],
            )
        return positions

    def receipts(self, event_ids: Sequence[str]) -> dict[str, Receipt]:
        found: dict[str, Receipt] = {}
        with self.datastore.transaction(commit=False) as curs:
            for chunk in _chunks(event_ids):
                curs.execute(
                    SQL(
                        "SELECT event_id, content_hash, position, recorded_at FROM {receipts} "
                        "WHERE event_id = ANY(%s)"
                    ).format(receipts=self._receipts),
                    (list(chunk),),
                )
                for row in curs.fetchall():
                    found[row["event_id"]] = Receipt(
                        row["event_id"], row["content_hash"], row["position"], row["recorded_at"]
                    )
        return found


def library_env(db_url: str) -> dict[str, str]:
    """The eventsourcing library's settings for a `sqlite:///path` or `postgresql://` URL."""
    if db_url.startswith("sqlite:///"):
        path = unquote(db_url[len("sqlite:///") :])  # sqlite:///./rel.db, sqlite:////abs.db
        if not path:
            raise ValueError(f"no file in SQLite URL {db_url!r}")
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "30",
            "APPLICATION_RECORDER_TOPIC": "ledger.store:SQLiteLedgerRecorder",
        }
    url = urlparse(db_url)
    if url.scheme in ("postgresql", "postgres"):
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_LOCK_TIMEOUT": "10",
            "POSTGRES_POOL_SIZE": "4",
            "POSTGRES_MAX_OVERFLOW": "4",
            "APPLICATION_RECORDER_TOPIC": "ledger.store:PostgresLedgerRecorder",
        }
    raise ValueError(f"unsupported database URL {db_url!r}: use sqlite:///path or postgresql://...")
