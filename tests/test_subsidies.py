"""Loonkostensubsidie commitments and the KPIs, through the real HTTP API (domain.md
"Subsidy", "Placement", "Outflow" and "KPIs"; api.md "Reading", GET /v1/kpis).

What this proves, with every figure worked out by hand in the test:
- a grant commits its budget line month by month at the art. 10d amount
  (min(WML - loonwaarde x WML, 70 % x WML) x part-time factor x 1.235, rounded once
  per month, half up); a payment moves committed to spent, a re-measurement changes
  the amount from its month on, an ending drops the later months, the correction of
  a payment restores the commitment, and an open-ended grant runs through December of
  the latest year its terms were set in;
- a kaderstellend inkomensdeel refuses a commitment beyond what is available, and
  every subsidy or placement rule refusal is a 422 after which nothing has changed;
- GET /v1/kpis counts placements per kind against their targets (a binding target is
  a cap), banenafspraak jobs, beschut werk places, outflow (notional, never a balance)
  and open commitments, as known now or at an earlier recorded instant, to its own
  party only.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, assert_problem, event, register

PARTY = "GM0439"
WML = 150_000  # cents a month
# art. 10d at WML 150.000: loonwaarde 50 % -> gap 75.000 (under the cap of 70 % = 105.000)
# x 1.235 = 92.625; loonwaarde 20 % -> gap 120.000, capped at 105.000 x 1.235 = 129.675
AT_50, AT_20 = 92_625, 129_675


# --- events, as a client builds them --------------------------------------------------


def allocation(amount: int, year: int = 2015) -> dict[str, Any]:
    data = {"budget": "inkomensdeel", "source": "rijk", "amountCents": amount}
    return event("BudgetAllocated", data, date=f"{year}-01-01")


def grant(sid: str, start: str, end: str | None = None, loonwaarde: float = 50, date: str | None = None,
          **extra: Any) -> dict[str, Any]:
    data = {"subsidyId": sid, "clientRef": f"client-{sid}", "instrument": "loonkostensubsidie",
            "loonwaardePct": loonwaarde, "wmlMonthlyCents": WML, "startDate": start, **extra}
    if end is not None:
        data["endDate"] = end
    return event("SubsidyGranted", data, date=date or start)


def remeasured(sid: str, loonwaarde: float, date: str) -> dict[str, Any]:
    return event("LoonwaardeMeasured", {"subsidyId": sid, "loonwaardePct": loonwaarde}, date=date)


def paid(sid: str, amount: int, date: str = "2015-03-31") -> dict[str, Any]:
    return event("SubsidyPaid", {"subsidyId": sid, "amountCents": amount}, date=date)


def ended(sid: str, date: str) -> dict[str, Any]:
    return event("SubsidyEnded", {"subsidyId": sid}, date=date)


def correction(corrects: str, date: str = "2015-10-15") -> dict[str, Any]:
    return event("Correction", {"corrects": corrects, "reason": "onjuist geboekt"}, date=date)


def placement(pid: str, kind: str, hours: float, date: str) -> dict[str, Any]:
    data = {"placementId": pid, "clientRef": f"client-{pid}", "kind": kind, "hoursPerWeek": hours}
    return event("PlacementStarted", data, date=date)


def placement_ended(pid: str, date: str) -> dict[str, Any]:
    return event("PlacementEnded", {"placementId": pid, "reason": "uitstroom"}, date=date)


def target(kind: str, places: float, binding: bool) -> dict[str, Any]:
    return event("PlacementTargetSet", {"kind": kind, "places": places, "binding": binding}, date="2015-01-01")


def outflow(client: str, extent: str, avoided: int) -> dict[str, Any]:
    data = {"clientRef": client, "extent": extent, "reason": "werk", "avoidedBenefitCents": avoided}
    return event("OutflowRegistered", data)


# --- posting and reading --------------------------------------------------------------


async def accepted(api: Api, token: str, *events: dict[str, Any]) -> list[dict[str, Any]]:
    """Post `events` as one batch, require it stored, return the 201's per-event results."""
    status, body = await api.post(token, {"events": list(events)})
    assert status == 201, body
    return body["events"]


