"""The event store: the library's recorders plus an idempotency receipt per client event.

Idempotency lives in the store, not in memory. Each accepted client event leaves a
receipt (its id, content hash, position and recorded time) written in the same
transaction as the stored event itself. A retry is answered from the receipt; two
processes posting the same id race on the receipt's primary key, and the loser's
whole batch rolls back and is retried against what the winner stored.

The receipt also seals the event into the hash chain (ledger/chain.py) and fixes its
recorded instant, both under the write lock the insert holds: SQLite's, or the
EXCLUSIVE lock the library takes on PostgreSQL's events table. The SQLite recorder
knows the positions right after its insert; the PostgreSQL recorder learns them after
its insert; each writes the receipts at that point.

An import (`ledger import`) places events at the positions they had where they were
exported, gaps included (`first_position`): PostgreSQL spends a position on every
insert that rolled back, and the chain seals each event's position. It is posted into
a temporary ledger first, and then copied from there in one transaction (`copy_in`),
so that it is stored whole or not at all.

A post may also hand the recorder `on_sealed`: called with a cursor of the same
transaction, the position and chain hash the log stood at before the batch, and the
completed receipts, right after they are written. The API's projector writes the batch's
read-model rows there (projections/runner.py), so they commit with the events or
not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Notification, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL

from ledger import chain
from ledger.client_keys import KEYS_TABLE, SECRET_TABLE, ClientKeys, create_statements

RECEIPTS_TABLE = "ledger_receipts"
# PostgreSQL: the channel a commit of new events notifies (projections/notify.py listens),
# and the advisory lock key under which the event store's tables are created.
LOG_CHANNEL = "ledger_log"
SCHEMA_LOCK = 7243002
_LOOKUP_CHUNK = 500
# What a post may ask the recorder to run in its transaction (see the module docstring):
# called with a cursor, the position and chain hash the log stood at, and the receipts.
OnSealed = Callable[[Any, int, str, Sequence["PendingReceipt"]], None]
_WRITTEN_MEANWHILE = "the ledger was written to while the import was checked; import into a new database"


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the store answers for an accepted event, then and on every retry."""

    event_id: str
    content_hash: str
    position: int
    recorded_at: str
    chain_hash: str


@dataclass(slots=True)
class PendingReceipt:
    """An accepted event on its way into the store, aligned one-to-one with the stored
    events. The recorder completes it under the store's write lock, where position and
    predecessor are certain: `receipt` then holds its position, its recorded instant
    (never before its predecessor's, so what was recorded by any instant is a prefix
    of the log, across processes too) and its chain hash (ledger/chain.py)."""

    entry: dict[str, Any]
    derived: dict[str, Any]
    posted_by: str
    content_hash: str
    stamped_at: str
    receipt: Receipt | None = None


def _seal(pending: Sequence[PendingReceipt], positions: Sequence[int] | None, head: Any) -> list[Receipt]:
    """Chain each pending event to the one before it; the receipts to insert."""
    assert positions is not None and len(positions) == len(pending)
    previous, last_at = (head["chain_hash"], head["recorded_at"]) if head else (chain.GENESIS, "")
    receipts = []
    for p, position in zip(pending, positions):
        at = max(p.stamped_at, last_at)
        previous = chain.seal(chain.record(p.entry, p.derived, p.posted_by, position, at, previous, p.content_hash))
        last_at = at
        p.receipt = Receipt(p.entry["id"], p.content_hash, position, at, previous)
        receipts.append(p.receipt)
    return receipts


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        yield ids[start : start + _LOOKUP_CHUNK]


def _receipt(row: Any) -> Receipt:
    return Receipt(row["event_id"], row["content_hash"], row["position"], row["recorded_at"], row["chain_hash"])


