"""Connections for the read side, on SQLite or PostgreSQL, with one SQL dialect.

Queries are written once with `?` placeholders and standard SQL that both engines
accept (including `INSERT ... ON CONFLICT ... DO UPDATE`); on PostgreSQL the
placeholders become `%s`. A write transaction takes the database's write lock up
front (`BEGIN IMMEDIATE` on SQLite; callers lock rows `FOR UPDATE` on PostgreSQL),
so two projectors never interleave.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from ledger.store import postgres_params, sqlite_file


class Cursor:
    """The few cursor operations the read side needs, the same on both engines."""

    def __init__(self, raw: Any, postgres: bool):
        self._raw = raw
        self._postgres = postgres

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self._postgres else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        self._raw.execute(self._sql(sql), params)
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._raw.executemany(self._sql(sql), rows)

    def insert(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        """Append rows to a table, every column in order: on PostgreSQL by COPY, which
        takes a batch's rows in one stream where an executemany sends a statement per
        row (a third of PostgreSQL's projection time)."""
        if not rows:
            return
        if not self._postgres:
            self._raw.executemany(f"INSERT INTO {table} VALUES ({','.join('?' * len(rows[0]))})", rows)
            return
        with self._raw.copy(f"COPY {table} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    @property
    def rowcount(self) -> int:
        return int(self._raw.rowcount)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._raw.fetchall()]

    def fetchone(self) -> tuple[Any, ...] | None:
        row = self._raw.fetchone()
        return None if row is None else tuple(row)


class NestedWrite(RuntimeError):
    """A write transaction was asked for inside a read one: it would not hold the write lock."""


@dataclass(frozen=True, slots=True)
class _Open:
    """The transaction open on a thread, which a nested `transaction()` joins."""

    cursor: Cursor
    write: bool


def conninfo(db_url: str) -> str:
    """libpq's connection string for a postgresql:// URL, with the ledger's defaults."""
    pg = postgres_params(db_url)
    return psycopg.conninfo.make_conninfo(**{**pg, "password": pg["password"] or None}, connect_timeout=5)


class ReadDB:
    """Read-model storage in the same database as the event store."""

    def __init__(self, db_url: str):
        self.url = db_url
        path = sqlite_file(db_url)
        self.postgres = path is None
        if self.postgres:
            self.conninfo = conninfo(db_url)
            # While the database is down a request waits at most `timeout` seconds for a
            # connection and then fails (the API answers 503). The pool reconnects in the
            # background, backing off 1, 2, 4, ... seconds; after `reconnect_timeout` it
            # gives a slot up, and the next request tries at once, so it is back within
            # seconds of the database however long it was away (with psycopg_pool's default
            # of 300 s in both pools, a 70 s outage kept the API down 50 s longer). `check`
            # tests each connection before handing it out: one a restart broke is replaced.
            # `max_size`: the API's read threads (api/waiting.py READ_THREADS, 8), the
            # projector's thread, and one to spare, so none of them waits for a connection.
            self._pool: ConnectionPool | None = ConnectionPool(
                conninfo=self.conninfo,
                min_size=1,
                max_size=10,
                open=True,
                timeout=3,
                reconnect_timeout=10,
                check=ConnectionPool.check_connection,
            )
        else:
            self._pool = None
            self._path = path
        self._local = threading.local()  # this thread's SQLite connection and open transaction

    def _sqlite(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator[Cursor]:
        """One transaction; committed if the block succeeds, rolled back otherwise. Inside
        another one on this thread it joins that one (so a request's queries share one
        transaction and one connection); a write may not join a read, which holds no lock."""
        joined: _Open | None = getattr(self._local, "open", None)
        if joined is not None:
            if write and not joined.write:
                raise NestedWrite("a write transaction inside a read transaction")
            yield joined.cursor
            return
        with self._outermost(write) as cursor:
            self._local.open = _Open(cursor, write)
            try:
                yield cursor
            finally:
                self._local.open = None

    @contextmanager
    def _outermost(self, write: bool) -> Iterator[Cursor]:
        if self._pool is not None:
            with self._pool.connection() as conn, conn.transaction():
                yield Cursor(conn.cursor(), postgres=True)
            return
        conn = self._sqlite()
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield Cursor(conn.cursor(), postgres=False)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        else:
            conn = getattr(self._local, "conn", None)
            if conn is not None:
                conn.close()
                self._local.conn = None
