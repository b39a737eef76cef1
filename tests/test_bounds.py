"""The ledger's bounds (ledger/bounds.py), through the real HTTP API on both stores.

Money: one amount beyond `MAX_CENTS` is a 400; a party whose amounts would add up past
its volume is a 422 `party-volume-exceeded`, and a party at its volume still reads to
the cent (balances, as-of, the trial balance), beside another party that goes on
posting and reading. Dates: only the years 1900-2999, and a grant commits at most
`MAX_GRANT_MONTHS` months, never more than twelve in a year.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import book, subsidy
from ledger.bounds import MAX_CENTS, MAX_GRANT_MONTHS, PARTY_VOLUME_CAP
from tests.conftest import Api, assert_problem, event, register
from tests.test_refusals import PARTY, accepted, allocation, cost, refused

OTHER = "GM0200"


def grant(subsidy_id: str, start: str, end: str | None = None, date: str = "2019-01-01") -> dict[str, Any]:
    data = {"subsidyId": subsidy_id, "clientRef": f"client-{subsidy_id}", "instrument": "loonkostensubsidie",
            "loonwaardePct": 50, "wmlMonthlyCents": 170_000, "startDate": start}
    if end is not None:
        data["endDate"] = end
    return event("SubsidyGranted", data, date=date)


async def invalid(api: Api, token: str, body: dict[str, Any], *names: str) -> None:
    r = await api.client.post("/v1/events", json=body, headers={"Authorization": f"Bearer {token}"})
    problem = await r.json(content_type=None)
    assert_problem(r.status, r.headers["Content-Type"], problem, 400)
    assert {p["name"] for p in problem["invalidParams"]} == set(names), problem


@pytest.fixture
async def two(api: Api) -> tuple[str, str]:
    """Tokens of two registered gemeenten."""
    await register(api, api.token("admin"), PARTY, OTHER)
    return api.token("gemeente", PARTY), api.token("gemeente", OTHER)


@pytest.mark.parametrize("amount", [MAX_CENTS + 1, -MAX_CENTS - 1, 2**63, 2**64 + 1, -(2**63) - 1])
async def test_an_amount_beyond_the_bound_is_a_400(api: Api, two: tuple[str, str], amount: int) -> None:
    await invalid(api, two[0], allocation("inkomensdeel", amount), "data.amountCents")


async def test_a_party_reads_to_the_cent_at_its_volume_and_not_a_cent_beyond(api: Api, two: tuple[str, str]) -> None:
    mine, other = two
    # The defect: 9,300 allocations of 10^15 passed 2^63 in sum; balances read a float, as-of and the trial balance 500.
    await refused(api, mine, [allocation("inkomensdeel", MAX_CENTS, date="2019-06-30") for _ in range(5)],
                  (4, "party-volume-exceeded"))
    full = [allocation("inkomensdeel", MAX_CENTS - 7, date="2019-06-30") for _ in range(4)]
    await accepted(api, mine, *full)
    await refused(api, mine, cost("inkomensdeel", 29, date="2019-06-30"), (0, "party-volume-exceeded"))
    await accepted(api, mine, cost("inkomensdeel", 28, date="2019-06-30"))
    assert PARTY_VOLUME_CAP == 4 * MAX_CENTS

    # another party posts and reads its own writes meanwhile
    await accepted(api, other, allocation("inkomensdeel", 12_345, date="2019-06-30", party=OTHER))
    status, body = await api.get(other, "/v1/balances", party=OTHER, year=2019)
    assert status == 200 and body["results"][0]["allocatedCents"] == 12_345, body

    allocated = 4 * (MAX_CENTS - 7)
    admin = api.token("admin")
    for params in ({"year": 2019}, {"asOf": "2999-01-01T00:00:00Z"}):
        status, body = await api.get(mine, "/v1/balances", party=PARTY, **params)
        assert status == 200, body
        row = next(r for r in body["results"] if r["subBudget"] is None)
        assert (row["allocatedCents"], row["spentCents"], row["saldoCents"]) == (allocated, 28, allocated - 28)
        assert all(isinstance(v, int) for k, v in row.items() if k.endswith("Cents")), row
    for params in ({}, {"party": PARTY}):
        status, body = await api.get(admin, "/v1/trial-balance", **params)
        assert status == 200, body
        assert body["debitCents"] == body["creditCents"] >= allocated and isinstance(body["debitCents"], int)
    status, body = await api.get(admin, "/v1/journal", party=PARTY, year=2019)
    assert status == 200, body


async def test_the_party_limit_is_a_422_at_registration(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = api.token("admin")
    await register(api, admin, PARTY, OTHER)
    monkeypatch.setattr(book, "MAX_PARTIES", 3)
    third = event("PartyRegistered", {"name": "Lelystad", "kind": "gemeente"}, party="GM0995", date="2014-01-01")
    fourth = event("PartyRegistered", {"name": "Zwolle", "kind": "gemeente"}, party="GM0193", date="2014-01-01")
    await refused(api, admin, [third, fourth], (1, "party-limit-reached"))
    await accepted(api, admin, third)
    await refused(api, admin, fourth, (0, "party-limit-reached"))


@pytest.mark.parametrize(
    ("where", "day"),
    [("effectiveDate", "0001-01-01"), ("effectiveDate", "9999-12-31"), ("effectiveDate", "1899-12-31"),
     ("effectiveDate", "3000-01-01"), ("data.startDate", "0001-01-01"), ("data.endDate", "9999-12-31")],
)
async def test_a_date_outside_the_ledgers_years_is_a_400(api: Api, two: tuple[str, str], where: str, day: str) -> None:
    body = grant("s1", "2019-01-01", "2019-12-31")
    if where == "effectiveDate":
        body["effectiveDate"] = day
    else:
        body["data"][where.removeprefix("data.")] = day
    await invalid(api, two[0], body, where)


async def test_a_grant_reaches_at_most_its_bound_of_months(api: Api, two: tuple[str, str]) -> None:
    mine, _ = two
    await accepted(api, mine, allocation("inkomensdeel", 1_000, date="2019-01-01"))
    # one month too many, in the grant itself: a 400; the longest grant: accepted
    await invalid(api, mine, grant("long", "1950-01-01", "2000-01-31"), "data")
    await accepted(api, mine, grant("longest", "1950-01-01", "1999-12-31"))
    # an open-ended grant, stretched past the bound by a re-measurement or an end far on: a 422
    await accepted(api, mine, grant("open", "1980-01-01"))
    far = event("LoonwaardeMeasured", {"subsidyId": "open", "loonwaardePct": 40}, date="2030-01-01")
    await refused(api, mine, far, (0, "subsidy-period-too-long"))
    end = event("SubsidyEnded", {"subsidyId": "open"}, date="2030-01-01")
    await refused(api, mine, end, (0, "subsidy-period-too-long"))
    await accepted(api, mine, event("SubsidyEnded", {"subsidyId": "open"}, date="2029-12-31"))


dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=dates, months=st.integers(1, MAX_GRANT_MONTHS), horizon=st.integers(0, 40))
def test_no_year_commits_more_than_its_twelve_months(start: Any, months: int, horizon: int) -> None:
    """The defect: a grant from 0001-01-01 to 9999-12-31 committed 132 months in 2019."""
    first = start.isoformat()
    year, month = divmod(start.year * 12 + start.month - 1 + months - 1, 12)
    if year > 2999:
        return
    last = f"{year:04d}-{month + 1:02d}-01"
    data = {"budget": "inkomensdeel", "wmlMonthlyCents": 170_000, "partTimeFactor": 1, "startDate": first,
            "endDate": last, "loonwaardePct": 50}
    plan = subsidy.planned(subsidy.new_grant(data, first))
    monthly = subsidy.monthly_cents(170_000, 50, 1, start.year)
    assert sum(plan.values()) == months * monthly
    assert all(cents <= 12 * monthly for cents in plan.values())
    assert subsidy.committed_months(subsidy.new_grant(data, first)) == months
