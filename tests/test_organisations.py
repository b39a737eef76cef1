"""Shared organisations over HTTP: cost splits under solidariteit and profijt, the
Regionaal Werkbedrijf's begroting, membership pro rata, versioned keys and who may read.

The figures come from the source documents (ledger/sources.py); the expected
shares are worked out by hand in the comments, never by the code under test.
"""

from __future__ import annotations

from fractions import Fraction

from typing import Any

from ledger import sources as src
from tests.conftest import Api, assert_problem, event, register

DRENTSCHE_AA = "DRENTSCHE-AA"
RWB = "RWB-STEDENDRIEHOEK"


async def organisation(api: Api, code: str, members: list[str], fund_holder: str | None = None) -> str:
    """Register `members` and the organisation; return the organisation's token."""
    admin = api.token("admin")
    await register(api, admin, *members)
    data: dict[str, Any] = {"name": code, "members": members}
    if fund_holder:
        data["fundHolder"] = fund_holder
    status, body = await api.post(admin, event("OrganisationRegistered", data, party=code, date="2015-01-01"))
    assert status == 201, body
    return api.token("organisation", code)


async def post_ok(api: Api, token: str, *events: dict[str, Any]) -> list[dict[str, Any]]:
    status, body = await api.post(token, {"events": list(events)})
    assert status == 201, body
    return body["events"]


async def split_of(api: Api, token: str, code: str, **params: Any) -> dict[str, Any]:
    status, body = await api.get(token, f"/v1/organisations/{code}/cost-split", **params)
    assert status == 200, body
    assert sum(s["amountCents"] for s in body["shares"]) == body["totalCents"]
    return body


def amounts(body: dict[str, Any]) -> dict[str, int]:
    return {s["party"]: s["amountCents"] for s in body["shares"]}


async def drentsche_aa(api: Api) -> str:
    """Drentsche Aa's 2015 Wsw unit results (seed 004 L1581-1678) with the members'
    inhabitants as the key and their usage per unit."""
    org = await organisation(api, DRENTSCHE_AA, list(src.DRENTSCHE_AA_MEMBERS))
    events = [
        event("AllocationKeySet", {"basis": "inwoners", "weights": src.DRENTSCHE_AA_INWONERS, "policy": "profijt"},
              party=DRENTSCHE_AA, date="2015-01-01"),
    ]
    for unit, cents in src.DRENTSCHE_AA_UNITS_2015.items():
        events.append(event("OrganisationResultDetermined",
                            {"unit": unit, "amountCents": cents, "usage": src.DRENTSCHE_AA_USAGE[unit]},
                            party=DRENTSCHE_AA, date="2015-12-31"))
    await post_ok(api, org, *events)
    return org