async def balances(api: Api) -> Any:
    status, body = await api.get(api.token("auditor"), "/v1/balances", party=PARTY)
    assert status == 200, body
    return body["results"]


async def kpis(api: Api, token: str, year: int = 2015, **params: Any) -> dict[str, Any]:
    status, body = await api.get(token, "/v1/kpis", party=PARTY, year=year, **params)
    assert status == 200, body
    return body


async def refused(api: Api, token: str, ev: dict[str, Any], rule: str) -> None:
    """A 422 problem naming `rule`, after which the log, the balances and the KPIs are unchanged."""
    async def state() -> Any:
        log = await api.get(api.token("auditor"), "/v1/events", limit=1000)
        return log, await balances(api), await kpis(api, token)

    before = await state()
    r = await api.client.post("/v1/events", json=ev, headers={"Authorization": f"Bearer {token}"})
    body = await r.json(content_type=None)
    assert_problem(r.status, r.headers["Content-Type"], body, 422)
    assert body["type"].endswith(rule), body
    assert await state() == before


async def line(api: Api, token: str, year: int = 2015) -> tuple[int, int, int]:
    """(spent, committed, available) of the inkomensdeel's total row."""
    status, body = await api.get(token, "/v1/balances", party=PARTY, year=year, budget="inkomensdeel")
    assert status == 200, body
    row = next(r for r in body["results"] if r["subBudget"] is None)
    return row["spentCents"], row["committedCents"], row["availableCents"]


# --- commitments ----------------------------------------------------------------------


async def test_a_grant_commits_each_month_until_paid_remeasured_ended_or_corrected(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, allocation(2_000_000))
    await accepted(api, gemeente, grant("lks-1", "2015-03-01", "2015-12-31", date="2015-02-15"))
    # March through December: 10 x 92.625 = 926.250; available 2.000.000 - 926.250
    assert await line(api, gemeente) == (0, 926_250, 1_073_750)

    march = paid("lks-1", AT_50)
    await accepted(api, gemeente, march)
    # the payment moves 92.625 from committed to spent: 926.250 - 92.625 = 833.625
    assert await line(api, gemeente) == (92_625, 833_625, 1_073_750)

    await accepted(api, gemeente, remeasured("lks-1", 20, "2015-07-01"))
    # Mar-Jun 4 x 92.625 = 370.500, Jul-Dec 6 x 129.675 = 778.050: planned 1.148.550,
    # less 92.625 paid = 1.055.925; available 2.000.000 - 92.625 - 1.055.925 = 851.450
    assert await line(api, gemeente) == (92_625, 1_055_925, 851_450)

    await accepted(api, gemeente, ended("lks-1", "2015-09-30"))
    # Oct-Dec dropped: 370.500 + 3 x 129.675 = 759.525 planned, less 92.625 = 666.900;
    # available 2.000.000 - 92.625 - 666.900 = 1.240.475
    assert await line(api, gemeente) == (92_625, 666_900, 1_240_475)

    await accepted(api, gemeente, correction(march["id"]))
    # the payment is undone: nothing spent, all 759.525 committed again, available the same
    assert await line(api, gemeente) == (0, 759_525, 1_240_475)
    assert (await kpis(api, gemeente))["subsidies"] == {"active": 1, "committedCents": 759_525}


