"""The key file: the client key table (ledger/client_keys.py) as `ledger export --keys`
writes it and `ledger import --keys` reads it back.

NDJSON: a first line `{"secret": HEX}` (the key of the lookup hash), then one line per
client key, `{"party": CODE, "lookup": HEX, "key": HEX, "createdAt": INSTANT}`. It holds
exactly what an erasure destroys, so it is kept as the database's backups are, and
never beside an export that is handed out. A key whose erasure is under way is not
written; a key whose ClientErased the imported log holds is not read back: an erased
client stays erased, whatever old key file is offered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from ledger.events import PARTY_CODE
from ledger.pseudonyms import KEY_BYTES, ClientKey

_HEX64 = re.compile(r"[0-9a-f]{64}")
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def lines(secret: bytes | None, keys: Iterable[ClientKey]) -> Iterator[bytes]:
    if secret is None:  # no key was ever made
        return
    yield orjson.dumps({"secret": secret.hex()}) + b"\n"
    for k in keys:
        if k.erasing is None:
            yield orjson.dumps({"party": k.party, "lookup": k.lookup, "key": k.key.hex(), "createdAt": k.created_at}) + b"\n"


def parse(source: Iterable[bytes], erased: set[str]) -> tuple[bytes | None, list[ClientKey], int]:
    """The secret and the keys of a key file, but those `erased` (by key id); and how many
    of those were passed over. A ValueError names the first line that is not a key."""
    secret: bytes | None = None
    keys: list[ClientKey] = []
    seen: set[tuple[str, str]] = set()
    passed_over = 0
    for number, raw in enumerate(source, start=1):
        if not raw.strip():
            continue
        try:
            row = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ValueError(f"key file line {number}: not JSON") from None
        if number == 1:
            secret = _hex_field(row, "secret", number)
            if set(row) != {"secret"}:
                raise ValueError("key file line 1: holds the secret alone")
            continue
        key = _key(row, number)
        if (key.party, key.lookup) in seen:
            raise ValueError(f"key file line {number}: a second key for the same client")
        seen.add((key.party, key.lookup))
        if key.key_id in erased:
            passed_over += 1
        else:
            keys.append(key)
    if keys and secret is None:
        raise ValueError("key file: keys without the secret line")
    return secret, keys, passed_over


def _hex_field(row: Any, name: str, number: int) -> bytes:
    value = row.get(name) if isinstance(row, dict) else None
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise ValueError(f"key file line {number}: {name} must be {KEY_BYTES * 2} hex digits")
    return bytes.fromhex(value)


def _key(row: Any, number: int) -> ClientKey:
    if not isinstance(row, dict) or set(row) != {"party", "lookup", "key", "createdAt"}:
        raise ValueError(f"key file line {number}: a key line holds party, lookup, key and createdAt")
    if not isinstance(row["party"], str) or not re.fullmatch(PARTY_CODE, row["party"]):
        raise ValueError(f"key file line {number}: party is not a party code")
    if not isinstance(row["createdAt"], str) or not _INSTANT.fullmatch(row["createdAt"]):
        raise ValueError(f"key file line {number}: createdAt is not an instant like 2026-12-04T10:00:00Z")
    lookup = _hex_field(row, "lookup", number).hex()
    return ClientKey(row["party"], lookup, _hex_field(row, "key", number), row["createdAt"])
