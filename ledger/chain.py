"""The hash chain: every stored event sealed to the one before it.

Why over the logical event and not the library's stored bytes: an auditor can then
check the chain from an export alone, in any language. An exported line is the sealed
record plus its `chainHash`, and

    chainHash = SHA-256 (hex) of the line without `chainHash`, encoded canonically:
                keys sorted, no whitespace, UTF-8 (orjson with OPT_SORT_KEYS)
    previousHash = the chainHash of the event before it (64 zeros for the first)
    contentHash = SHA-256 of the client's event alone (the idempotency hash)

The record holds everything a figure depends on: the client's content, what the
ledger derived when it accepted the event (`derived`), its position, when it was
recorded and who posted it. Altering, deleting or reordering any stored event changes
a hash from that position on.

Where sealing happens: in the store's insert transaction, under its write lock
(ledger/store.py), the one place where an event's position and predecessor are
certain. What it cannot show: someone with write access to the database could
rewrite the chain from a changed event onwards. An anchor held outside the database
(a position and its chain hash, such as a YearClosed's, written into the audit
report) exposes that too: `ledger verify --anchor POSITION:HASH`.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from ledger.events import content_hash

GENESIS = "0" * 64
# The client's part of a record: what `parse_event` validates and `contentHash` covers.
ENTRY_FIELDS = frozenset({"id", "type", "party", "effectiveDate", "year", "reference", "data"})


def record(
    entry: dict[str, Any],
    derived: dict[str, Any],
    posted_by: str,
    position: int,
    recorded_at: str,
    previous: str,
    entry_hash: str | None = None,
) -> dict[str, Any]:
    """The sealed form of a stored event (an exported line without its chainHash)."""
    return {
        **entry,
        "derived": derived,
        "contentHash": entry_hash or content_hash(entry),
        "position": position,
        "recordedAt": recorded_at,
        "postedBy": posted_by,
        "previousHash": previous,
    }


def seal(sealed: dict[str, Any]) -> str:
    """The chain hash of a record."""
    return hashlib.sha256(orjson.dumps(sealed, option=orjson.OPT_SORT_KEYS)).hexdigest()


def entry_of(sealed: dict[str, Any]) -> dict[str, Any]:
    """The client's event inside a record or an exported line."""
    return {k: v for k, v in sealed.items() if k in ENTRY_FIELDS}