async def test_drentsche_aa_split_by_inhabitants_and_by_usage_side_by_side(api: Api) -> None:
    org = await drentsche_aa(api)
    # Net charge: the beschut deficit of 2,000,000 less the WOO (400,000) and
    # detachering (300,000) surpluses = 1,300,000 euro the members pay.
    total = 130_000_000
    solidariteit = await split_of(api, org, DRENTSCHE_AA, year=2015, policy="solidariteit")
    # By inhabitants 25,300 / 67,300 / 33,100 of 125,700:
    #   GM1680 26,165,473.35  GM0106 69,602,227.53  GM1730 34,232,299.12 cents; the floors
    #   leave 1 cent, which goes to the largest remainder (.53, GM0106).
    assert solidariteit["totalCents"] == total
    assert (solidariteit["policy"], solidariteit["basis"]) == ("solidariteit", "inwoners")
    assert amounts(solidariteit) == {"GM1680": 26_165_473, "GM0106": 69_602_228, "GM1730": 34_232_299}
    profijt = await split_of(api, org, DRENTSCHE_AA, year=2015)  # the key's own policy
    # Each unit by its own usage:
    #   GM1680: 2,000,000x50/310 - 400,000x25/160 - 300,000x70/310 = 192,338.7097 euro
    #   GM0106: 2,000,000x200/310 - 400,000x110/160 - 300,000x160/310 = 860,483.8710
    #   GM1730: 2,000,000x60/310 - 400,000x25/160 - 300,000x80/310 = 247,177.4194
    #   floors leave 2 cents: remainders .968 (GM1680) and .935 (GM1730) get them.
    assert profijt["policy"] == "profijt"
    assert profijt["totalCents"] == total
    assert amounts(profijt) == {"GM1680": 19_233_871, "GM0106": 86_048_387, "GM1730": 24_717_742}
    assert {u["unit"]: u["totalCents"] for u in profijt["units"]} == {
        "beschut": 200_000_000, "woo": -40_000_000, "detachering": -30_000_000}
    # The weight each amount was split by: under solidariteit the key's inhabitants; under
    # profijt the exact share of the total in the key's units (share x 125,700), the key's
    # weight apart. GM1680: 192,338.7097 / 1,300,000 x 125,700 = 18,597.67.
    key = {"GM1680": 25_300, "GM0106": 67_300, "GM1730": 33_100}
    assert {s["party"]: (s["weight"], s["keyWeight"]) for s in solidariteit["shares"]} == {
        p: (w, w) for p, w in key.items()}
    by = {s["party"]: s for s in profijt["shares"]}
    assert {p: s["keyWeight"] for p, s in by.items()} == key
    exact = Fraction(200_000_000 * 50, 310) - Fraction(40_000_000 * 25, 160) - Fraction(30_000_000 * 70, 310)
    assert by["GM1680"]["weight"] == round(float(exact / total * 125_700), 6)
    assert abs(sum(s["weight"] for s in profijt["shares"]) - 125_700) < 1e-3


async def test_only_members_their_controllers_and_the_organisation_read_the_split(api: Api) -> None:
    org = await drentsche_aa(api)
    await register(api, api.token("admin"), "GM0439")
    allowed = [org, api.token("gemeente", "GM0106"), api.token("controller", "GM1730"), api.token("auditor")]
    for token in allowed:
        assert (await api.get(token, f"/v1/organisations/{DRENTSCHE_AA}/cost-split", year=2015))[0] == 200
    for token in (api.token("gemeente", "GM0439"), api.token("controller", "GM0439"), api.token("organisation", RWB)):
        r = await api.client.get(f"/v1/organisations/{DRENTSCHE_AA}/cost-split", params={"year": 2015},
                                 headers={"Authorization": f"Bearer {token}"})
        assert_problem(r.status, r.headers["Content-Type"], await r.json(content_type=None), 403)


async def test_split_refusals_and_missing_key(api: Api) -> None:
    org = await organisation(api, DRENTSCHE_AA, ["GM1680", "GM0106"])
    admin = api.token("admin")
    path = f"/v1/organisations/{DRENTSCHE_AA}/cost-split"
    # No key for 2015 yet: a clear 404, not an empty split.
    r = await api.client.get(path, params={"year": 2015}, headers={"Authorization": f"Bearer {admin}"})
    body = await r.json(content_type=None)
    assert_problem(r.status, r.headers["Content-Type"], body, 404)
    assert body["type"].endswith("no-allocation-key")
    for params in ({}, {"year": 2015, "policy": "everyone"}):
        r = await api.client.get(path, params=params, headers={"Authorization": f"Bearer {admin}"})
        assert_problem(r.status, r.headers["Content-Type"], await r.json(content_type=None), 400)
    assert (await api.get(admin, "/v1/organisations/GM1680/cost-split", year=2015))[0] == 404
    # A key or a usage naming a non-member is refused, and so is an organisation event by a gemeente.
    status, body = await api.post(org, event("AllocationKeySet", {"basis": "vast", "weights": {"GM0439": 1},
                                                                   "policy": "solidariteit"}, party=DRENTSCHE_AA))
    assert status == 422 and body["type"].endswith("not-a-member"), body
    status, body = await api.post(org, event("OrganisationCostBooked", {"unit": "staf", "amountCents": 5, "usage": {"GM0439": 1}},
                                             party=DRENTSCHE_AA))
    assert status == 422 and body["type"].endswith("not-a-member"), body
    status, body = await api.post(api.token("gemeente", "GM1680"),
                                  event("OrganisationCostBooked", {"unit": "staf", "amountCents": 5}, party="GM1680"))
    assert status == 422 and body["type"].endswith("not-an-organisation"), body


