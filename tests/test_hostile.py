"""Hostile and careless posts, with amounts, dates and text drawn from the whole JSON
range (integers past 64 bits, floats, strings where numbers go, years 0001-9999, control
characters), not only plausible ones, through the real HTTP API on both stores.

After every post of one gemeente (A): no answer is a 5xx; a refused post changed nothing
(the log's head, A's balances, reserves and journal as an auditor reads them); the
other gemeente (B) still posts and reads its own writes to the cent; and the trial
balance, the ledger's and A's, is zero.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import date
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.bounds import MAX_CENTS, PARTY_VOLUME_CAP
from ledger.events import PAYLOADS
from tests.conftest import PG_ADMIN
from tests.test_invariants import A, B, LiveApp

EXAMPLES = int(os.environ.get("LEDGER_HOSTILE_EXAMPLES", "200"))  # on SQLite; a third of them on PostgreSQL

big = st.sampled_from([0, 1, -1, MAX_CENTS, MAX_CENTS + 1, -MAX_CENTS, PARTY_VOLUME_CAP, 2**31, 2**53 + 1,
                       2**63 - 1, 2**63, -(2**63), 2**64, 10**30, -(10**30)])
number = st.one_of(big, st.integers(-(2**70), 2**70), st.integers(-(10**15), 10**15), st.integers(0, 10**6),
                   st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=4), st.booleans(), st.none())
day = st.one_of(
    st.dates().map(lambda d: d.isoformat()),  # 0001-01-01 .. 9999-12-31
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"),
    st.text(max_size=12),
)
text = st.one_of(st.text(max_size=30), st.sampled_from(["=HYPERLINK(\"http://x\")", "\u0001111222333", "ok", ""]))
CODES = {
    "budget": ["inkomensdeel", "participatiebudget", "wmo", "nieuw"], "fromBudget": ["inkomensdeel"],
    "toBudget": ["participatiebudget"], "reserve": ["r1", "r2"], "source": ["rijk", "loonvormende-arbeid"],
    "category": ["uitvoering", "uitkering", "begeleiding"], "subsidyId": ["s1", "s2"], "placementId": ["p1"],
    "clientRef": ["client-1"], "instrument": ["loonkostensubsidie"], "kind": ["beschut-werk", "gemeente"],
    "extent": ["volledig"], "status": ["voorlopig"], "mode": ["kaderstellend", "richtinggevend"],
    "destination": ["dagbesteding"], "unit": ["beschut"], "corrects": [str(uuid.UUID(int=1))],
    "subBudget": ["wsw"], "fromSubBudget": ["wsw"], "toSubBudget": [None], "reflux": [True, False],
    "revolving": [True], "binding": [True], "basis": ["vast"], "policy": ["profijt"], "priorityGroup": ["a"],
    "change": ["joined"], "member": [A], "usage": [{A: 1}], "weights": [{A: 1, B: 2}], "reason": ["uitstroom"],
}


def mostly(valid: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`valid` seven times in ten, so that posts get past the schema to the rules too."""
    return st.integers(0, 9).flatmap(lambda n: valid if n < 7 else hostile)


plausible_day = st.dates(min_value=date(2014, 1, 1), max_value=date(2020, 12, 31)).map(lambda d: d.isoformat())


def value(name: str) -> st.SearchStrategy[Any]:
    if name.endswith("Cents"):
        return mostly(st.one_of(st.integers(1, MAX_CENTS), st.integers(1, 10**6)), number)
    if name in ("loonwaardePct", "partTimeFactor", "hoursPerWeek", "places"):
        return mostly(st.one_of(st.integers(0, 1), st.floats(0.01, 1)), number)
    if name.endswith("Date"):
        return mostly(plausible_day, day)
    if name in CODES:
        return mostly(st.sampled_from(CODES[name]), text)
    return mostly(st.sampled_from(["ok", "reden"]), st.one_of(text, number))


