"""The key table of the client pseudonyms (ledger/pseudonyms.py), in the event store's
database beside the log but outside its hash chain: a key can be destroyed, an event
cannot.

Two tables: one secret of the ledger's (the key of the `lookup` hash that finds a row),
and one row per party and client: its lookup, its key, when it was made, and while an
erasure is under way the id of the ClientErased being posted for it. A batch's keys are
read before it is decided (`prepare`); those of new clients are made then and written
in the transaction that stores its events (`store`), so a refused batch or a dry run
leaves none behind, and two processes posting the same new client at once conflict on
its primary key: the later batch is tried again, under the key the first stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from ledger.pseudonyms import ClientKey, Keys, lookup, new_key

KEYS_TABLE = "ledger_client_keys"
SECRET_TABLE = "ledger_client_key_secret"
_CHUNK = 500


def create_statements(keys: str, secret: str) -> list[str]:
    return [
        # `lookup` hashes party and clientRef together: unique alone, and what a batch's keys are found by.
        f"CREATE TABLE IF NOT EXISTS {keys} (lookup TEXT PRIMARY KEY, party TEXT NOT NULL, key_hex TEXT NOT NULL, "
        "created_at TEXT NOT NULL, erasing TEXT)",
        f"CREATE TABLE IF NOT EXISTS {secret} (id INTEGER PRIMARY KEY CHECK (id = 1), secret_hex TEXT NOT NULL)",
    ]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ClientKeys:
    """The key table of one event store: `datastore` is the library's (SQLite or
    PostgreSQL), `mark` its placeholder, the tables named as its queries name them."""

    def __init__(self, datastore: Any, mark: str, keys_table: str, secret_table: str):
        self.datastore = datastore
        self._mark = mark
        self._keys = keys_table
        self._secret = secret_table

    def _q(self, sql: str) -> str:
        return sql.replace("{k}", self._keys).replace("{s}", self._secret).replace("?", self._mark)

    def _read_secret(self, c: Any) -> bytes | None:
        c.execute(self._q("SELECT secret_hex FROM {s} WHERE id = 1"))
        row = c.fetchone()
        return None if row is None else bytes.fromhex(row["secret_hex"])

    def prepare(self, clients: Sequence[tuple[str, str]]) -> Keys:
        """The key of each (party, clientRef): the table's, read in a transaction of its
        own, or a new one for `store` to write with the events (ledger/pseudonyms.py)."""
        with self.datastore.transaction(commit=False) as c:
            secret = self._read_secret(c)
            found = {} if secret is None else self._select(c, secret, clients)
        new = {client: new_key() for client in clients if client not in found}
        return Keys(found, new, secret or new_key(), secret is None)

    def store(self, cursor: Any, keys: Keys) -> None:
        """Write the new keys (and secret) of `keys` through `cursor`, a plain DB-API cursor
        of the transaction that stores their events. A key another process made for the
        same client meanwhile is a conflict (the primary key), and the batch is tried again
        on fresh keys, as a conflict on its events would be."""
        if keys.new_secret:
            cursor.execute(self._q("INSERT INTO {s} (id, secret_hex) VALUES (1, ?)"), (keys.secret.hex(),))
        if keys.new:
            now = _now()
            cursor.executemany(
                self._q("INSERT INTO {k} (party, lookup, key_hex, created_at) VALUES (?, ?, ?, ?)"),
                [(party, lookup(keys.secret, party, ref), key.hex(), now) for (party, ref), key in keys.new.items()],
            )

    def _select(self, c: Any, secret: bytes, clients: Sequence[tuple[str, str]]) -> dict[tuple[str, str], bytes]:
        wanted = {(party, lookup(secret, party, ref)): (party, ref) for party, ref in clients}
        out = {}
        for chunk in _chunks(list(wanted)):
            c.execute(
                self._q(f"SELECT party, lookup, key_hex FROM {{k}} WHERE lookup IN ({', '.join('?' * len(chunk))})"),
                [found for _, found in chunk],
            )
            for row in c.fetchall():
                client = wanted.get((row["party"], row["lookup"]))
                if client is not None:
                    out[client] = bytes.fromhex(row["key_hex"])
        return out

    def find(self, party: str, client_ref: str) -> ClientKey | None:
        """The key row of one client, or None when it has none (never posted, or erased)."""
        with self.datastore.transaction(commit=False) as c:
            secret = self._read_secret(c)
            if secret is None:
                return None
            c.execute(
                self._q("SELECT party, lookup, key_hex, created_at, erasing FROM {k} WHERE party = ? AND lookup = ?"),
                (party, lookup(secret, party, client_ref)),
            )
            row = c.fetchone()
        return None if row is None else _key(row)

    def mark_erasing(self, key: ClientKey, event_id: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(self._q("UPDATE {k} SET erasing = ? WHERE party = ? AND lookup = ?"), (event_id, key.party, key.lookup))

    def destroy(self, key: ClientKey) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(self._q("DELETE FROM {k} WHERE party = ? AND lookup = ?"), (key.party, key.lookup))

    def dump(self) -> tuple[bytes | None, list[ClientKey]]:
        """The secret and every key, for an export of the keys."""
        with self.datastore.transaction(commit=False) as c:
            secret = self._read_secret(c)
            c.execute(self._q("SELECT party, lookup, key_hex, created_at, erasing FROM {k} ORDER BY party, created_at, lookup"))
            rows = c.fetchall()
        return secret, [_key(row) for row in rows]

    def load(self, secret: bytes, keys: Iterable[ClientKey]) -> int:
        """Take an export's secret and keys, into a ledger that holds no key yet; the number taken."""
        with self.datastore.transaction(commit=True) as c:
            c.execute(self._q("SELECT COUNT(*) AS n FROM {k}"))
            if c.fetchone()["n"]:
                raise ValueError("this ledger holds client keys already: import keys into a new database")
            c.execute(self._q("DELETE FROM {s}"))
            c.execute(self._q("INSERT INTO {s} (id, secret_hex) VALUES (1, ?)"), (secret.hex(),))
            rows = [(k.party, k.lookup, k.key.hex(), k.created_at) for k in keys]
            if rows:
                c.executemany(self._q("INSERT INTO {k} (party, lookup, key_hex, created_at) VALUES (?, ?, ?, ?)"), rows)
        return len(rows)


def _key(row: Any) -> ClientKey:
    return ClientKey(row["party"], row["lookup"], bytes.fromhex(row["key_hex"]), row["created_at"], row["erasing"])


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