async def test_a_member_joining_mid_year_weighs_by_days(api: Api) -> None:
    org = await organisation(api, "GR-TEST", ["GM0001", "GM0002"])
    await register(api, api.token("admin"), "GM0003")
    await post_ok(
        api, org,
        event("MembershipChanged", {"member": "GM0003", "change": "joined"}, party="GR-TEST", date="2015-07-01"),
        event("MembershipChanged", {"member": "GM0002", "change": "left"}, party="GR-TEST", date="2015-10-01"),
        event("AllocationKeySet", {"basis": "vast", "weights": {"GM0001": 1, "GM0002": 1, "GM0003": 1},
                                   "policy": "solidariteit"}, party="GR-TEST", date="2015-07-01"),
        event("OrganisationCostBooked", {"unit": "staf", "amountCents": 365_000}, party="GR-TEST"),
    )
    body = await split_of(api, org, "GR-TEST", year=2015)
    # Days in 2015: GM0001 365, GM0002 273 (1 Jan - 30 Sep), GM0003 184 (1 Jul - 31 Dec), of 822.
    # 365,000 x 365/822 = 162,074.21 ; x 273/822 = 121,222.63 ; x 184/822 = 81,703.16 cents.
    weights = {s["party"]: s["weight"] for s in body["shares"]}
    assert weights == {"GM0001": 1.0, "GM0002": round(273 / 365, 6), "GM0003": round(184 / 365, 6)}
    # floors 162,074 + 121,222 + 81,703 = 364,999: the cent left goes to GM0002 (.63).
    assert amounts(body) == {"GM0001": 162_074, "GM0002": 121_223, "GM0003": 81_703}


async def test_a_members_changes_come_in_date_order(api: Api) -> None:
    """Failing cases before the fix (found by tests/test_invariants.py): a change dated
    before the member's last one was accepted and went wrong three ways. A back-dated
    leave closed the member's latest period in the books but no row of the read model's,
    so the two disagreed; a back-dated join opened a second period overlapping a later
    one, and the member weighed more than its weight (1.84 of 1); a leave and a join on
    the day the member joined gave the read model a second row of that day, which it
    could not store, and the projector stopped there for good. Now a member's change
    must be dated after its last one (so at most one a day)."""
    org = await organisation(api, "GR-TEST", ["GM0001", "GM0002"])  # members from 1 January 2015
    await post_ok(api, org, event("AllocationKeySet", {"basis": "vast", "weights": {"GM0001": 1, "GM0002": 1},
                                                       "policy": "solidariteit"}, party="GR-TEST", date="2015-01-01"))

    def change(member: str, what: str, date: str) -> dict[str, Any]:
        return event("MembershipChanged", {"member": member, "change": what}, party="GR-TEST", date=date)

    async def out_of_order(*events: dict[str, Any]) -> None:
        status, body = await api.post(org, {"events": list(events)})
        assert status == 422 and body["type"].endswith("membership-change-out-of-order"), body

    await out_of_order(change("GM0002", "left", "2015-01-01"), change("GM0002", "joined", "2015-01-01"))
    await post_ok(api, org, change("GM0001", "left", "2016-05-01"))
    await out_of_order(change("GM0001", "left", "2015-03-01"))
    await out_of_order(change("GM0001", "joined", "2016-05-01"))
    await post_ok(api, org, change("GM0001", "joined", "2016-09-01"))
    await out_of_order(change("GM0001", "joined", "2015-09-01"))
    await post_ok(api, org, change("GM0001", "left", "2016-09-02"), change("GM0001", "joined", "2016-09-03"))
    # 2016: 1 January - 30 April (121 days) and 1 September on, but for 2 September (121 days)
    weights = {s["party"]: s["weight"] for s in (await split_of(api, org, "GR-TEST", year=2016))["shares"]}
    assert weights == {"GM0001": round(242 / 366, 6), "GM0002": 1.0}
    ready = await (await api.client.get("/readyz")).json()
    assert ready["lag"] == 0, ready


