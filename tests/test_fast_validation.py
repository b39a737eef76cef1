"""The msgspec twins (ledger/fastparse.py) agree with the pydantic models they are
derived from: for any value, valid or hostile, the fast path builds exactly the entry,
key order and content hash pydantic builds, or defers to pydantic; it never accepts
what pydantic refuses. Every generated and demo event takes the fast path.
"""

from __future__ import annotations

import copy
import math
import sys
import uuid
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, field_validator

from ledger import demo
from ledger.bounds import MAX_CENTS
from ledger.events import PAYLOADS, Envelope, InvalidEvent, parse_event, parse_event_fast, parse_event_pydantic
from ledger.fastparse import Twin, Unsupported

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from generate import generate  # noqa: E402

GENERATED = list(generate(24, 2024, 7, 400))
DEMO = [e for batch in demo.batches() for e in batch.events]
ID = "3f1c7d9e-6e0b-4d5c-9a8b-1c2d3e4f5a6b"
HANDWRITTEN = [
    {"id": ID, "type": "YearClosed", "party": "GM0001", "effectiveDate": "2024-12-31"},
    {"id": ID, "type": "ClientErased", "party": "GM0001", "effectiveDate": "2026-12-04",
     "reference": "AVG-verzoek 2026-118", "data": {"keyId": "abcdefghijklmnopabcdefghijklmnop"}},
    {"id": ID, "type": "PartyUpdated", "party": "WERKBEDRIJF-001", "effectiveDate": "2024-01-01", "data": {"cbsNumber": "9901"}},
    {"id": ID, "type": "YearClosed", "party": "GM0001", "effectiveDate": "2024-12-31", "year": 2024, "data": {}},
    {"id": ID, "type": "MembershipChanged", "party": "WERKBEDRIJF-001", "effectiveDate": "2024-06-01",
     "data": {"member": "GM0001", "change": "left"}, "reference": "besluit 12"},
    {"id": ID, "type": "Correction", "party": "GM0001", "effectiveDate": "2024-06-01",
     "data": {"corrects": str(uuid.UUID(int=7)), "reason": "dubbel geboekt"}},
    {"id": ID, "type": "Correction", "party": "GM0001", "effectiveDate": "2024-06-01",
     "data": {"corrects": str(uuid.UUID(int=7)), "reason": "deels", "amountCents": -250}},
    {"id": ID, "type": "BudgetRevised", "party": "GM0001", "effectiveDate": "2024-06-01",
     "data": {"budget": "wmo", "amountCents": -5, "councilDecision": "RB 2024/7", "kind": "circulaire"}},
    {"id": ID, "type": "CommitmentRegistered", "party": "GM0001", "effectiveDate": "2024-02-01",
     "data": {"commitmentId": "c-1", "budget": "wmo", "subBudget": "x", "category": "uitvoering", "amountCents": 9}},
    {"id": ID, "type": "CommitmentReleased", "party": "GM0001", "effectiveDate": "2024-02-01",
     "data": {"commitmentId": "c-1"}},
    {"id": ID, "type": "CommitmentReleased", "party": "GM0001", "effectiveDate": "2024-02-01",
     "data": {"commitmentId": "c-1", "amountCents": 3}},
    {"id": ID, "type": "CostBooked", "party": "GM0001", "effectiveDate": "2024-02-01",
     "data": {"budget": "wmo", "category": "uitvoering", "amountCents": 3, "commitmentId": "c-1"}},
    {"id": ID, "type": "ContributionInvoiced", "party": "WERKBEDRIJF-001", "effectiveDate": "2024-02-01",
     "data": {"member": "GM0001", "amountCents": 3}},
    {"id": ID, "type": "ContributionPaid", "party": "WERKBEDRIJF-001", "effectiveDate": "2024-02-01",
     "data": {"member": "GM0001", "amountCents": 3}},
    {"id": ID, "type": "YearReopened", "party": "GM0001", "effectiveDate": "2025-03-01", "year": 2024,
     "reference": "accountant 2025-3"},
]
BY_TYPE: dict[str, list[dict[str, Any]]] = {}
for _raw in GENERATED[::3] + DEMO + HANDWRITTEN:
    BY_TYPE.setdefault(_raw["type"], []).append(_raw)

FIELDS = sorted({"id", "type", "party", "effectiveDate", "year", "reference", "data", "extra"}
                | {f for model in PAYLOADS.values() for f in model.model_fields})
