"""The demo data (`ledger demo`) posted over HTTP as its batches, and what the ledger
then answers: the published figures of the four sources (ledger/sources.py), and the
parties a controller picks from (`GET /v1/parties`)."""

from __future__ import annotations

from typing import Any

from ledger import demo
from ledger import sources as src
from tests.conftest import Api


async def load(api: Api) -> str:
    admin = api.token("admin")
    for batch in demo.batches():
        status, body = await api.post(admin, {"events": batch.events})
        assert status == 201, (batch.title, body)
    return admin


async def results(api: Api, token: str, path: str, **params: Any) -> list[dict[str, Any]]:
    status, body = await api.get(token, path, **params)
    assert status == 200, body
    return body["results"]


async def total_row(api: Api, token: str, party: str, year: int, budget: str) -> dict[str, Any]:
    rows = await results(api, token, "/v1/balances", party=party, year=year, budget=budget)
    (total,) = [r for r in rows if r["subBudget"] is None]
    return total


async def test_the_demo_answers_the_published_figures(api: Api) -> None:
    admin = await load(api)
    # Purmerend (seed 002): the 2018 deficit "22.616–", and the reserve empty after 2018.
    assert (await total_row(api, admin, "GM0439", 2018, "participatiebudget"))["saldoCents"] == -2_261_600
    (reserve,) = await results(api, admin, "/v1/reserves", party="GM0439", year=2018)
    assert reserve["balanceCents"] == 0
    # Lelystad (seed 000): the integratie-uitkering A+B+C, and the NUON reserve lent out by 2018.
    for year, figures in src.LELYSTAD_INTEGRATIE_UITKERING.items():
        assert (await total_row(api, admin, src.LELYSTAD, year, "participatiebudget"))["allocatedCents"] == figures["total"]
    (nuon,) = await results(api, admin, "/v1/reserves", party=src.LELYSTAD, year=2018)
    assert (nuon["reserve"], nuon["balanceCents"]) == ("nuon", 0)
    # Regionaal Werkbedrijf (seed 003): Apeldoorn holds the Rijk's million; the 2015 begroting.
    tranches = await results(api, admin, "/v1/balances", party=src.RWB_FUND_HOLDER, budget="rwb-opstartmiddelen")
    assert sum(r["allocatedCents"] for r in tranches if r["subBudget"] is None) == src.RWB_RIJK_TOTAL
    assert (await total_row(api, admin, demo.RWB, 2015, "werkbedrijf"))["allocatedCents"] == src.RWB_BEGROTING_2015_TOTAL
    # Drentsche Aa (seed 004): the members pay the net 1.3 mln, split as test_organisations works out by hand.
    for policy, gm0106 in (("solidariteit", 69_602_228), ("profijt", 86_048_387)):
        status, split = await api.get(admin, f"/v1/organisations/{demo.DRENTSCHE_AA}/cost-split", year=2015, policy=policy)
        assert status == 200 and split["totalCents"] == 130_000_000, split
        assert {s["party"]: s["amountCents"] for s in split["shares"]}["GM0106"] == gm0106
    status, kpis = await api.get(admin, "/v1/kpis", party=demo.DRENTSCHE_AA, year=2015)
    assert kpis["banenafspraakJobs"] == 58 and kpis["beschutWerk"]["cap"] == 20
    assert kpis["outflow"]["volledig"] == 145 + 77
    assert kpis["outflow"]["avoidedBenefitCents"] == sum(cents for _, cents in src.DRENTSCHE_AA_OUTFLOW_2015.values())


def test_the_illustrative_usage_adds_up_to_the_published_headcounts() -> None:
    """Usage per member is made up (seed 004 lacks its annexes), but not beyond the units' staff."""
    usage = {unit: sum(by_member.values()) for unit, by_member in src.DRENTSCHE_AA_USAGE.items()}
    assert usage == src.DRENTSCHE_AA_HEADCOUNT_2015


async def test_loading_the_demo_again_stores_nothing(api: Api) -> None:
    admin = await load(api)
    status, before = await api.get(admin, "/v1/events", limit=1)
    for batch in demo.batches():
        status, body = await api.post(admin, {"events": batch.events})
        assert status == 200, (batch.title, body)
    status, after = await api.get(admin, "/v1/events", limit=1)
    assert after["count"] == before["count"] == sum(len(b.events) for b in demo.batches())


async def test_parties_are_what_the_token_may_read_with_the_years_of_their_figures(api: Api) -> None:
    admin = await load(api)
    everyone = {p["code"]: p for p in await results(api, admin, "/v1/parties", pageSize=1000)}
    assert len(everyone) == 1 + 1 + len(src.RWB_MEMBERS) + 1 + len(src.DRENTSCHE_AA_MEMBERS) + 1
    assert everyone["GM0439"] == {"code": "GM0439", "name": "Purmerend", "kind": "gemeente", "fundHolder": None,
                                  "members": [], "years": [2014, 2015, 2016, 2017, 2018]}
    rwb = everyone[demo.RWB]
    assert (rwb["kind"], rwb["fundHolder"], rwb["members"]) == ("organisation", "GM0200", sorted(src.RWB_MEMBERS))
    assert everyone["GM0200"]["years"] == [2014, 2015, 2016]  # Apeldoorn's registration and the Rijk's tranches
    # A gemeente reads itself and the organisation it is a member of; a controller its own party.
    assen = api.token("gemeente", "GM0106")
    assert [p["code"] for p in await results(api, assen, "/v1/parties")] == [demo.DRENTSCHE_AA, "GM0106"]
    controller = api.token("controller", "GM0439")
    assert [p["code"] for p in await results(api, controller, "/v1/parties")] == ["GM0439"]
    status, body = await api.get(assen, "/v1/parties", party="GM0439")
    assert status == 403, body
    # As a table, a gemeente first and then its organisation: the same columns on every row.
    apeldoorn = api.token("gemeente", src.RWB_FUND_HOLDER)
    r = await api.client.get("/v1/parties", headers={"Authorization": f"Bearer {apeldoorn}", "Accept": "text/csv"})
    assert r.status == 200
    assert (await r.text()).splitlines() == [
        "code,name,kind,fundHolder,members,years",
        "GM0200,Apeldoorn,gemeente,,[],\"[2014,2015,2016]\"",
        f"{demo.RWB},Regionaal Werkbedrijf Stedendriehoek en Noord-Veluwe,organisation,GM0200,"
        + '"' + str(sorted(src.RWB_MEMBERS)).replace("'", '""').replace(" ", "") + '",\"[2014,2015]\"',
    ]
    # As the ledger knew it before anything was posted: nobody.
    assert await results(api, admin, "/v1/parties", asOf="2000-01-01T00:00:00Z") == []


async def test_the_dashboard_page_loads_nothing_from_elsewhere(api: Api) -> None:
    r = await api.client.get("/")
    assert r.status == 200 and r.content_type == "text/html"
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    page = await r.text()
    assert 'lang="nl"' in page and "http://" not in page and "https://" not in page
    for asset in ("dashboard.js", "dashboard.css"):
        r = await api.client.get(f"/dashboard/{asset}")
        assert r.status == 200 and "https://" not in await r.text()
    r = await api.client.get("/dashboard/..%2Fapp.py")
    assert r.status == 404 and r.content_type == "application/problem+json"
