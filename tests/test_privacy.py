"""A BSN is refused however it is written, in every text of an event, nested ones too
(ledger/privacy.py), and free text refuses control characters (ledger/events.py).

The defects: "\\u0001111222333" and "\\u0000123456782" were stored (the fast scan of the
event's JSON read the escape's digits as part of the run), and so were BSNs in
Arabic-Indic or full-width digits, which the ledger's own field check flags.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.privacy import bsn_like_fields, folded
from tests.conftest import Api, assert_problem, event
from tests.test_refusals import refused

BSN = "111222333"  # passes the elfproef
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")


def outflow(reason: str = "werk", reference: str | None = None) -> dict[str, object]:
    data = {"clientRef": "client-1", "extent": "volledig", "reason": reason, "avoidedBenefitCents": 100}
    extra = {} if reference is None else {"reference": reference}
    return event("OutflowRegistered", data, **extra)


@pytest.mark.parametrize(
    "written",
    [BSN.translate(ARABIC_INDIC), BSN.translate(FULL_WIDTH), BSN.translate(DEVANAGARI), "111\u200b222333",
     "1112\u00ad22333", "beschikking ١١١٢٢٢٣٣٣ van mei"],
    ids=["arabic-indic", "full-width", "devanagari", "zero-width-space", "soft-hyphen", "in-a-sentence"],
)
async def test_a_bsn_in_other_digits_or_with_invisible_characters_is_refused(api: Api, gemeente: str, written: str) -> None:
    batch = [outflow(reference=written), outflow(reason=written)]
    body = await refused(api, gemeente, batch, (0, "bsn-like-value"), (1, "bsn-like-value"))
    assert written not in str(body) and BSN not in str(body)


@pytest.mark.parametrize("text", ["\u0001111222333", "\u0000123456782", "factuur\u0007", "\u009b2J", "a\r\nb", "\t"])
async def test_free_text_with_a_control_character_is_a_400(api: Api, gemeente: str, text: str) -> None:
    for body, name in ((outflow(reference=text), "reference"), (outflow(reason=text), "data.reason")):
        r = await api.client.post("/v1/events", json=body, headers={"Authorization": f"Bearer {gemeente}"})
        problem = await r.json(content_type=None)
        assert_problem(r.status, r.headers["Content-Type"], problem, 400)
        assert [(p["name"], "control character" in p["reason"]) for p in problem["invalidParams"]] == [(name, True)]


digit_scripts = st.sampled_from([str.maketrans({}), ARABIC_INDIC, FULL_WIDTH, DEVANAGARI])
invisible = st.sampled_from(["", "\u0001", "\u0000", "\u200b", "\u200d", "\ufeff", "\u00ad"])


@given(script=digit_scripts, gap=invisible, at=st.integers(0, 9), before=st.text(max_size=5), nested=st.booleans())
def test_every_way_of_writing_a_bsn_is_found_wherever_it_stands(
    script: dict[int, str], gap: str, at: int, before: str, nested: bool
) -> None:
    written = BSN[:at] + gap + BSN[at:]
    text = (before if not folded(before)[-1:].isdigit() else "") + written.translate(script)
    entry = {"id": "x", "reference": "r", "data": {"usage": {"GM0439": 1}, "reason": "ok"}}
    if nested:
        entry["data"]["members"] = ["GM0439", text]
    else:
        entry["reference"] = text
    assert bsn_like_fields(entry) == (["data.members[1]"] if nested else ["reference"])