async def test_an_open_ended_grant_runs_through_the_year_of_its_latest_terms(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, allocation(1_000_000), allocation(3_000_000, 2016))
    await accepted(api, gemeente, grant("lks-1", "2015-11-01", date="2015-10-15"))
    # Nov and Dec 2015: 2 x 92.625 = 185.250; nothing yet in 2016
    assert await line(api, gemeente, 2015) == (0, 185_250, 1_000_000 - 185_250)
    assert await line(api, gemeente, 2016) == (0, 0, 3_000_000)

    await accepted(api, gemeente, remeasured("lks-1", 40, "2016-02-01"))
    # loonwaarde 40 %: gap 90.000 (under 105.000) x 1.235 = 111.150 from February on;
    # 2016: January 92.625 + Feb-Dec 11 x 111.150 = 1.222.650 -> 1.315.275; 2015 unchanged
    assert await line(api, gemeente, 2015) == (0, 185_250, 814_750)
    assert await line(api, gemeente, 2016) == (0, 1_315_275, 3_000_000 - 1_315_275)
    assert (await kpis(api, gemeente, 2016))["subsidies"] == {"active": 1, "committedCents": 1_315_275}

    # granted in January 2016 from December 2015: its terms are set in 2016, so it runs
    # through December 2016: 2015 gets 92.625 (185.250 + 92.625 = 277.875), 2016 gets
    # 12 x 92.625 = 1.111.500 (1.315.275 + 1.111.500 = 2.426.775)
    await accepted(api, gemeente, grant("lks-2", "2015-12-01", date="2016-01-15"))
    assert await line(api, gemeente, 2015) == (0, 277_875, 1_000_000 - 277_875)
    assert await line(api, gemeente, 2016) == (0, 2_426_775, 3_000_000 - 2_426_775)
    assert (await kpis(api, gemeente, 2016))["subsidies"] == {"active": 2, "committedCents": 2_426_775}


@pytest.mark.parametrize(
    ("loonwaarde", "part_time", "monthly"),
    [
        (50, 1, 92_625),     # 75.000 x 1.235 = 92.625
        (20, 1, 129_675),    # gap 120.000 > cap 105.000: 105.000 x 1.235 = 129.675
        (50, 0.5, 46_313),   # 37.500 x 1.235 = 46.312,5 -> half up 46.313
        (50, 0.3, 27_788),   # 22.500 x 1.235 = 27.787,5 -> 27.788 (0.3 is the decimal written)
        (50, 0.25, 23_156),  # 18.750 x 1.235 = 23.156,25 -> 23.156
    ],
)
async def test_the_monthly_amount_is_capped_scaled_and_rounded_once_a_month(
    api: Api, gemeente: str, loonwaarde: int, part_time: float, monthly: int
) -> None:
    await accepted(api, gemeente, allocation(1_000_000))
    await accepted(api, gemeente, grant("lks-1", "2015-01-01", "2015-02-28", loonwaarde, partTimeFactor=part_time))
    # two months, each rounded on its own (46.313 x 2 = 92.626, not 92.625 rounded from the sum)
    assert await line(api, gemeente) == (0, 2 * monthly, 1_000_000 - 2 * monthly)


async def test_ending_an_open_ended_grant_after_its_horizon_commits_the_months_it_ran(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, allocation(1_000_000), allocation(1_000_000, 2016))
    await accepted(api, gemeente, grant("lks-1", "2015-11-01", date="2015-10-15"))
    assert await line(api, gemeente, 2016) == (0, 0, 1_000_000)
    # Ended on 15 February 2016 with no re-measurement: it ran in January and February,
    # so those months are owed: 2 x 92.625 = 185.250 in 2016; 2015 keeps its 185.250.
    await accepted(api, gemeente, ended("lks-1", "2016-02-15"))
    assert await line(api, gemeente, 2016) == (0, 185_250, 1_000_000 - 185_250)
    assert await line(api, gemeente, 2015) == (0, 185_250, 1_000_000 - 185_250)


async def test_a_payment_beyond_the_plan_leaves_nothing_committed(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, allocation(1_000_000), grant("lks-1", "2015-01-01", "2015-01-31"))
    await accepted(api, gemeente, paid("lks-1", 100_000))
    # planned 92.625, paid 100.000: committed max(0, -7.375) = 0; available 1.000.000 - 100.000
    assert await line(api, gemeente) == (100_000, 0, 900_000)