@st.composite
def hostile_event(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(set(PAYLOADS) - {"PartyRegistered", "OrganisationRegistered"})))
    fields = list(PAYLOADS[kind].model_fields)
    data = {f: draw(value(f)) for f in fields if draw(st.integers(0, 19)) > 0}
    out: dict[str, Any] = {"id": str(uuid.uuid4()), "type": kind, "party": A, "effectiveDate": draw(mostly(plausible_day, day)),
                           "data": data}
    if draw(st.integers(0, 4)) == 0:
        out["year"] = draw(number)
    if draw(st.booleans()):
        out["reference"] = draw(text)
    return out


class Hostile:
    """One live ledger for a whole test: A registered with a reserve, B with a budget."""

    def __init__(self, engine: str):
        self.app = LiveApp(engine)
        self.b_allocated = 0
        setup = [
            self._event("PartyRegistered", {"name": "A", "kind": "gemeente"}, A, "2014-01-01"),
            self._event("PartyRegistered", {"name": "B", "kind": "gemeente"}, B, "2014-01-01"),
            self._event("ReserveEstablished", {"reserve": "r1", "openingBalanceCents": 1000, "purpose": "x"}, A, "2014-01-01"),
            self._event("BudgetAllocated", {"budget": "inkomensdeel", "source": "rijk", "amountCents": 10**9}, A, "2017-01-01"),
        ]
        status, body = self.app.run(self.app.post("admin", {"events": setup}))
        assert status == 201, body

    @staticmethod
    def _event(kind: str, data: dict[str, Any], party: str, on: str) -> dict[str, Any]:
        return {"id": str(uuid.uuid4()), "type": kind, "party": party, "effectiveDate": on, "data": data}

    async def seen(self) -> list[Any]:
        """What a refused post of A could have changed."""
        out: list[Any] = [json.loads((await self.app.get("/readyz"))[1])["head"]]
        for path in ("/v1/events", "/v1/balances", "/v1/reserves", "/v1/journal", "/v1/trial-balance"):
            status, body = await self.app.get(path, party=A)
            assert status == 200, body
            out.append(json.loads(body))
        return out

    async def step(self, batch: list[dict[str, Any]], single: bool) -> None:
        before = await self.seen()
        body = json.dumps(batch[0] if single else {"events": batch}).encode()  # json: integers past 64 bits too
        status, answer = await self.app.post(A, body)  # LiveApp.post asserts no 5xx
        assert status in (200, 201, 400, 403, 404, 409, 413, 422), answer
        if status >= 400:
            assert answer["status"] == status and answer["title"] and answer["detail"], answer
            assert await self.seen() == before, answer
        await self._b_posts_and_reads()
        for params in ({}, {"party": A}):
            status, raw = await self.app.get("/v1/trial-balance", **params)
            tb = json.loads(raw)
            assert status == 200 and tb["debitCents"] == tb["creditCents"], tb
            assert all(type(v) is int for k, v in tb.items() if k.endswith("Cents")), tb

    async def _b_posts_and_reads(self) -> None:
        event = self._event("BudgetAllocated", {"budget": "wmo", "source": "rijk", "amountCents": 101}, B, "2019-03-01")
        status, answer = await self.app.post(B, event)
        assert status == 201, answer
        self.b_allocated += 101
        status, raw = await self.app.get("/v1/balances", party=B, year=2019)
        rows = json.loads(raw)["results"]
        assert status == 200 and [r["allocatedCents"] for r in rows] == [self.b_allocated], rows


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_hostile_posts_never_5xx_change_nothing_when_refused_and_harm_no_other_party(engine: str, skip_loudly: Any) -> None:
    if engine == "postgres":
        try:
            psycopg.connect(PG_ADMIN, connect_timeout=3).close()
        except psycopg.OperationalError as e:
            skip_loudly(f"PostgreSQL unreachable at {PG_ADMIN}: {e}")
    ledger = Hostile(engine)

    @settings(max_examples=EXAMPLES if engine == "sqlite" else max(1, EXAMPLES // 3), deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(batch=st.lists(hostile_event(), min_size=1, max_size=3), single=st.booleans())
    def post(batch: list[dict[str, Any]], single: bool) -> None:
        ledger.app.run(ledger.step(batch, single))

    try:
        post()
    finally:
        ledger.app.close()
