"""Advances and settlement of a shared organisation (voorschotten en afrekening, issue
17.5), through HTTP on both stores: the organisation invoices and records payments per
member and year; each share of the cost split shows them and what is due at settlement,
under either policy; only members of that year; the journal stays balanced."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.conftest import Api, event, register
from tests.test_organisations import organisation, post_ok, split_of
from tests.test_partial_corrections import part
from tests.test_refusals import refused

GR = "GR-TEST"


def invoiced(member: str, cents: int, date: str = "2015-01-15") -> dict[str, Any]:
    return event("ContributionInvoiced", {"member": member, "amountCents": cents}, party=GR, date=date)


def paid(member: str, cents: int, date: str = "2015-02-15") -> dict[str, Any]:
    return event("ContributionPaid", {"member": member, "amountCents": cents}, party=GR, date=date)


def settlement(body: dict[str, Any]) -> dict[str, tuple[int, int, int, int]]:
    return {s["party"]: (s["amountCents"], s["invoicedCents"], s["paidCents"], s["settlementCents"]) for s in body["shares"]}


async def _gr(api: Api) -> str:
    org = await organisation(api, GR, ["GM0001", "GM0002"])
    await post_ok(
        api, org,
        event("AllocationKeySet", {"basis": "vast", "weights": {"GM0001": 1, "GM0002": 3}, "policy": "solidariteit"},
              party=GR, date="2015-01-01"),
        event("OrganisationCostBooked", {"unit": "staf", "amountCents": 100_000, "usage": {"GM0001": 1}}, party=GR),
    )
    return org


async def test_what_each_member_paid_and_what_is_due_at_settlement(api: Api) -> None:
    org = await _gr(api)
    wrong = paid("GM0002", 10_000)
    await post_ok(api, org, invoiced("GM0001", 20_000), invoiced("GM0002", 60_000), paid("GM0001", 20_000),
                  paid("GM0002", 50_000), invoiced("GM0001", 10_000, date="2015-07-01"), wrong)
    before = datetime.now(UTC).isoformat()
    await post_ok(api, org, part(wrong["id"], 4_000) | {"party": GR})
    body = await split_of(api, org, GR, year=2015)
    # 100,000 by 1:3 is 25,000 and 75,000; GM0002 paid 50,000 + 10,000 - 4,000 = 56,000
    assert settlement(body) == {"GM0001": (25_000, 30_000, 20_000, 5_000), "GM0002": (75_000, 60_000, 56_000, 19_000)}
    profijt = await split_of(api, org, GR, year=2015, policy="profijt")  # all by usage: GM0001 pays it all
    assert settlement(profijt) == {"GM0001": (100_000, 30_000, 20_000, 80_000), "GM0002": (0, 60_000, 56_000, -56_000)}
    then = await split_of(api, org, GR, year=2015, asOf=before)
    assert settlement(then)["GM0002"] == (75_000, 60_000, 60_000, 15_000)
    status, body = await api.get(api.token("auditor"), "/v1/trial-balance")
    assert status == 200 and body["debitCents"] == body["creditCents"], body
    status, body = await api.get(api.token("auditor"), "/v1/trial-balance", party=GR)
    accounts = {a["account"]: a for a in body["accounts"]}
    assert accounts["te-ontvangen/2015/GM0001"]["debitCents"] - accounts["te-ontvangen/2015/GM0001"]["creditCents"] == 10_000
    r = await api.client.get(f"/v1/organisations/{GR}/cost-split", params={"year": "2015"},
                             headers={"Authorization": f"Bearer {org}", "Accept": "text/csv"})
    assert (await r.text()).splitlines()[0].endswith("amountCents,invoicedCents,paidCents,settlementCents")


async def test_only_an_organisation_and_only_for_members_of_that_year(api: Api) -> None:
    org = await _gr(api)
    await register(api, api.token("admin"), "GM0003")
    await refused(api, org, invoiced("GM0003", 1_000), (0, "not-a-member"))
    await post_ok(api, org, event("MembershipChanged", {"member": "GM0002", "change": "left"}, party=GR, date="2016-01-01"))
    await refused(api, org, paid("GM0002", 1_000, date="2016-03-01"), (0, "not-a-member"))
    gemeente = api.token("gemeente", "GM0001")
    await refused(api, gemeente, event("ContributionPaid", {"member": "GM0001", "amountCents": 5}, party="GM0001"),
                  (0, "not-an-organisation"))
    status, body = await api.post(org, invoiced("GM0001", 0))
    assert status == 400 and body["invalidParams"][0]["name"] == "data.amountCents", body