async def test_keys_are_versioned_per_year_and_a_surplus_splits_negatively(api: Api) -> None:
    org = await organisation(api, "GR-TEST", ["GM0001", "GM0002", "GM0003"])
    first = await post_ok(
        api, org,
        event("AllocationKeySet", {"basis": "vast", "weights": {"GM0001": 1, "GM0002": 1, "GM0003": 1},
                                   "policy": "solidariteit"}, party="GR-TEST", date="2015-01-01"),
        event("OrganisationResultDetermined", {"unit": "werk", "amountCents": 100}, party="GR-TEST", date="2015-12-31"),
    )
    # A surplus of 100 cents: the members receive -33.33 each; mirrored Hamilton gives
    # the extra cent to the lowest code: -34, -33, -33.
    assert amounts(await split_of(api, org, "GR-TEST", year=2015)) == {"GM0001": -34, "GM0002": -33, "GM0003": -33}
    # The 2015 key holds for 2016 until a 2016 key is set; setting one never rewrites 2015.
    await post_ok(api, org, event("OrganisationCostBooked", {"unit": "werk", "amountCents": 600}, party="GR-TEST",
                                  date="2016-03-01"))
    assert (await split_of(api, org, "GR-TEST", year=2016))["keyYear"] == 2015
    await post_ok(api, org, event("AllocationKeySet", {"basis": "clienten", "weights": {"GM0001": 1, "GM0002": 2,
                                                                                          "GM0003": 3},
                                                       "policy": "solidariteit"}, party="GR-TEST", date="2016-01-01"))
    body = await split_of(api, org, "GR-TEST", year=2016)
    assert (body["keyYear"], body["basis"]) == (2016, "clienten")
    assert amounts(body) == {"GM0001": 100, "GM0002": 200, "GM0003": 300}
    assert amounts(await split_of(api, org, "GR-TEST", year=2015)) == {"GM0001": -34, "GM0002": -33, "GM0003": -33}
    # A later key for the same year replaces it from then on; asOf shows the earlier version.
    await post_ok(api, org, event("AllocationKeySet", {"basis": "vast", "weights": {"GM0001": 0, "GM0002": 1,
                                                                                      "GM0003": 1},
                                                       "policy": "solidariteit"}, party="GR-TEST", date="2015-06-01"))
    assert amounts(await split_of(api, org, "GR-TEST", year=2015)) == {"GM0001": 0, "GM0002": -50, "GM0003": -50}
    earlier = await split_of(api, org, "GR-TEST", year=2015, asOf=first[-1]["recordedAt"])
    assert amounts(earlier) == {"GM0001": -34, "GM0002": -33, "GM0003": -33}