async def test_a_kaderstellend_inkomensdeel_refuses_a_commitment_beyond_what_is_available(
    api: Api, gemeente: str
) -> None:
    mode = event("SteeringModeSet", {"budget": "inkomensdeel", "mode": "kaderstellend"}, date="2015-01-01")
    await accepted(api, gemeente, allocation(1_000_000), mode)
    # all of 2015: 12 x 92.625 = 1.111.500 > 1.000.000
    await refused(api, gemeente, grant("lks-1", "2015-01-01", "2015-12-31"), "binding-budget-exceeded")
    # March to December: 10 x 92.625 = 926.250 fits, 73.750 left
    await accepted(api, gemeente, grant("lks-1", "2015-03-01", "2015-12-31"))
    assert await line(api, gemeente) == (0, 926_250, 73_750)
    # a re-measurement to 20 % from July: 4 x 92.625 + 6 x 129.675 = 1.148.550 > 1.000.000
    await refused(api, gemeente, remeasured("lks-1", 20, "2015-07-01"), "binding-budget-exceeded")


async def test_subsidy_rule_refusals(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, allocation(1_000_000), grant("lks-1", "2015-01-01", "2015-12-31"))
    await refused(api, gemeente, paid("lks-2", 100), "unknown-subsidy")
    await refused(api, gemeente, grant("lks-1", "2015-02-01"), "duplicate-subsidy")
    await refused(api, gemeente, grant("lks-2", "2015-01-01", budget="participatiebudget"), "charging-rule")
    await accepted(api, gemeente, ended("lks-1", "2015-06-30"))
    await refused(api, gemeente, remeasured("lks-1", 30, "2015-07-01"), "subsidy-ended")


# --- KPIs -----------------------------------------------------------------------------


async def test_placements_per_kind_against_their_targets(api: Api, gemeente: str) -> None:
    await accepted(
        api, gemeente,
        target("beschut-werk", 2, binding=True), target("banenafspraak", 2, binding=False),
        placement("b1", "beschut-werk", 32, "2015-02-01"), placement("b2", "beschut-werk", 24, "2015-03-01"),
        placement("j1", "banenafspraak", 25, "2015-04-01"), placement("j2", "banenafspraak", 12.5, "2015-05-01"),
        placement("j3", "banenafspraak", 20, "2015-06-01"),
        placement("r1", "regulier", 32, "2014-06-01"), placement("r2", "regulier", 32, "2015-12-31"),
        placement("r3", "regulier", 32, "2016-01-01"),
    )
    await refused(api, gemeente, placement("b3", "beschut-werk", 36, "2015-10-01"), "placement-cap-reached")
    # ending b1 frees a place; r1's end on 31 December is its first day out
    await accepted(api, gemeente, placement_ended("b1", "2015-10-01"), placement_ended("j3", "2015-09-01"),
                   placement_ended("r1", "2015-12-31"))
    await accepted(api, gemeente, placement("b3", "beschut-werk", 36, "2015-10-01"))
    body = await kpis(api, gemeente)

    def kind(name: str, started: int, ended: int, active: int, hours: float, goal: Any, binding: bool) -> dict[str, Any]:
        return {"kind": name, "started": started, "ended": ended, "active": active,
                "activeHoursPerWeek": hours, "target": goal, "binding": binding}

    assert body["placements"] == [
        kind("banenafspraak", 3, 1, 2, 37.5, 2, False),  # j1 + j2: 25 + 12,5 hours
        kind("beschut-werk", 3, 1, 2, 60, 2, True),  # b2 + b3: 24 + 36 hours
        kind("regulier", 1, 1, 1, 32, None, False),  # r2 only; r1 started in 2014, r3 in 2016
    ]
    assert body["banenafspraakJobs"] == 1.5  # 37,5 hours / 25
    assert body["beschutWerk"] == {"places": 2, "cap": 2, "target": 2}


