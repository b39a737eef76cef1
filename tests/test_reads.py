"""Reading: pages, CSV, the NDJSON log, and answers as the ledger knew them (asOf)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import orjson
import pytest

from tests.conftest import Api, event


@pytest.fixture
async def token(api: Api, gemeente: str) -> str:
    """Purmerend's token, with two budgets of two sub-budget lines each allocated in 2015."""
    batch = [
        event("BudgetAllocated", {"budget": b, "subBudget": s, "source": "rijk", "amountCents": 1000})
        for b in ("participatiebudget", "inkomensdeel")
        for s in ("wsw", "nieuwe-doelgroepen")
    ]
    assert (await api.post(gemeente, {"events": batch}))[0] == 201
    return gemeente


async def test_balances_have_total_rows_and_pages(api: Api, token: str) -> None:
    status, body = await api.get(token, "/v1/balances", party="GM0439", year=2015)
    assert status == 200
    assert body["count"] == 6  # two budgets: a total row and two sub-budget rows each
    totals = [r for r in body["results"] if r["subBudget"] is None]
    assert [(r["budget"], r["allocatedCents"]) for r in totals] == [("inkomensdeel", 2000), ("participatiebudget", 2000)]
    seen = []
    url = "/v1/balances?party=GM0439&year=2015&pageSize=4"
    while url:
        r = await api.client.get(url, headers={"Authorization": f"Bearer {token}"})
        page = await r.json()
        seen += page["results"]
        url = page["next"] and page["next"].split(str(api.client.make_url("")), 1)[-1]
    assert seen == body["results"]


async def test_every_list_answers_csv_with_the_same_rows(api: Api, token: str) -> None:
    _, json_body = await api.get(token, "/v1/balances", party="GM0439")
    r = await api.client.get(
        "/v1/balances", params={"party": "GM0439"}, headers={"Authorization": f"Bearer {token}", "Accept": "text/csv"}
    )
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await r.text())))
    assert [int(row["allocatedCents"]) for row in rows] == [x["allocatedCents"] for x in json_body["results"]]
    for path in ("/v1/reserves", "/v1/events"):
        r = await api.client.get(path, headers={"Authorization": f"Bearer {token}", "Accept": "text/csv"})
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")


async def test_the_log_streams_as_ndjson_in_order(api: Api, token: str) -> None:
    r = await api.client.get(
        "/v1/events", headers={"Authorization": f"Bearer {token}", "Accept": "application/x-ndjson"}
    )
    assert r.status == 200
    lines = [orjson.loads(line) for line in (await r.read()).splitlines()]
    assert [e["position"] for e in lines] == sorted(e["position"] for e in lines)
    assert len(lines) == 5 and lines[0]["type"] == "PartyRegistered"
    status, body = await api.get(token, "/v1/events", after=lines[1]["position"], limit=2)
    assert [e["id"] for e in body["results"]] == [e["id"] for e in lines[2:4]]
    assert body["count"] == 5 and body["next"] is not None
    status, body = await api.get(token, "/v1/events", after=lines[2]["position"], limit=2)
    assert [e["id"] for e in body["results"]] == [e["id"] for e in lines[3:]]
    assert body["next"] is None  # a full last page points nowhere


async def test_as_of_answers_what_was_known_before_a_correction(api: Api, token: str) -> None:
    cost = event("CostBooked", {"budget": "inkomensdeel", "subBudget": "wsw", "category": "uitkering", "amountCents": 300})
    assert (await api.post(token, cost))[0] == 201
    before = datetime.now(UTC).isoformat()
    status, _ = await api.post(
        token, event("Correction", {"corrects": cost["id"], "reason": "dubbel geboekt"}, date="2015-07-31")
    )
    assert status == 201

    async def spent(**params: str) -> int:
        _, body = await api.get(token, "/v1/balances", party="GM0439", year=2015, budget="inkomensdeel", **params)
        return body["results"][0]["spentCents"]

    assert await spent() == 0
    assert await spent(asOf=before) == 300
    _, log = await api.get(token, "/v1/events", asOf=before)
    assert log["count"] == 6


async def test_bad_query_parameters_are_400(api: Api, token: str) -> None:
    for params in ({"year": "twintig"}, {"asOf": "gisteren"}, {"asOf": "2017-03-01T00:00:00"}, {"pageSize": "0"},
                   {"party": "gm0439"}):
        status, body = await api.get(token, "/v1/balances", **params)
        assert status == 400, params
        assert body["invalidParams"][0]["name"] == next(iter(params))