HOSTILE_SCALARS = [
    True, False, None, 0, -1, 1.0, 0.5, -0.0, 1e300, float("inf"), float("nan"), MAX_CENTS, MAX_CENTS + 1,
    -MAX_CENTS - 1, 2**31, 2**53 + 1, 2**63, -(2**63) - 1, 2**64, 10**30, "", "1", "100", "x\n", "ok\r", "\u0001",
    "\u0000123456782", "\u009b2J", "é", "١٢٣", "GM0001", "GM0001\n", "gm0001", "GM٠٠٠١", "inkomensdeel\n",
    "inkomensdeel", "Inkomensdeel", "a" * 64, "a" * 65, "r" * 200, "r" * 201, "t" * 500, "t" * 501,
    "{" + ID + "}", ID.upper(), "urn:uuid:" + ID, ID.replace("-", ""), ID + "\n", " " + ID,
    "0001-01-01", "9999-12-31", "1899-12-31", "1900-01-01", "2999-12-31", "3000-01-01", "2019-02-29", "2020-02-29",
    "2019-13-01", "2019-1-01", "٢٠١٩-٠١-٠١", "２０１９-０１-０１", "2019-01-01\n", "2019-01-01T00:00:00", "20190101",
    "gemeente", "organisation", "voorlopig", "joined", "beschut-werk", "profijt", "vast",
    [], {}, ["GM0001"], ["GM0001", "GM0001"], ["GM0001", "GM0002"], ("GM0001",), {"GM0001": 1}, {"GM0001": -1},
    {"gm0001": 1}, {"GM0001": True}, {"GM0001": 1.5}, {"GM0001": float("inf")},
]
hostile_value = st.one_of(
    st.sampled_from(HOSTILE_SCALARS),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"),
    st.lists(st.one_of(st.text(max_size=8), st.sampled_from(["GM0001", "GM0002", "WERKBEDRIJF-001"])), max_size=3),
    st.dictionaries(st.sampled_from(["GM0001", "GM0002", "x", ""]), st.one_of(st.integers(), st.floats()), max_size=3),
)


