"""Lelystad (seed 000), posted as the gemeente would over HTTP: the integratie-uitkering
participatie 2015-2019 in its components A+B+C, and the NUON reserve that lends
€1m a year for three years and takes reflux back up to what it lent, no more."""

from __future__ import annotations

from typing import Any

from ledger import sources as src
from tests.conftest import Api, event, register

LELYSTAD = src.LELYSTAD
COMPONENTS = {"a": "a-klassieke-doelgroep", "b": "b-nieuwe-doelgroep", "c": "c-sociale-werkvoorziening"}


async def lelystad(api: Api) -> str:
    await register(api, api.token("admin"), LELYSTAD)
    token = api.token("gemeente", LELYSTAD)
    for year, figures in src.LELYSTAD_INTEGRATIE_UITKERING.items():
        batch = [
            event("BudgetAllocated", {"budget": "participatiebudget", "subBudget": sub, "source": "sociaal-deelfonds",
                                      "amountCents": figures[component]}, party=LELYSTAD, date=f"{year}-01-01")
            for component, sub in COMPONENTS.items()
        ]
        status, body = await api.post(token, {"events": batch})
        assert status == 201, body
    return token


async def rows(api: Api, token: str, year: int) -> dict[str | None, dict[str, Any]]:
    status, body = await api.get(token, "/v1/balances", party=LELYSTAD, year=year, budget="participatiebudget")
    assert status == 200, body
    return {r["subBudget"]: r for r in body["results"]}


async def test_integratie_uitkering_a_b_c_2015_2019(api: Api) -> None:
    token = await lelystad(api)
    for year, figures in src.LELYSTAD_INTEGRATIE_UITKERING.items():
        lines = await rows(api, token, year)
        assert lines[None]["allocatedCents"] == figures["total"], year  # "Bedrag Lelystad IU (A+B+C)", L1899
        for component, sub in COMPONENTS.items():
            assert lines[sub]["allocatedCents"] == figures[component], (year, sub)


async def post(api: Api, token: str, kind: str, data: dict[str, Any], date: str) -> tuple[int, Any]:
    return await api.post(token, event(kind, data, party=LELYSTAD, date=date))


async def reserve(api: Api, token: str, year: int | None = None) -> dict[str, Any]:
    params = {"party": LELYSTAD} if year is None else {"party": LELYSTAD, "year": year}
    status, body = await api.get(token, "/v1/reserves", **params)
    assert status == 200, body
    (row,) = body["results"]
    return row


async def test_nuon_reserve_lends_three_times_and_takes_reflux_up_to_what_it_lent(api: Api) -> None:
    token = await lelystad(api)
    nuon = src.NUON_RESERVE
    status, body = await post(api, token, "ReserveEstablished", {
        "reserve": nuon["reserve"], "openingBalanceCents": nuon["openingCents"], "revolving": True,
        "purpose": "NUON: jaarlijks 1 miljoen aan het budget klassieke doelgroep, revenuen vloeien terug"},
        "2015-01-01")
    assert status == 201, body
    left = nuon["openingCents"]
    for year, cents in nuon["withdrawals"].items():
        status, body = await post(api, token, "ReserveWithdrawn", {
            "reserve": "nuon", "budget": "participatiebudget", "subBudget": COMPONENTS["a"], "amountCents": cents},
            f"{year}-01-15")
        assert status == 201, body
        left -= cents
        assert (await reserve(api, token, year))["balanceCents"] == left
        # The loan reaches the A budget as income.
        line = (await rows(api, token, year))[COMPONENTS["a"]]
        assert line["incomeCents"] == cents
        assert line["saldoCents"] == src.LELYSTAD_INTEGRATIE_UITKERING[year]["a"] + cents
    assert left == 0
    # A fourth year would take the reserve below zero.
    status, body = await post(api, token, "ReserveWithdrawn", {
        "reserve": "nuon", "budget": "participatiebudget", "amountCents": 100}, "2019-01-15")
    assert status == 422 and body["type"].endswith("reserve-below-zero"), body
    # Revenues flow back, up to the 3m made available and not a cent more.
    for cents in (250_000_000, 50_000_000):
        status, body = await post(api, token, "ReserveAdded", {"reserve": "nuon", "amountCents": cents, "reflux": True},
                                  "2019-06-30")
        assert status == 201, body
    status, body = await post(api, token, "ReserveAdded", {"reserve": "nuon", "amountCents": 1, "reflux": True},
                              "2019-07-01")
    assert status == 422 and body["type"].endswith("reflux-exceeds-withdrawn"), body
    now = await reserve(api, token)
    assert (now["balanceCents"], now["refluxCents"]) == (nuon["refluxCapCents"], nuon["refluxCapCents"])


async def test_reflux_into_a_reserve_that_does_not_revolve_is_refused(api: Api) -> None:
    token = await lelystad(api)
    status, body = await post(api, token, "ReserveEstablished", {
        "reserve": "algemeen", "openingBalanceCents": 1_000, "purpose": "algemene reserve"}, "2015-01-01")
    assert status == 201, body
    status, body = await post(api, token, "ReserveAdded", {"reserve": "algemeen", "amountCents": 10, "reflux": True},
                              "2015-02-01")
    assert status == 422 and body["type"].endswith("reflux-not-revolving"), body