async def test_a_correction_takes_a_cost_out_of_the_split(api: Api) -> None:
    org = await organisation(api, "GR-TEST", ["GM0001", "GM0002"])
    booked = await post_ok(
        api, org,
        event("AllocationKeySet", {"basis": "vast", "weights": {"GM0001": 1, "GM0002": 3}, "policy": "profijt"},
              party="GR-TEST"),
        event("OrganisationCostBooked", {"unit": "a", "amountCents": 1_000, "usage": {"GM0001": 1}}, party="GR-TEST"),
        event("OrganisationCostBooked", {"unit": "b", "amountCents": 400}, party="GR-TEST"),
    )
    # profijt: unit a all to GM0001 (1,000); unit b by the key 1:3 (100 / 300).
    assert amounts(await split_of(api, org, "GR-TEST", year=2015)) == {"GM0001": 1_100, "GM0002": 300}
    await post_ok(api, org, event("Correction", {"corrects": booked[1]["id"], "reason": "dubbel"}, party="GR-TEST"))
    body = await split_of(api, org, "GR-TEST", year=2015)
    assert body["totalCents"] == 400
    assert amounts(body) == {"GM0001": 100, "GM0002": 300}


async def test_regionaal_werkbedrijf_begroting_2015_with_one_binding_line(api: Api) -> None:
    """Seed 003: Apeldoorn holds the Rijk's setup money for the 14 gemeenten; the RWB's
    2015 begroting has nine lines totalling 500,000, and `onvoorzien` binds."""
    org = await organisation(api, RWB, list(src.RWB_MEMBERS), fund_holder=src.RWB_FUND_HOLDER)
    apeldoorn = api.token("gemeente", src.RWB_FUND_HOLDER)
    await post_ok(api, apeldoorn, *[
        event("BudgetAllocated", {"budget": "rwb-opstartmiddelen", "source": "rijk", "amountCents": cents},
              party=src.RWB_FUND_HOLDER, date=f"{year}-07-01")
        for year, cents in src.RWB_RIJK_TRANCHES
    ])
    status, body = await api.get(apeldoorn, "/v1/balances", party=src.RWB_FUND_HOLDER, budget="rwb-opstartmiddelen")
    assert sum(r["allocatedCents"] for r in body["results"]) == src.RWB_RIJK_TOTAL
    lines = [
        event("BudgetAllocated", {"budget": "werkbedrijf", "subBudget": code, "source": "centrumgemeente",
                                  "amountCents": cents}, party=RWB, date="2015-01-01")
        for code, (_, cents) in src.RWB_BEGROTING_2015.items()
    ]
    binding = event("SteeringModeSet", {"budget": "werkbedrijf", "subBudget": "onvoorzien", "mode": "kaderstellend"},
                    party=RWB, date="2015-01-01")
    await post_ok(api, org, *lines, binding)
    status, body = await api.get(org, "/v1/balances", party=RWB, year=2015)
    rows = {r["subBudget"]: r for r in body["results"]}
    assert len(rows) == 10  # nine lines and the total
    assert rows[None]["allocatedCents"] == src.RWB_BEGROTING_2015_TOTAL
    assert {k: r["allocatedCents"] for k, r in rows.items() if k} == {k: c for k, (_, c) in src.RWB_BEGROTING_2015.items()}
    # A richtinggevend line may overspend, shown as negative available; the binding one may not.
    await post_ok(api, org, event("CostBooked", {"budget": "werkbedrijf", "subBudget": "communicatie",
                                                 "category": "uitvoering", "amountCents": 6_500_000}, party=RWB))
    over = event("CostBooked", {"budget": "werkbedrijf", "subBudget": "onvoorzien", "category": "uitvoering",
                                "amountCents": 10_000_001}, party=RWB)
    status, body = await api.post(org, over)
    assert status == 422 and body["type"].endswith("binding-budget-exceeded"), body
    status, body = await api.get(org, "/v1/balances", party=RWB, year=2015)
    rows = {r["subBudget"]: r for r in body["results"]}
    assert rows["communicatie"]["availableCents"] == -500_000
    assert rows["onvoorzien"]["spentCents"] == 0
    # Members read the RWB; the fund holder is one of them.
    assert (await api.get(api.token("controller", "GM0050"), "/v1/balances", party=RWB))[0] == 200
