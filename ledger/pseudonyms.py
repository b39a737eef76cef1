"""Client references kept as keyed pseudonyms, so that a client can be erased by key.

A `clientRef` is personal data under the AVG, and the log is immutable and hash-chained.
So the ledger never stores a clientRef in clear: before an event is checked, hashed or
stored, each clientRef becomes a pseudonym

    pseudonym = "ps_" + HMAC-SHA-256(key, clientRef), its first 16 bytes (128 bits),
                each half-byte as one of the letters a-p (hex with a-p for 0-f)

under a random key of its own for that party and client, kept in a key table outside
the chained log (ledger/client_keys.py). Letters, so that no run of digits in it can
look like a BSN. The same client of the same party gets the same pseudonym while its key
exists, so every rule and figure sees one client, and a retry of an event hashes as
before. Destroying the key (`ledger erase-client`) leaves the events, their figures and
the hash chain exactly as they were, and nothing in the ledger links the client to them
any more: the pseudonym can neither be computed again nor turned back. The erasure
itself is a `ClientErased` event naming the destroyed key by its `keyId` (SHA-256 of
the key, in the same letters: it says nothing of the client), so that an import of an
old key file cannot bring an erased key back.

The key table's rows are found by a keyed hash of party and clientRef (`lookup`), under
a secret of the ledger's, so the table holds no clientRef in clear either.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ledger.events import Event, content_hash
from ledger.privacy import looks_like_bsn

PREFIX = "ps_"
CLIENT_FIELD = "clientRef"  # the one field of api.md's events that names a client
ERASURE = "ClientErased"
KEY_BYTES = 32
_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")


def pseudonym(key: bytes, client_ref: str) -> str:
    return PREFIX + hmac.new(key, client_ref.encode(), hashlib.sha256).hexdigest()[:32].translate(_LETTERS)


def lookup(secret: bytes, party: str, client_ref: str) -> str:
    """The key table's index of a party's client: no clientRef in clear there either."""
    return hmac.new(secret, f"{party}\x00{client_ref}".encode(), hashlib.sha256).hexdigest()


def key_id(key: bytes) -> str:
    """How a `ClientErased` names the key it destroyed (in the pseudonyms' letters)."""
    return hashlib.sha256(key).hexdigest()[:32].translate(_LETTERS)


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


@dataclass(frozen=True, slots=True)
class ClientKey:
    """One row of the key table."""

    party: str
    lookup: str
    key: bytes
    created_at: str
    erasing: str | None = None  # the id of the ClientErased being posted for it (crash-safe erasure)

    @property
    def key_id(self) -> str:
        return key_id(self.key)


@dataclass(frozen=True, slots=True)
class Keys:
    """The keys one batch's pseudonyms are made under: those the key table holds, and
    those made now for the clients new to it (with the table's secret, if it had none).
    The new ones are stored in the transaction that stores the batch's events, or not at
    all: a refused batch, or a dry run, leaves no key behind."""

    found: dict[tuple[str, str], bytes]
    new: dict[tuple[str, str], bytes]
    secret: bytes
    new_secret: bool

    def of(self, client: tuple[str, str]) -> bytes | None:
        """The client's key; None for one `clients` left out (its clientRef looks like a BSN)."""
        return self.found.get(client) or self.new.get(client)


def clients(events: Iterable[Event]) -> list[tuple[str, str]]:
    """Each (party, clientRef) the events name, once, in order; a clientRef that looks
    like a BSN is left out: it is left in clear, so that the BSN rule refuses it (a
    pseudonym would hide it), and is never stored."""
    seen = dict.fromkeys((e.party, e.data[CLIENT_FIELD]) for e in events if CLIENT_FIELD in e.data)
    return [(party, ref) for party, ref in seen if not looks_like_bsn(ref)]


def with_keys(events: Sequence[Event], keys: Keys) -> list[Event]:
    """`events` with every clientRef replaced by its pseudonym under `keys` (and the
    content hash of the result); one `keys` has none for (a BSN-like one) left as it is."""
    out = []
    for e in events:
        ref = e.data.get(CLIENT_FIELD)
        key = None if ref is None else keys.of((e.party, ref))
        if key is None:
            out.append(e)
            continue
        entry = {**e.entry, "data": {**e.data, CLIENT_FIELD: pseudonym(key, ref)}}
        out.append(replace(e, entry=entry, content_hash=content_hash(entry)))
    return out
