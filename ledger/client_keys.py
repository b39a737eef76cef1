"""The key table of the client pseudonyms (ledger/pseudonyms.py), in the event store's
database beside the log but outside its hash chain: a key can be destroyed, an event
cannot.

Two tables: one secret of the ledger's (the key of the `lookup` hash that finds a row),
and one row per party and client: its lookup, its key, when it was made, and while an
erasure is under way the id of the ClientErased being posted for it. Keys are made
before the batch that needs them is decided, in their own transaction (`INSERT ... ON
CONFLICT DO NOTHING`, then read back), so two processes posting the same new client
agree on one key. A batch that is then refused leaves its new keys behind: they are
keys of clients no stored event names, and link nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from ledger.pseudonyms import ClientKey, lookup, new_key

KEYS_TABLE = "ledger_client_keys"
SECRET_TABLE = "ledger_client_key_secret"
_CHUNK = 500


def create_statements(keys: str, secret: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {keys} (party TEXT NOT NULL, lookup TEXT NOT NULL, key_hex TEXT NOT NULL, "
        "created_at TEXT NOT NULL, erasing TEXT, PRIMARY KEY (party, lookup))",
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

    def _read_secret(self, c: Any, create: bool) -> bytes | None:
        if create:
            c.execute(self._q("INSERT INTO {s} (id, secret_hex) VALUES (1, ?) ON CONFLICT DO NOTHING"), (new_key().hex(),))
        c.execute(self._q("SELECT secret_hex FROM {s} WHERE id = 1"))
        row = c.fetchone()
        return None if row is None else bytes.fromhex(row["secret_hex"])

    def keys(self, clients: Sequence[tuple[str, str]], create: bool) -> dict[tuple[str, str], bytes]:
        """The key of each (party, clientRef) that has one; with `create`, a new one for
        each that has none (ledger/pseudonyms.py's KeyTable). Read first, and written
        only for a client new to the ledger: most posts name clients it knows."""
        with self.datastore.transaction(commit=False) as c:
            secret = self._read_secret(c, create=False)
            found = {} if secret is None else self._select(c, secret, clients)
        missing = [client for client in clients if client not in found]
        if not create or not missing:
            return found
        with self.datastore.transaction(commit=True) as c:
            secret = self._read_secret(c, create=True)
            assert secret is not None
            now = _now()
            for chunk in _chunks(missing):
                c.executemany(
                    self._q("INSERT INTO {k} (party, lookup, key_hex, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"),
                    [(party, lookup(secret, party, ref), new_key().hex(), now) for party, ref in chunk],
                )
            return {**found, **self._select(c, secret, missing)}

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
            secret = self._read_secret(c, create=False)
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
            secret = self._read_secret(c, create=False)
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
