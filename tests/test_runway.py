"""A reserve's runway (issue 17.4), through HTTP on both stores: every year from its
first movement to its last dated one, planned (future-dated) withdrawals included, and
the first year it closes at 0."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.conftest import Api, event, register
from tests.test_refusals import accepted, allocation, reserve

PATH = "/v1/reserves/GM0439/r/runway"


def withdrawal(cents: int, date: str) -> dict:
    return event("ReserveWithdrawn", {"reserve": "r", "budget": "participatiebudget", "amountCents": cents}, date=date)


async def test_planned_withdrawals_run_the_reserve_dry(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, allocation("participatiebudget", 1), reserve("r", 10_000, date="2015-03-01"),
                   event("ReserveAdded", {"reserve": "r", "amountCents": 500}, date="2016-05-01"),
                   withdrawal(4_000, "2015-12-31"))
    before = datetime.now(UTC).isoformat()
    await accepted(api, gemeente, *(allocation("participatiebudget", 1, date=f"{y}-01-01") for y in (2018, 2019)),
                   withdrawal(3_000, "2018-06-30"), withdrawal(3_500, "2019-06-30"))
    status, body = await api.get(gemeente, PATH)
    assert status == 200, body
    assert body["emptyAt"] == 2019
    assert [(y["year"], y["openingCents"], y["addedCents"], y["withdrawnCents"], y["closingCents"]) for y in body["years"]] == [
        (2015, 10_000, 0, 4_000, 6_000),
        (2016, 6_000, 500, 0, 6_500),
        (2017, 6_500, 0, 0, 6_500),  # a year without movements is there, unchanged
        (2018, 6_500, 0, 3_000, 3_500),
        (2019, 3_500, 0, 3_500, 0),
    ]
    status, then = await api.get(gemeente, PATH, asOf=before)
    assert status == 200 and then["emptyAt"] is None and [y["year"] for y in then["years"]] == [2015, 2016]
    r = await api.client.get(PATH, headers={"Authorization": f"Bearer {gemeente}", "Accept": "text/csv"})
    lines = (await r.text()).splitlines()
    assert r.status == 200 and lines[0] == "party,reserve,year,openingCents,addedCents,withdrawnCents,closingCents"
    assert lines[-1] == "GM0439,r,2019,3500,0,3500,0"


async def test_an_unknown_reserve_or_a_stranger_is_refused(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, reserve("r", 10_000))
    status, body = await api.get(gemeente, "/v1/reserves/GM0439/nope/runway")
    assert status == 404 and body["detail"], body
    status, body = await api.get(gemeente, "/v1/reserves/GM0439/Not_A_Code/runway")
    assert status == 400 and body["invalidParams"][0]["name"] == "reserve", body
    await register(api, api.token("admin"), "GM0995")
    status, body = await api.get(api.token("gemeente", "GM0995"), PATH)
    assert status == 403, body
    status, body = await api.get(api.token("controller", "GM0439"), PATH)
    assert status == 200 and body["emptyAt"] is None, body