class _Receipts:
    """The receipt queries, the same on both engines but for the placeholder and the
    tables' names."""

    _table: str
    _events: str  # the event store's table, as a query names it
    _position: str  # its column of positions (the notification id)
    _mark: str
    datastore: Any

    def _q(self, sql: str) -> str:
        return sql.replace("{t}", self._table).replace("?", self._mark)

    _keys_table = KEYS_TABLE
    _secret_table = SECRET_TABLE

    def client_keys(self) -> ClientKeys:
        """The key table of the client pseudonyms in this store (ledger/client_keys.py)."""
        return ClientKeys(self.datastore, self._mark, self._keys_table, self._secret_table)

    def _create_receipts(self) -> list[str]:
        return [
            self._q(
                "CREATE TABLE IF NOT EXISTS {t} (event_id TEXT PRIMARY KEY, content_hash TEXT NOT NULL, "
                "position BIGINT NOT NULL UNIQUE, recorded_at TEXT NOT NULL, chain_hash TEXT NOT NULL)"
            )
        ]

    def _write_receipts(
        self,
        cursor: Any,
        pending: Sequence[PendingReceipt],
        positions: Sequence[int] | None,
        on_sealed: OnSealed | None = None,
    ) -> None:
        cursor.execute(self._q("SELECT position, chain_hash, recorded_at FROM {t} ORDER BY position DESC LIMIT 1"))
        head = cursor.fetchone()
        self._insert_receipts(cursor, _seal(pending, positions, head))
        if on_sealed is not None:
            at, previous = (head["position"], head["chain_hash"]) if head else (0, chain.GENESIS)
            on_sealed(self._plain_cursor(cursor), at, previous, pending)

    def _plain_cursor(self, cursor: Any) -> Any:
        """A DB-API cursor of `cursor`'s transaction whose rows are tuples."""
        raise NotImplementedError

    def _insert_receipts(self, cursor: Any, receipts: Sequence[Receipt]) -> None:
        cursor.executemany(
            self._q("INSERT INTO {t} VALUES (?, ?, ?, ?, ?)"),
            [(r.event_id, r.content_hash, r.position, r.recorded_at, r.chain_hash) for r in receipts],
        )

    def copy_in(self, pages: Iterable[tuple[Sequence[Notification], Sequence[Receipt]]]) -> int:
        """Store a whole log, checked elsewhere (`Ledger.adopt`): each page's events at
        their positions and their receipts as they are, all in one transaction, and only
        into an empty log; the number of events copied."""
        try:
            return self._copy_in(pages)
        except IntegrityError as e:  # a position or an id taken meanwhile
            raise ValueError(_WRITTEN_MEANWHILE) from e

    def _copy_in(self, pages: Iterable[tuple[Sequence[Notification], Sequence[Receipt]]]) -> int:
        raise NotImplementedError

    def _check_copied(self, cursor: Any, copied: int) -> None:
        """The copy is the whole log: nothing was in it before, nor went in beside it."""
        for table in (self._events, self._table):
            cursor.execute(f"SELECT COUNT(*) AS n FROM {table}")
            if cursor.fetchone()["n"] != copied:
                raise ValueError(_WRITTEN_MEANWHILE)

    def book_count(self) -> int:
        """How many books (parties) the store holds: each began with a version-1 event."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT COUNT(*) AS n FROM {self._events} WHERE originator_version = 1")
            return int(c.fetchone()["n"])

    def receipts(self, event_ids: Sequence[str]) -> dict[str, Receipt]:
        """The receipts of those of `event_ids` that were accepted."""
        found: dict[str, Receipt] = {}
        with self.datastore.transaction(commit=False) as c:
            for chunk in _chunks(event_ids):
                marks = ",".join("?" * len(chunk))
                c.execute(self._q(f"SELECT * FROM {{t}} WHERE event_id IN ({marks})"), list(chunk))
                found.update((row["event_id"], _receipt(row)) for row in c.fetchall())
        return found

    def receipts_between(self, after: int, upto: int) -> tuple[str, list[Receipt]]:
        """The chain hash at or before `after` (where the range's chain starts), and the
        receipts of positions after `after` up to `upto`, in order."""
        with self.datastore.transaction(commit=False) as c:
            return self._receipt_range(c, after, upto)

    def _receipt_range(self, c: Any, after: int, upto: int) -> tuple[str, list[Receipt]]:
        """`receipts_between`, in the caller's transaction."""
        c.execute(self._q("SELECT chain_hash FROM {t} WHERE position <= ? ORDER BY position DESC LIMIT 1"), [after])
        row = c.fetchone()
        c.execute(self._q("SELECT * FROM {t} WHERE position > ? AND position <= ? ORDER BY position"), [after, upto])
        return (row["chain_hash"] if row else chain.GENESIS), [_receipt(r) for r in c.fetchall()]

    def log_page(self, after: int, limit: int) -> tuple[str, list[tuple[int, bytes]], list[Receipt]]:
        """Up to `limit` stored events after position `after`, as (position, state), with
        the chain hash they follow and the receipts of their range, read in one
        transaction: what `Ledger.log` pairs up. Plain rows: the library's
        `select_notifications` builds an object and a UUID per event, a fifth of a
        rebuild's reading for nothing the log needs."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT {self._position} AS position, state FROM {self._events} WHERE {self._position} > {self._mark} "
                f"ORDER BY {self._position} LIMIT {self._mark}",
                [after, limit],
            )
            events = [(row["position"], bytes(row["state"])) for row in c.fetchall()]
            if not events:
                return chain.GENESIS, [], []
            previous, receipts = self._receipt_range(c, after, events[-1][0])
            return previous, events, receipts

    def last_receipt_position(self) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._q("SELECT MAX(position) AS head FROM {t}"))
            row = c.fetchone()
        return (row["head"] if row else None) or 0


class SQLiteLedgerRecorder(_Receipts, SQLiteApplicationRecorder):
    _table = RECEIPTS_TABLE
    _mark = "?"
    _position = "rowid"

    @property
    def _events(self) -> str:
        return self.events_table_name

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *self._create_receipts(),
                *create_statements(self._keys_table, self._secret_table)]

    def _insert_events(
        self,
        c: Any,
        stored_events: Sequence[StoredEvent],
        *,
        receipts: Sequence[PendingReceipt] = (),
        first_position: int | None = None,
        on_sealed: OnSealed | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        if first_position is None:
            positions = self._insert_rows(c, stored_events)
        else:
            # SQLite gives the next row the highest rowid plus one: a placeholder row
            # just before `first_position`, gone again before the commit, leaves the gap.
            c.execute(f"SELECT COALESCE(MAX(rowid), 0) AS head FROM {self.events_table_name}")
            gap = _check_after(c.fetchone()["head"], first_position)
            if gap:
                c.execute(
                    f"INSERT INTO {self.events_table_name} (rowid, originator_id, originator_version, topic, state) "
                    "VALUES (?, 'position-gap', 0, '', x'')",
                    (first_position - 1,),
                )
            positions = self._insert_rows(c, stored_events)
            if gap:
                c.execute(f"DELETE FROM {self.events_table_name} WHERE rowid = ?", (first_position - 1,))
        if receipts:  # the insert above holds SQLite's write lock until commit
            self._write_receipts(c, receipts, positions, on_sealed)
        return positions

    def _insert_rows(self, c: Any, stored_events: Sequence[StoredEvent]) -> list[int]:
        """One executemany, where the library inserts row by row to read each rowid:
        from its first insert this transaction holds SQLite's write lock, and each row
        gets the highest rowid plus one, so the rows' positions are the run of numbers
        that ends at the highest rowid after them."""
        SQLiteAggregateRecorder._insert_events(self, c, stored_events)
        c.execute(f"SELECT MAX(rowid) AS head FROM {self.events_table_name}")
        last = c.fetchone()["head"]
        return list(range(last - len(stored_events) + 1, last + 1))

    def _plain_cursor(self, cursor: Any) -> Any:
        return cursor.sqlite_cursor.connection.cursor()  # rows are sqlite3.Row: tuple() takes them as they are

    def _copy_in(self, pages: Iterable[tuple[Sequence[Notification], Sequence[Receipt]]]) -> int:
        copied = 0
        with self.datastore.transaction(commit=True) as c:
            for events, receipts in pages:
                c.executemany(
                    f"INSERT INTO {self.events_table_name} (rowid, originator_id, originator_version, topic, state) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(n.id, UUID(str(n.originator_id)).hex, n.originator_version, n.topic, n.state) for n in events],
                )
                self._insert_receipts(c, receipts)
                copied += len(events)
            self._check_copied(c, copied)
        return copied


class PostgresLedgerRecorder(_Receipts, PostgresApplicationRecorder):
    _mark = "%s"
    _position = "notification_id"

    # The library retries these 10 times, 0.2 s apart, each attempt waiting for a pooled
    # connection: with the database down a call (GET /readyz) hung for over 30 s. Once
    # here: the pool tests connections before use, and callers retry (Ledger.post on a
    # conflict, a client on a 503).
    select_events = PostgresApplicationRecorder.select_events.__wrapped__  # type: ignore[attr-defined]
    select_notifications = PostgresApplicationRecorder.select_notifications.__wrapped__  # type: ignore[attr-defined]
    max_notification_id = PostgresApplicationRecorder.max_notification_id.__wrapped__  # type: ignore[attr-defined]

    def __init__(self, datastore: Any, **kwargs: Any):
        super().__init__(datastore, **kwargs)
        self._table = f'"{self.datastore.schema}"."{RECEIPTS_TABLE}"'
        self._events = f'"{self.datastore.schema}"."{self.events_table_name}"'
        self._keys_table = f'"{self.datastore.schema}"."{KEYS_TABLE}"'
        self._secret_table = f'"{self.datastore.schema}"."{SECRET_TABLE}"'
        # The pool backs off up to 300 s between reconnection attempts: after a 70 s
        # outage the API stayed down 50 s after PostgreSQL was back. At most 10 s here.
        self.datastore.pool.reconnect_timeout = 10.0
        statements = [*self._create_receipts(), *create_statements(self._keys_table, self._secret_table)]
        self.sql_create_statements.extend(SQL(statement) for statement in statements)  # type: ignore[arg-type]

    def create_table(self) -> None:
        """Processes starting together (API workers, the projector) take turns: two
        concurrent CREATE ... IF NOT EXISTS can still collide in PostgreSQL's catalog."""
        with self.datastore.transaction(commit=True) as lock:
            lock.execute(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
            super().create_table()

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """One transaction, not pipelined: in the library's pipelined insert, a conflict
        the server reported before the pipeline's sync surfaced as "pipeline aborted"
        (an OperationalError, so a 500) instead of the IntegrityError that makes
        `Ledger.post` retry (about one race in 300 under load). Not retried here either,
        as above."""
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._insert_stored_events(curs, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

    def _plain_cursor(self, cursor: Any) -> Any:
        return cursor.connection.cursor(row_factory=tuple_row)

    def _insert_receipts(self, cursor: Any, receipts: Sequence[Receipt]) -> None:
        """By COPY: one stream for the batch, where an executemany is a statement per row."""
        with cursor.copy(f"COPY {self._table} (event_id, content_hash, position, recorded_at, chain_hash) FROM STDIN") as copy:
            for r in receipts:
                copy.write_row((r.event_id, r.content_hash, r.position, r.recorded_at, r.chain_hash))

    def _copy_in(self, pages: Iterable[tuple[Sequence[Notification], Sequence[Receipt]]]) -> int:
        """Under the events table's lock; the position sequence then goes on after the
        last copied position."""
        table = self._events
        copied = last = 0
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._lock_table(curs)
            for events, receipts in pages:
                curs.executemany(
                    f"INSERT INTO {table} (notification_id, originator_id, originator_version, topic, state) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    [(n.id, UUID(str(n.originator_id)), n.originator_version, n.topic, n.state) for n in events],
                )
                self._insert_receipts(curs, receipts)
                copied, last = copied + len(events), events[-1].id
            self._check_copied(curs, copied)
            if copied:
                curs.execute("SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), %s)", (table, last))
                curs.execute(f"NOTIFY {LOG_CHANNEL}")
        return copied

    def _insert_stored_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], *, first_position: int | None = None, **kwargs: Any
    ) -> None:
        if first_position is not None:  # under the table lock, so no other insert takes a number meanwhile
            self._lock_table(curs)
            table = self._events
            curs.execute(f"SELECT COALESCE(MAX(notification_id), 0) AS head FROM {table}")
            _check_after(curs.fetchone()["head"], first_position)
            curs.execute("SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), %s, false)", (table, first_position))
        super()._insert_stored_events(curs, stored_events, **kwargs)

    def _fetch_ids_after_insert_events(
        self,
        curs: Any,
        stored_events: Sequence[StoredEvent],
        *,
        receipts: Sequence[PendingReceipt] = (),
        on_sealed: OnSealed | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        positions = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if receipts:  # the library locked the events table IN EXCLUSIVE MODE for this insert
            self._write_receipts(curs, receipts, positions, on_sealed)
            curs.execute(f"NOTIFY {LOG_CHANNEL}")  # delivered at commit: projectors wake at once
        return positions


def _check_after(head: int, first_position: int) -> bool:
    """Whether `first_position` leaves a gap after the log's `head` (it may not be in it)."""
    if first_position <= head:
        raise ValueError(f"position {first_position} is taken: the log already reaches position {head}")
    return first_position > head + 1


def postgres_params(db_url: str) -> dict[str, Any]:
    """Database, host, port, user and password of a `postgresql://` URL, with the
    ledger's defaults: what both the event store and the read side connect with."""
    url = urlparse(db_url)
    return {
        "dbname": url.path.lstrip("/") or "postgres",
        "host": url.hostname or "127.0.0.1",
        "port": url.port or 5432,
        "user": unquote(url.username or "postgres"),
        "password": unquote(url.password or ""),
    }


def sqlite_file(db_url: str) -> str | None:
    """The file of a `sqlite:///path` URL (sqlite:///./rel.db, sqlite:////abs.db); None
    for another database."""
    return unquote(db_url[len("sqlite:///") :]) if db_url.startswith("sqlite:///") else None


def library_env(db_url: str, lock_timeout: int | None = None) -> dict[str, str]:
    """The eventsourcing library's settings for a `sqlite:///path` or `postgresql://` URL;
    `lock_timeout`: seconds a write waits for the store's write lock (default 30 on
    SQLite, 10 on PostgreSQL)."""
    path = sqlite_file(db_url)
    if path is not None:
        if not path:
            raise ValueError(f"no file in SQLite URL {db_url!r}")
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": str(lock_timeout or 30),
            "APPLICATION_RECORDER_TOPIC": "ledger.store:SQLiteLedgerRecorder",
        }
    if urlparse(db_url).scheme in ("postgresql", "postgres"):
        pg = postgres_params(db_url)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": pg["dbname"],
            "POSTGRES_HOST": pg["host"],
            "POSTGRES_PORT": str(pg["port"]),
            "POSTGRES_USER": pg["user"],
            "POSTGRES_PASSWORD": pg["password"],
            "POSTGRES_LOCK_TIMEOUT": str(lock_timeout or 10),
            "POSTGRES_POOL_SIZE": "4",
            "POSTGRES_MAX_OVERFLOW": "4",
            # While the database is down a call waits this many seconds for a pooled
            # connection, then fails (the API answers 503), instead of the library's 30;
            # and each connection is tested before use, so one a restart broke is replaced.
            "POSTGRES_CONNECT_TIMEOUT": "3",
            "POSTGRES_PRE_PING": "y",
            "APPLICATION_RECORDER_TOPIC": "ledger.store:PostgresLedgerRecorder",
        }
    raise ValueError(f"unsupported database URL {db_url!r}: use sqlite:///path or postgresql://...")
