"""The begroting's primitive figure and its amendments (issue 17.2), through HTTP on
both stores: every balance row splits `allocatedCents` into `primitiveCents` and
`amendmentsCents`, says whether the line is still `voorlopig`, and gives the
structural saldo (without reserves and the meeneemregeling); a meerjarenraming is
one read with `fromYear`/`toYear`; as-of reads answer each as then known."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.conftest import Api, event
from tests.test_refusals import accepted, allocation, cost, line, reserve


def provisional(sub: str, cents: int, status: str) -> dict[str, Any]:
    return event("BudgetAllocated", {"budget": "participatiebudget", "subBudget": sub, "source": "rijk",
                                     "amountCents": cents, "status": status})


def revision(budget: str, cents: int, **data: Any) -> dict[str, Any]:
    return event("BudgetRevised", {"budget": budget, "amountCents": cents, **data})


async def test_a_council_amendment_is_apart_from_the_primitive_budget(api: Api, gemeente: str) -> None:
    await accepted(
        api, gemeente,
        allocation("participatiebudget", 100_000),
        revision("participatiebudget", 25_000, councilDecision="Raadsbesluit 2015/41", kind="begrotingswijziging"),
        revision("participatiebudget", -5_000, kind="circulaire"),
        event("FundsReallocated", {"fromBudget": "participatiebudget", "toBudget": "wmo", "amountCents": 2_000}),
    )
    row = await line(api, gemeente, "participatiebudget")
    assert (row["primitiveCents"], row["amendmentsCents"], row["allocatedCents"]) == (100_000, 18_000, 118_000)
    assert row["status"] == "definitief"
    wmo = await line(api, gemeente, "wmo")
    assert (wmo["primitiveCents"], wmo["amendmentsCents"]) == (0, 2_000)
    status, body = await api.get(gemeente, "/v1/events", party="GM0439")
    revised = [e["data"] for e in body["results"] if e["type"] == "BudgetRevised"]
    assert revised[0]["councilDecision"] == "Raadsbesluit 2015/41" and revised[0]["kind"] == "begrotingswijziging"
    assert revised[1]["kind"] == "circulaire" and "councilDecision" not in revised[1]


async def test_an_unknown_kind_of_amendment_is_a_bad_request(api: Api, gemeente: str) -> None:
    status, body = await api.post(gemeente, revision("participatiebudget", 1, kind="motie"))
    assert status == 400 and [p["name"] for p in body["invalidParams"]] == ["data.kind"], body
    status, body = await api.post(gemeente, revision("participatiebudget", 1, councilDecision="besluit\u0007"))
    assert status == 400 and [p["name"] for p in body["invalidParams"]] == ["data.councilDecision"], body


async def test_a_line_is_voorlopig_while_its_latest_allocation_is(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, provisional("wsw", 100_000, "voorlopig"),
                   allocation("participatiebudget", 50_000, sub="re-integratie"))
    assert (await line(api, gemeente, "participatiebudget", sub="wsw"))["status"] == "voorlopig"
    assert (await line(api, gemeente, "participatiebudget", sub="re-integratie"))["status"] == "definitief"
    assert (await line(api, gemeente, "participatiebudget"))["status"] == "voorlopig"  # the total: any line
    before = datetime.now(UTC).isoformat()
    await accepted(api, gemeente, provisional("wsw", 4_000, "definitief"))
    assert (await line(api, gemeente, "participatiebudget"))["status"] == "definitief"
    status, body = await api.get(gemeente, "/v1/balances", party="GM0439", year=2015, asOf=before)
    assert status == 200 and {r["subBudget"]: r["status"] for r in body["results"]} == {
        None: "voorlopig", "wsw": "voorlopig", "re-integratie": "definitief"}
    assert (await line(api, gemeente, "participatiebudget", sub="wsw"))["primitiveCents"] == 104_000


async def test_the_structural_saldo_leaves_out_reserves_and_the_meeneemregeling(api: Api, gemeente: str) -> None:
    await accepted(
        api, gemeente, allocation("participatiebudget", 10_000), reserve("r", 5_000),
        event("ReserveWithdrawn", {"reserve": "r", "budget": "participatiebudget", "amountCents": 3_000}),
        event("IncomeBooked", {"budget": "participatiebudget", "source": "meeneemregeling", "amountCents": 1_000}),
        event("IncomeBooked", {"budget": "participatiebudget", "source": "algemene-middelen", "amountCents": 500}),
        cost("participatiebudget", 14_000),
    )
    row = await line(api, gemeente, "participatiebudget")
    assert row["saldoCents"] == 10_000 + 3_000 + 1_000 + 500 - 14_000 == 500
    assert row["structuralSaldoCents"] == 500 - 3_000 - 1_000


async def test_a_meerjarenraming_is_one_read(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, *(allocation("participatiebudget", 1_000 * y, date=f"{y}-01-01") for y in range(2015, 2020)))
    status, body = await api.get(gemeente, "/v1/balances", party="GM0439", fromYear=2016, toYear=2018)
    assert status == 200 and [r["year"] for r in body["results"]] == [2016, 2017, 2018], body
    status, body = await api.get(gemeente, "/v1/balances", party="GM0439", fromYear=2019)
    assert [r["year"] for r in body["results"]] == [2019]
    r = await api.client.get("/v1/balances", params={"party": "GM0439", "toYear": "2016"},
                             headers={"Authorization": f"Bearer {gemeente}", "Accept": "text/csv"})
    text = await r.text()
    assert r.status == 200 and text.splitlines()[0].endswith("primitiveCents,amendmentsCents,structuralSaldoCents,status")
    assert len(text.splitlines()) == 3  # the header, 2015, 2016
    for bad in ({"fromYear": 2018, "toYear": 2016}, {"year": 2016, "fromYear": 2015}, {"fromYear": "2016.0"}):
        status, body = await api.get(gemeente, "/v1/balances", party="GM0439", **bad)
        assert status == 400 and body["invalidParams"], body