async def test_a_binding_banenafspraak_target_caps_jobs_of_25_hours(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, target("banenafspraak", 1.5, binding=True),
                   placement("j1", "banenafspraak", 25, "2015-02-01"), placement("j2", "banenafspraak", 12.5, "2015-02-01"))
    # 25/25 + 12,5/25 = 1,5 jobs taken: even one hour more is beyond the cap
    await refused(api, gemeente, placement("j3", "banenafspraak", 1, "2015-03-01"), "placement-cap-reached")
    await accepted(api, gemeente, placement_ended("j2", "2015-04-01"))
    # 1 job taken: 13 hours (0,52) would make 1,52 > 1,5; 12,5 hours fits exactly
    await refused(api, gemeente, placement("j3", "banenafspraak", 13, "2015-05-01"), "placement-cap-reached")
    await accepted(api, gemeente, placement("j3", "banenafspraak", 12.5, "2015-05-01"))
    body = await kpis(api, gemeente)
    assert body["banenafspraakJobs"] == 1.5
    assert body["beschutWerk"] == {"places": 0, "cap": None, "target": None}


async def test_a_binding_cap_counts_the_places_taken_on_31_december_of_its_year(api: Api, gemeente: str) -> None:
    """Failing case before the fix (found by tests/test_invariants.py): a year's cap was
    checked only for placements dated in that year, and against the placements not yet
    ended whatever their dates, so /v1/kpis showed years with more places than their
    binding cap. A place counts in every year on whose 31 December it is taken."""
    cap_2017 = target("beschut-werk", 0, binding=True) | {"effectiveDate": "2017-01-01"}
    await accepted(api, gemeente, target("beschut-werk", 1, binding=True), placement("b1", "beschut-werk", 32, "2015-02-01"),
                   placement_ended("b1", "2016-03-01"), cap_2017)
    # b1 was still placed on 31 December 2015: 2015's one place is taken
    await refused(api, gemeente, placement("b2", "beschut-werk", 32, "2015-06-01"), "placement-cap-reached")
    # started in 2016 and not ended, b2 would be placed on 31 December 2017, capped at 0
    await refused(api, gemeente, placement("b2", "beschut-werk", 32, "2016-06-01"), "placement-cap-reached")
    await accepted(api, gemeente, placement("b2", "beschut-werk", 32, "2018-01-02"))
    for year, places, cap in ((2015, 1, 1), (2016, 0, None), (2017, 0, 0), (2018, 1, None)):
        assert (await kpis(api, gemeente, year))["beschutWerk"] == {"places": places, "cap": cap, "target": cap}


async def test_placement_rule_refusals(api: Api, gemeente: str) -> None:
    await refused(api, gemeente, placement_ended("p1", "2015-03-01"), "unknown-placement")
    await accepted(api, gemeente, placement("p1", "regulier", 32, "2015-02-01"))
    await refused(api, gemeente, placement("p1", "detachering", 20, "2015-03-01"), "duplicate-placement")
    await accepted(api, gemeente, placement_ended("p1", "2015-03-01"))
    await refused(api, gemeente, placement_ended("p1", "2015-04-01"), "placement-ended")


async def test_outflow_is_counted_but_never_changes_a_balance(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, allocation(1_000_000), grant("lks-1", "2015-01-01", "2015-03-31"))
    before = await balances(api)
    second = outflow("c2", "volledig", 800_000)
    await accepted(api, gemeente, outflow("c1", "volledig", 1_500_000), second, outflow("c3", "gedeeltelijk", 250_000))
    # 1.500.000 + 800.000 + 250.000 = 2.550.000, notional
    assert (await kpis(api, gemeente))["outflow"] == {"volledig": 2, "gedeeltelijk": 1, "avoidedBenefitCents": 2_550_000}
    assert await balances(api) == before
    await accepted(api, gemeente, correction(second["id"]))
    # c2 taken back out: 2.550.000 - 800.000 = 1.750.000
    assert (await kpis(api, gemeente))["outflow"] == {"volledig": 1, "gedeeltelijk": 1, "avoidedBenefitCents": 1_750_000}
    assert await balances(api) == before
    # Corrected a year later, an outflow leaves its own year; the later year never counts -1.
    late = outflow("c4", "volledig", 100_000)
    await accepted(api, gemeente, late)
    await accepted(api, gemeente, correction(late["id"], date="2016-01-15"))
    assert (await kpis(api, gemeente))["outflow"]["volledig"] == 1
    assert (await kpis(api, gemeente, 2016))["outflow"] == {"volledig": 0, "gedeeltelijk": 0, "avoidedBenefitCents": 0}