DIGITS = [str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"), str.maketrans("0123456789", "０１２３４５６７８９")]


def tweaks(value: Any) -> list[Any]:
    """Near misses of a valid value: one character, one type or one bound off."""
    out: list[Any] = [None, True, 1.5, [value], {"k": value}]
    if isinstance(value, str):
        out += [value + "\n", "\n" + value, " " + value, value.upper(), value.lower(), value * 9, "{" + value + "}",
                "urn:uuid:" + value, value.replace("-", ""), value + "\u0001", value + "\u00a0", value[:-1], "",
                *(value.translate(t) for t in DIGITS)]
    elif isinstance(value, bool):
        out += [int(value), str(value).lower()]
    elif isinstance(value, int):
        out += [float(value), value + 0.5, -value, value * 10**9, 2**64 + value, str(value), 0, value - 1, value + 1]
    elif isinstance(value, float):
        out += [float("inf"), float("nan"), -value, value * 1e9, str(value), 0.0, *([int(value)] if math.isfinite(value) else [])]
    elif isinstance(value, dict) and value:
        key = next(iter(value))
        out += [{**value, key: t} for t in tweaks(value[key])] + [{key + "\n": value[key]}, {key.lower(): value[key]}, {}]
    elif isinstance(value, list) and value:
        out += [[t, *value[1:]] for t in tweaks(value[0])] + [value + value, []]
    return out


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A valid event with up to three fields, in the envelope or its data, nudged,
    replaced, removed or added, its type swapped, or the whole value replaced."""
    event = copy.deepcopy(draw(st.sampled_from(BY_TYPE[draw(st.sampled_from(sorted(BY_TYPE)))])))
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["tweak", "tweak", "tweak", "set", "del", "type", "whole"]))
        target = event["data"] if isinstance(event.get("data"), dict) and draw(st.booleans()) else event
        if op == "tweak" and target:
            key = draw(st.sampled_from(sorted(target)))
            target[key] = draw(st.sampled_from(tweaks(target[key])))
        elif op == "set":
            target[draw(st.sampled_from([*FIELDS, *target]))] = draw(hostile_value)
        elif op == "del" and target:
            del target[draw(st.sampled_from(sorted(target)))]
        elif op == "type":
            event["type"] = draw(st.sampled_from(sorted(PAYLOADS)))
        elif op == "whole":
            return draw(hostile_value)
    return event


def outcome(parse: Any, raw: Any) -> Any:
    """What `parse` makes of a copy of `raw`: the entry's JSON unsorted (which holds
    the key order and every type: 1, 1.0, true) and hash, the bad fields, or None."""
    try:
        event = parse(copy.deepcopy(raw))
    except InvalidEvent as e:
        return [(p.name, p.code, p.reason) for p in e.params]
    except TypeError as e:  # an integer past 64 bits, which orjson neither decodes nor hashes
        return "TypeError", str(e)
    return None if event is None else (orjson.dumps(event.entry), event.content_hash)


def assert_same_or_deferred(raw: Any) -> None:
    fast, slow = outcome(parse_event_fast, raw), outcome(parse_event_pydantic, raw)
    assert fast is None or fast == slow, (raw, fast, slow)
    assert outcome(parse_event, raw) == slow, raw


@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=mutated())
def test_the_fast_path_gives_the_pydantic_result_or_defers(raw: Any) -> None:
    assert_same_or_deferred(raw)


def _with(kind: str, **data: Any) -> dict[str, Any]:
    """The first generated or demo event of `kind`, with `data` changed (None: removed)."""
    event = copy.deepcopy(BY_TYPE[kind][0])
    event["data"] = {k: v for k, v in {**event["data"], **data}.items() if v is not None}
    return event


@pytest.mark.parametrize("raw", [
    _with("FundsReallocated", toBudget="inkomensdeel", fromBudget="inkomensdeel", toSubBudget=None, fromSubBudget=None),
    _with("OrganisationRegistered", members=["GM0001", "GM0001"], fundHolder="GM0001"),
    _with("OrganisationRegistered", members=["GM0001", "GM0002"], fundHolder="GM0003"),
    _with("ReserveAdded", budget=None, subBudget="wsw"),
    _with("SubsidyGranted", startDate="2024-02-01", endDate="2024-01-31"),
    _with("SubsidyGranted", startDate="1950-01-01", endDate="2000-01-31"),
    {"id": ID, "type": "YearReopened", "party": "GM0001", "effectiveDate": "2025-03-01", "year": 2024},
    {"id": ID, "type": "YearReopened", "party": "GM0001", "effectiveDate": "2025-03-01", "reference": ""},
    _with("Correction", amountCents=0),
    {"id": "{" + ID + "}", "type": "YearClosed", "party": "GM0001", "effectiveDate": "2024-12-31"},
    {"id": ID.upper(), "type": "YearClosed", "party": "GM0001", "effectiveDate": "2024-12-31"},
    {"id": ID, "type": "PartyRegistered", "party": "WERKBEDRIJF-1", "effectiveDate": "2024-01-01",
     "data": {"name": "x", "kind": "gemeente"}},
    {"id": ID, "type": "BudgetAllocated", "party": "GM0001\n", "effectiveDate": "2024-01-01",
     "data": {"budget": "wmo", "source": "rijk", "amountCents": 1}},
    {"id": ID, "type": "BudgetAllocated", "party": "GM0001", "effectiveDate": "2024-01-01",
     "data": {"budget": "wmo", "source": "rijk", "amountCents": 1.0}},
])
def test_what_the_fast_path_is_unsure_of_pydantic_answers(raw: dict[str, Any]) -> None:
    assert parse_event_fast(raw) is None
    assert_same_or_deferred(raw)


def test_every_generated_and_demo_event_takes_the_fast_path_to_the_identical_entry() -> None:
    seen = set()
    for raw in GENERATED + DEMO + HANDWRITTEN:
        fast, slow = parse_event_fast(raw), parse_event_pydantic(raw)
        assert fast is not None, raw
        assert orjson.dumps(fast.entry) == orjson.dumps(slow.entry) and fast.content_hash == slow.content_hash, raw
        seen.add(fast.type)
    assert seen == set(PAYLOADS)


def test_each_twin_has_its_models_fields_in_order_with_its_defaults() -> None:
    for model, skip in [*((m, set()) for m in PAYLOADS.values()), (Envelope, {"type", "data"})]:
        twin = [(f.name, f.required) for f in msgspec.structs.fields(Twin(model, skip=skip).struct)]
        assert twin == [(n, info.is_required()) for n, info in model.model_fields.items() if n not in skip], model


def test_a_model_the_twins_cannot_mirror_fails_at_once() -> None:
    class WithSet(BaseModel):
        tags: set[str]

    class WithFieldValidator(BaseModel):
        name: str

        @field_validator("name")
        @classmethod
        def _upper(cls, value: str) -> str:
            return value.upper()

    class Stripping(BaseModel):
        model_config = ConfigDict(str_strip_whitespace=True)
        name: str

    for model in (WithSet, WithFieldValidator, Stripping):
        with pytest.raises(Unsupported):
            Twin(model)
