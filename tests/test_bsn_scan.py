"""The BSN scan finds runs of nine or more digits and keeps those of exactly nine
(ledger/privacy.py): the same runs, so the same answers, as the lookaround regex
`(?<!\\d)\\d{9}(?!\\d)` it replaced, in text, in JSON bytes and in masking."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ledger import privacy
from ledger.privacy import bsn_like_fields, mask_bsns

LOOKAROUND = re.compile(r"(?<!\d)\d{9}(?!\d)")
LOOKAROUND_BYTES = re.compile(rb"(?<!\d)\d{9}(?!\d)")
BSNS = ["111222333", "123456782", "000000000", "999999999"]
# digit runs around nine long (in any script), BSNs, and what stands between them
piece = st.one_of(st.sampled_from(BSNS), st.from_regex(r"\A[0-9]{7,11}\Z"), st.text(max_size=4),
                  st.sampled_from(["٠١٢٣٤٥٦٧٨", "１２３", "-", " ", "\u200b", "\u0001"]))
text = st.lists(piece, max_size=6).map("".join)


def lookaround_fields(entry: dict[str, Any]) -> list[str]:
    """bsn_like_fields as it was, with the lookaround regex."""
    raw = privacy.orjson.dumps(entry)
    plain = raw.isascii() and b"\\u" not in raw
    if plain and not any(privacy.passes_elfproef(m.group().decode()) for m in LOOKAROUND_BYTES.finditer(raw)):
        return []
    return [path for path, value in privacy._texts(entry, "") if path not in privacy._UUID_FIELDS
            and any(privacy.passes_elfproef(m.group()) for m in LOOKAROUND.finditer(privacy.folded(value)))]


@given(value=text)
def test_the_runs_of_nine_are_the_lookarounds_matches(value: str) -> None:
    runs = [m.group() for m in privacy._DIGIT_RUNS.finditer(value) if len(m.group()) == 9]
    assert runs == [m.group() for m in LOOKAROUND.finditer(value)]
    raw = value.encode()
    assert [m.group() for m in privacy._DIGIT_RUN_BYTES.finditer(raw) if len(m.group()) == 9] == \
        [m.group() for m in LOOKAROUND_BYTES.finditer(raw)]
    assert mask_bsns(value, "#") == LOOKAROUND.sub(lambda m: "#" if privacy.passes_elfproef(m.group()) else m.group(), value)


@given(reference=text, reason=text, amount=st.integers(0, 10**12), members=st.lists(text, max_size=2))
def test_bsn_like_fields_answers_as_the_lookaround_scan(reference: str, reason: str, amount: int, members: list[str]) -> None:
    entry = {"id": "3f1c7d9e-6e0b-4d5c-9a8b-1c2d3e4f5a6b", "reference": reference,
             "data": {"reason": reason, "amountCents": amount, "members": members, "usage": {reason: 1}}}
    assert bsn_like_fields(entry) == lookaround_fields(entry)