async def test_subsidies_active_in_the_year_and_their_commitment(api: Api, gemeente: str) -> None:
    granted = await accepted(
        api, gemeente,
        allocation(5_000_000),
        grant("this-year", "2015-03-01", "2015-12-31", date="2015-02-15"),  # 10 x 92.625 = 926.250
        grant("last-year", "2014-01-01", "2014-12-31"),
        grant("next-year", "2016-01-01", "2016-06-30", date="2015-11-15"),
        grant("ends-early", "2014-10-01", "2015-12-31"),  # 12 x 92.625 = 1.111.500 in 2015
    )
    # two run in 2015: 926.250 + 1.111.500 = 2.037.750
    assert (await kpis(api, gemeente))["subsidies"] == {"active": 2, "committedCents": 2_037_750}
    await accepted(api, gemeente, ended("ends-early", "2014-12-31"))
    # its 2015 months are dropped: only this-year's 926.250 stays
    assert (await kpis(api, gemeente))["subsidies"] == {"active": 1, "committedCents": 926_250}
    assert await line(api, gemeente) == (0, 926_250, 5_000_000 - 926_250)
    # as known when the grants were recorded, before the ending
    then = await kpis(api, gemeente, asOf=granted[-1]["recordedAt"])
    assert then["subsidies"] == {"active": 2, "committedCents": 2_037_750}


async def test_kpis_as_known_at_an_earlier_instant(api: Api, gemeente: str) -> None:
    [first] = await accepted(api, gemeente, placement("p1", "beschut-werk", 32, "2015-02-01"))
    await accepted(api, gemeente, placement("p2", "beschut-werk", 24, "2015-03-01"),
                   placement_ended("p1", "2015-06-01"), outflow("c1", "volledig", 500_000))
    now, then = await kpis(api, gemeente), await kpis(api, gemeente, asOf=first["recordedAt"])
    # now: p1 started and ended, p2 active; then: only p1, still active, and no outflow yet
    assert [(k["started"], k["ended"], k["active"]) for k in now["placements"]] == [(2, 1, 1)]
    assert [(k["started"], k["ended"], k["active"]) for k in then["placements"]] == [(1, 0, 1)]
    assert now["outflow"]["volledig"] == 1 and then["outflow"]["volledig"] == 0
    assert (now["beschutWerk"]["places"], then["beschutWerk"]["places"]) == (1, 1)


async def test_kpis_need_a_year_and_are_read_by_their_own_party_only(api: Api, gemeente: str) -> None:
    await register(api, api.token("admin"), "GM0363")
    headers = {"Authorization": f"Bearer {gemeente}"}
    r = await api.client.get("/v1/kpis", params={"party": PARTY}, headers=headers)
    assert_problem(r.status, r.headers["Content-Type"], await r.json(content_type=None), 400)
    headers = {"Authorization": f"Bearer {api.token('gemeente', 'GM0363')}"}
    r = await api.client.get("/v1/kpis", params={"party": PARTY, "year": 2015}, headers=headers)
    assert_problem(r.status, r.headers["Content-Type"], await r.json(content_type=None), 403)
    assert (await kpis(api, api.token("controller", PARTY)))["party"] == PARTY
