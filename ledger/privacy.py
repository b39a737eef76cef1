"""Keeping personal data out of the ledger: no value may look like a BSN.

The ledger stores only pseudonymous client references. A BSN is nine digits that
pass the elfproef (9*d1 + 8*d2 + ... + 2*d8 - 1*d9 divisible by 11, and not all
zeros); any run of exactly nine digits in any text field that passes it is refused.
Amounts are integers, not text, and are never inspected.

A BSN is looked for in what a reader sees, not in the code points sent (`folded`):
compatibility forms folded (NFKC: full-width digits), every decimal digit of any
script read as its ASCII digit (Arabic-Indic), and invisible characters (control and
format characters, a zero-width space) dropped, so none of them hides a BSN.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Any

import orjson

# Runs of nine or more digits, of which those of exactly nine are kept: the same runs
# as `(?<!\d)\d{9}(?!\d)` finds, found about twice as fast without the lookarounds.
_DIGIT_RUNS = re.compile(r"\d{9,}")
_DIGIT_RUN_BYTES = re.compile(rb"\d{9,}")
_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)
# Fields that are validated UUIDs: their hex digits are not personal data.
_UUID_FIELDS = frozenset({"id", "data.corrects"})


def passes_elfproef(digits: str) -> bool:
    total = sum(w * int(d) for w, d in zip(_WEIGHTS, digits, strict=True))
    return total % 11 == 0 and total != 0


def folded(text: str) -> str:
    """`text` as a reader sees it, for the BSN check (the module's docstring)."""
    if text.isascii() and text.isprintable():
        return text
    out = []
    for c in unicodedata.normalize("NFKC", text):
        if unicodedata.category(c) in ("Cc", "Cf"):
            continue
        digit = unicodedata.decimal(c, None)
        out.append(c if digit is None else str(digit))
    return "".join(out)


def _bsn_like(run: str | bytes) -> bool:
    return len(run) == 9 and passes_elfproef(run.decode() if isinstance(run, bytes) else run)


def looks_like_bsn(text: str) -> bool:
    return any(_bsn_like(m.group()) for m in _DIGIT_RUNS.finditer(folded(text)))


def mask_bsns(text: str, mask: str) -> str:
    """`text` with every BSN-like value replaced by `mask` (for log lines)."""
    return _DIGIT_RUNS.sub(lambda m: mask if _bsn_like(m.group()) else m.group(), text)


def bsn_like_fields(entry: dict[str, Any]) -> list[str]:
    """The paths of every text field in `entry` holding a BSN-like value (never the value).

    Most entries are plain ASCII text with no nine-digit run that passes the elfproef
    anywhere in their JSON (which holds every text field as it is, and the amounts):
    those are answered from one scan of it. The rest, and any holding an escape or a
    character beyond ASCII, which may hide digits, are walked field by field."""
    text = orjson.dumps(entry)
    plain = text.isascii() and b"\\u" not in text
    if plain and not any(_bsn_like(m.group()) for m in _DIGIT_RUN_BYTES.finditer(text)):
        return []
    return [path for path, text in _texts(entry, "") if path not in _UUID_FIELDS and looks_like_bsn(text)]


def _texts(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if path:  # keys of client maps (weights, usage) are party codes: text too
                yield path, str(key)
            yield from _texts(item, sub)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _texts(item, f"{path}[{i}]")
