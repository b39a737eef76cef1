"""The reference scenario (shared/reference/purmerend.md), posted over HTTP as
Purmerend would: one atomic batch per year, with the gemeente's own token."""

from __future__ import annotations

from ledger import demo
from tests.conftest import Api, event

# year: (income = allocated + income, spent, saldo, reserve at year end), in whole euros,
# as published in seed 002 L1316-1360.
EXPECTED = {
    2014: (4_454_759, 4_454_759, 0, 1_075_173),
    2015: (4_190_015, 4_190_015, 0, 784_519),
    2016: (4_393_427, 4_393_427, 0, 482_762),
    2017: (4_609_411, 4_609_411, 0, 189_198),
    2018: (4_784_727, 4_807_343, -22_616, 0),
}


async def post_purmerend(api: Api) -> str:
    admin = api.token("admin")
    registration, reserve = demo.purmerend_setup()
    assert (await api.post(admin, registration))[0] == 201
    gemeente = api.token("gemeente", "GM0439")
    status, body = await api.post(gemeente, reserve)
    assert status == 201, body
    for year in demo.YEARS:
        status, body = await api.post(gemeente, {"events": demo.purmerend_year(year)})
        assert status == 201, body
    return gemeente


async def test_every_figure_of_the_reference_table(api: Api) -> None:
    gemeente = await post_purmerend(api)
    for year, (income, spent, saldo, reserve) in EXPECTED.items():
        status, body = await api.get(gemeente, "/v1/balances", party="GM0439", year=year)
        assert status == 200, body
        (row,) = body["results"]
        assert (row["budget"], row["subBudget"]) == ("participatiebudget", None)
        assert row["allocatedCents"] + row["incomeCents"] == income * 100
        assert row["spentCents"] == spent * 100
        assert row["saldoCents"] == saldo * 100
        assert row["availableCents"] == saldo * 100  # nothing committed
        status, body = await api.get(gemeente, "/v1/reserves", party="GM0439", year=year)
        assert status == 200, body
        (res,) = body["results"]
        assert (res["reserve"], res["balanceCents"]) == ("participatie", reserve * 100)


async def test_the_empty_reserve_refuses_a_further_withdrawal(api: Api) -> None:
    gemeente = await post_purmerend(api)
    status, body = await api.post(
        gemeente,
        event("ReserveWithdrawn", {"reserve": "participatie", "budget": "participatiebudget", "amountCents": 100},
              date="2018-12-31"),
    )
    assert status == 422, body
    assert body["type"].endswith("reserve-below-zero")
    status, body = await api.get(gemeente, "/v1/reserves", party="GM0439")
    assert body["results"][0]["balanceCents"] == 0


async def test_reserve_movements_per_year(api: Api) -> None:
    gemeente = await post_purmerend(api)
    status, body = await api.get(gemeente, "/v1/reserves", party="GM0439", year=2014)
    (res,) = body["results"]
    assert res["addedCents"] == 162_361_400  # the opening balance, established on 2014-01-01
    assert res["withdrawnCents"] == 54_844_100
    status, body = await api.get(gemeente, "/v1/reserves", party="GM0439", year=2016)
    (res,) = body["results"]
    assert (res["addedCents"], res["withdrawnCents"]) == (0, 30_175_700)


async def test_a_retried_year_batch_changes_nothing(api: Api) -> None:
    gemeente = await post_purmerend(api)
    year = 2015
    before = await api.get(gemeente, "/v1/balances", party="GM0439", year=year)
    status, body = await api.post(gemeente, {"events": demo.purmerend_year(year)})
    assert status == 200, body
    assert await api.get(gemeente, "/v1/balances", party="GM0439", year=year) == before


async def test_the_structural_deficit_of_2018_in_a_meerjarenraming(api: Api) -> None:
    """Seed 002 L1280: without the reserve's 189.198, 2018's −22.616 is a structural
    deficit of "ca. € 212.000"; the five years come in one read."""
    gemeente = await post_purmerend(api)
    status, body = await api.get(gemeente, "/v1/balances", party="GM0439", fromYear=2014, toYear=2018)
    assert status == 200, body
    rows = {r["year"]: r for r in body["results"]}
    assert sorted(rows) == sorted(EXPECTED)
    assert rows[2018]["saldoCents"] == -22_616_00
    assert rows[2018]["structuralSaldoCents"] == (-22_616 - 189_198) * 100 == -211_814_00


async def test_the_reserve_runs_dry_in_2018(api: Api) -> None:
    gemeente = await post_purmerend(api)
    status, body = await api.get(gemeente, "/v1/reserves/GM0439/participatie/runway")
    assert status == 200, body
    assert (body["party"], body["reserve"], body["emptyAt"]) == ("GM0439", "participatie", 2018)
    years = body["years"]
    assert [y["year"] for y in years] == list(EXPECTED)
    assert years[0]["openingCents"] == 1_623_614_00
    assert [y["closingCents"] for y in years] == [reserve * 100 for *_, reserve in EXPECTED.values()]
    for before, after in zip(years, years[1:]):
        assert after["openingCents"] == before["closingCents"]
    for y in years:
        assert y["closingCents"] == y["openingCents"] + y["addedCents"] - y["withdrawnCents"]
