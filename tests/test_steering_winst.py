"""Sub-budgets under each steering mode, and winst for a gemeente and a shared
organisation, through the real HTTP API (domain.md sections 3, 5 and 6; api.md).

What it proves, with figures worked out by hand in the comments:
- richtinggevend lines overspend and show it as negative available on the sub row and
  the total; kaderstellend binds its own line (or, set on the budget, the total of all
  its lines, here the RWB's nine-line begroting kept by a gemeente), for its year only;
  a BudgetRevised widens a binding frame.
- FundsReallocated moves money between richtinggevend lines (sub rows move, the total
  stays), never out of or into a kaderstellend line or budget, except between the
  sub-budgets of an integraal budget (one pot); a refused batch stores nothing.
- Winst per source and destination, carried over into later years, never reinvested
  beyond what is left; an ideel-besparing bounded by the inkomensdeel's surplus; a
  correction of realised winst that would leave it over-reinvested is refused.
- In an organisation the winst per member: solidariteit by the key (largest remainder,
  ties to the lower code), profijt to whose clients earned it; who may read it, and
  who may name a member.
"""

from __future__ import annotations

from typing import Any

from ledger import sources as src
from tests.conftest import Api, assert_problem, event, register

PARTY = "GM0439"
DATE = "2015-06-30"
ORG = "WERKBEDRIJF-TEST"
MEMBERS = ("GM0363", "GM0405", "GM0439")
OUTSIDER = "GM0200"
PB = "participatiebudget"


# --- events ---------------------------------------------------------------------------


def _data(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def allocation(budget: str, amount: int, sub: str | None = None, date: str = DATE) -> dict[str, Any]:
    return event("BudgetAllocated", _data(budget=budget, subBudget=sub, source="rijk", amountCents=amount), date=date)


def steering(budget: str, mode: str, sub: str | None = None) -> dict[str, Any]:
    return event("SteeringModeSet", _data(budget=budget, subBudget=sub, mode=mode))


def cost(budget: str, amount: int, sub: str | None = None, category: str = "uitvoering",
         date: str = DATE) -> dict[str, Any]:
    return event("CostBooked", _data(budget=budget, subBudget=sub, category=category, amountCents=amount), date=date)


def revision(budget: str, amount: int, sub: str | None = None) -> dict[str, Any]:
    return event("BudgetRevised", _data(budget=budget, subBudget=sub, amountCents=amount))


def move(source: tuple[str, str | None], target: tuple[str, str | None], amount: int) -> dict[str, Any]:
    data = _data(fromBudget=source[0], fromSubBudget=source[1], toBudget=target[0], toSubBudget=target[1],
                 amountCents=amount)
    return event("FundsReallocated", data)


def realised(amount: int, source: str = "loonvormende-arbeid", member: str | None = None,
             party: str = PARTY, date: str = DATE) -> dict[str, Any]:
    return event("WinstRealised", _data(source=source, amountCents=amount, member=member), party=party, date=date)


def reinvested(amount: int, destination: str = "dagbesteding", party: str = PARTY, date: str = DATE) -> dict[str, Any]:
    return event("WinstReinvested", {"destination": destination, "amountCents": amount}, party=party, date=date)


def correction(corrects: dict[str, Any]) -> dict[str, Any]:
    return event("Correction", {"corrects": corrects["id"], "reason": "onjuist geboekt"}, date="2015-07-31")


# --- posting and reading --------------------------------------------------------------


async def ok(api: Api, token: str, *events: dict[str, Any]) -> None:
    status, body = await api.post(token, {"events": list(events)})
    assert status == 201, body


async def snapshot(api: Api, party: str) -> list[Any]:
    """Everything a refused post could change: the log's head, all balances, the party's winst."""
    r = await api.client.get("/readyz")
    auditor = api.token("auditor")
    return [(await r.json())["head"], await api.get(auditor, "/v1/balances"),
            await api.get(auditor, "/v1/winst", party=party)]


async def refused(api: Api, token: str, events: list[dict[str, Any]], *expected: tuple[int, str]) -> None:
    """Post a batch; require a 422 naming exactly (index, rule) of each bad event, and nothing stored."""
    before = await snapshot(api, events[0]["party"])
    r = await api.client.post("/v1/events", json={"events": events}, headers={"Authorization": f"Bearer {token}"})
    body = await r.json(content_type=None)
    assert_problem(r.status, r.headers["Content-Type"], body, 422)
    assert [(e["index"], e["rule"]) for e in body["errors"]] == list(expected), body
    assert body["type"].endswith(expected[0][1])
    assert await snapshot(api, events[0]["party"]) == before


async def rows(api: Api, token: str, year: int = 2015) -> dict[tuple[str, str | None], dict[str, Any]]:
    status, body = await api.get(token, "/v1/balances", party=PARTY, year=year)
    assert status == 200, body
    return {(r["budget"], r["subBudget"]): r for r in body["results"]}


async def available(api: Api, token: str, year: int = 2015) -> dict[tuple[str, str | None], int]:
    return {k: r["availableCents"] for k, r in (await rows(api, token, year)).items()}


async def winst(api: Api, token: str, **params: Any) -> dict[str, Any]:
    status, body = await api.get(token, "/v1/winst", **params)
    assert status == 200, body
    return body


def figures(body: dict[str, Any]) -> tuple[int, int, int, int]:
    return (body["realisedCents"], body["reinvestedCents"], body["carriedOverCents"], body["unappropriatedCents"])


async def three_lines(api: Api, gemeente: str, *modes: dict[str, Any]) -> None:
    """participatiebudget 2015: wsw 1.000, nieuwe-doelgroepen 2.000, wwb-oud 500 (3.500 in all)."""
    await ok(api, gemeente, allocation(PB, 1_000, "wsw"), allocation(PB, 2_000, "nieuwe-doelgroepen"),
             allocation(PB, 500, "wwb-oud"), *modes)


# --- steering modes -------------------------------------------------------------------


async def test_richtinggevend_lines_overspend_on_the_sub_row_and_the_total(api: Api, gemeente: str) -> None:
    await three_lines(api, gemeente, steering(PB, "richtinggevend", "wsw"))  # wsw explicitly, the rest by default
    await ok(api, gemeente, cost(PB, 1_500, "wsw"), cost(PB, 2_100, "nieuwe-doelgroepen"))
    # wsw 1.000 - 1.500 = -500; nieuwe 2.000 - 2.100 = -100; wwb-oud 500; total 3.500 - 3.600 = -100
    assert await available(api, gemeente) == {
        (PB, None): -100, (PB, "wsw"): -500, (PB, "nieuwe-doelgroepen"): -100, (PB, "wwb-oud"): 500,
    }
    assert (await rows(api, gemeente))[(PB, None)]["saldoCents"] == -100


async def test_a_kaderstellend_sub_budget_binds_its_line_in_its_year_and_is_widened_by_a_revision(
    api: Api, gemeente: str
) -> None:
    next_year = allocation(PB, 1_000, "wsw", date="2016-01-01")
    await three_lines(api, gemeente, steering(PB, "kaderstellend", "wsw"), next_year)
    await refused(api, gemeente, [cost(PB, 1_001, "wsw")], (0, "binding-budget-exceeded"))
    await ok(api, gemeente, cost(PB, 800, "wsw"))  # 200 left
    await ok(api, gemeente, revision(PB, 300, "wsw"))  # the council widens the frame: 1.300, 500 left
    await refused(api, gemeente, [cost(PB, 501, "wsw")], (0, "binding-budget-exceeded"))
    await ok(api, gemeente, cost(PB, 500, "wsw"), cost(PB, 2_500, "nieuwe-doelgroepen"))
    line = (await rows(api, gemeente))[(PB, "wsw")]
    assert (line["allocatedCents"], line["spentCents"], line["availableCents"]) == (1_300, 1_300, 0)
    # nieuwe-doelgroepen (richtinggevend) overspends by 500; total 3.800 - 3.800 = 0
    got = await available(api, gemeente)
    assert (got[(PB, "nieuwe-doelgroepen")], got[(PB, None)]) == (-500, 0)
    # the mode was set for 2015: in 2016 wsw is richtinggevend again
    await ok(api, gemeente, cost(PB, 1_500, "wsw", date="2016-03-31"))
    assert (await available(api, gemeente, 2016))[(PB, "wsw")] == -500


async def test_kaderstellend_on_the_budget_binds_the_total_of_its_nine_lines(api: Api, gemeente: str) -> None:
    # A gemeente keeps the RWB's nine-line begroting 2015 (500.000 euro) under a code of its own.
    budget = "begroting-werkbedrijf"
    lines = [allocation(budget, cents, code) for code, (_, cents) in src.RWB_BEGROTING_2015.items()]
    await ok(api, gemeente, *lines, steering(budget, "kaderstellend"))
    euro = src.EURO
    # ontwikkelbudget (100.000) overspends by 10.000: the line may, the total still has 390.000
    await ok(api, gemeente, cost(budget, 110_000 * euro, "ontwikkelbudget"))
    await refused(api, gemeente, [cost(budget, 390_000 * euro + 1, "communicatie")], (0, "binding-budget-exceeded"))
    await ok(api, gemeente, cost(budget, 390_000 * euro, "communicatie"))
    got = await rows(api, gemeente)
    assert len([k for k in got if k[0] == budget]) == 10  # nine lines and the total
    total = got[(budget, None)]
    assert (total["allocatedCents"], total["spentCents"], total["availableCents"]) == (
        src.RWB_BEGROTING_2015_TOTAL, src.RWB_BEGROTING_2015_TOTAL, 0)
    assert got[(budget, "ontwikkelbudget")]["availableCents"] == -10_000 * euro
    assert got[(budget, "communicatie")]["availableCents"] == (60_000 - 390_000) * euro
    # ... and a binding budget gives nothing away to another budget either
    await ok(api, gemeente, allocation("werk-en-inkomen", 1_000))
    await refused(api, gemeente, [move((budget, "onvoorzien"), ("werk-en-inkomen", None), 1)],
                  (0, "reallocation-not-allowed"))


async def test_a_reallocation_between_richtinggevend_lines_moves_the_lines_not_the_total(
    api: Api, gemeente: str
) -> None:
    await three_lines(api, gemeente)
    await ok(api, gemeente, allocation("werk-en-inkomen", 1_000))
    await ok(api, gemeente, move((PB, "wsw"), (PB, "nieuwe-doelgroepen"), 400))
    # wsw 1.000 - 400 = 600, nieuwe 2.000 + 400 = 2.400, total 3.500 unchanged
    got = await rows(api, gemeente)
    assert {k: r["allocatedCents"] for k, r in got.items() if k[0] == PB} == {
        (PB, None): 3_500, (PB, "wsw"): 600, (PB, "nieuwe-doelgroepen"): 2_400, (PB, "wwb-oud"): 500,
    }
    # more than a line holds may move out of a richtinggevend line; across budgets the totals move
    await ok(api, gemeente, move((PB, "wwb-oud"), ("werk-en-inkomen", None), 700))
    assert await available(api, gemeente) == {
        (PB, None): 2_800, (PB, "wsw"): 600, (PB, "nieuwe-doelgroepen"): 2_400, (PB, "wwb-oud"): -200,
        ("werk-en-inkomen", None): 1_700,
    }


async def test_no_reallocation_out_of_or_into_a_kaderstellend_line(api: Api, gemeente: str) -> None:
    await three_lines(api, gemeente, steering(PB, "kaderstellend", "wsw"))
    await refused(api, gemeente, [move((PB, "wsw"), (PB, "nieuwe-doelgroepen"), 100)], (0, "reallocation-not-allowed"))
    await refused(api, gemeente, [move((PB, "nieuwe-doelgroepen"), (PB, "wsw"), 100)], (0, "reallocation-not-allowed"))
    await ok(api, gemeente, move((PB, "nieuwe-doelgroepen"), (PB, "wwb-oud"), 100))
    got = await available(api, gemeente)
    assert (got[(PB, "wsw")], got[(PB, "nieuwe-doelgroepen")], got[(PB, "wwb-oud")]) == (1_000, 1_900, 600)


async def test_an_integraal_budget_is_one_pot_even_around_a_kaderstellend_line(api: Api, gemeente: str) -> None:
    await three_lines(api, gemeente, steering(PB, "kaderstellend", "wsw"), steering(PB, "integraal"))
    await ok(api, gemeente, move((PB, "wsw"), (PB, "nieuwe-doelgroepen"), 300),
             move((PB, "wwb-oud"), (PB, "wsw"), 100))
    # wsw 1.000 - 300 + 100 = 800, nieuwe 2.300, wwb-oud 400; total 3.500
    assert await available(api, gemeente) == {
        (PB, None): 3_500, (PB, "wsw"): 800, (PB, "nieuwe-doelgroepen"): 2_300, (PB, "wwb-oud"): 400,
    }
    # the wsw line still binds its costs
    await refused(api, gemeente, [cost(PB, 801, "wsw")], (0, "binding-budget-exceeded"))


async def test_between_budgets_the_totals_modes_count_too(api: Api, gemeente: str) -> None:
    await three_lines(api, gemeente, steering(PB, "kaderstellend"))
    await ok(api, gemeente, allocation("werk-en-inkomen", 1_000), allocation("wmo", 1_000),
             allocation("algemene-middelen", 1_000), steering("algemene-middelen", "kaderstellend"))
    await refused(api, gemeente, [move((PB, "wsw"), ("werk-en-inkomen", None), 100)], (0, "reallocation-not-allowed"))
    await refused(api, gemeente, [move(("werk-en-inkomen", None), ("algemene-middelen", None), 100)],
                  (0, "reallocation-not-allowed"))
    await ok(api, gemeente, move(("werk-en-inkomen", None), ("wmo", None), 100))
    got = await available(api, gemeente)
    assert (got[("werk-en-inkomen", None)], got[("wmo", None)], got[(PB, None)]) == (900, 1_100, 3_500)


async def test_a_batch_with_one_refused_event_stores_none_of_it(api: Api, gemeente: str) -> None:
    await three_lines(api, gemeente, steering(PB, "kaderstellend", "wsw"))
    batch = [
        cost(PB, 100, "nieuwe-doelgroepen"),
        move((PB, "nieuwe-doelgroepen"), (PB, "wwb-oud"), 50),
        move((PB, "wsw"), (PB, "nieuwe-doelgroepen"), 10),
        cost(PB, 1_001, "wsw"),
        cost(PB, 1_000, "wsw"),
    ]
    await refused(api, gemeente, batch, (2, "reallocation-not-allowed"), (3, "binding-budget-exceeded"))
    assert await available(api, gemeente) == {
        (PB, None): 3_500, (PB, "wsw"): 1_000, (PB, "nieuwe-doelgroepen"): 2_000, (PB, "wwb-oud"): 500,
    }


# --- winst of a gemeente --------------------------------------------------------------


async def test_winst_per_source_and_destination_never_reinvested_beyond_it(api: Api, gemeente: str) -> None:
    await ok(api, gemeente, realised(1_000), realised(300, "opdrachten"),
             reinvested(400), reinvested(200, "beschut-werk"))
    body = await winst(api, gemeente, year=2015)  # the party is the token's own
    assert (body["party"], figures(body)) == (PARTY, (1_300, 600, 0, 700))
    assert body["bySource"] == {"loonvormende-arbeid": 1_000, "opdrachten": 300}
    assert body["byDestination"] == {"dagbesteding": 400, "beschut-werk": 200}
    await refused(api, gemeente, [reinvested(699, "arbeidsleren"), reinvested(2)],
                  (1, "winst-reinvested-exceeds-realised"))
    await ok(api, gemeente, reinvested(700, "arbeidsleren"))
    assert figures(await winst(api, gemeente, party=PARTY, year=2015)) == (1_300, 1_300, 0, 0)


async def test_winst_left_over_is_carried_into_later_years(api: Api, gemeente: str) -> None:
    await ok(api, gemeente, realised(1_000, date="2015-09-30"), reinvested(600, date="2016-02-29"))
    # 2015: realised 1.000, nothing reinvested; 2016: 1.000 carried over, 600 reinvested, 400 left
    assert figures(await winst(api, gemeente, year=2015)) == (1_000, 0, 0, 1_000)
    assert figures(await winst(api, gemeente, year=2016)) == (0, 600, 1_000, 400)
    await refused(api, gemeente, [reinvested(401, date="2016-12-31")], (0, "winst-reinvested-exceeds-realised"))
    await ok(api, gemeente, realised(250, "opdrachten", date="2016-06-30"), reinvested(650, date="2016-12-31"))
    # 2016: realised 250, reinvested 600 + 650 = 1.250, carried 1.000 -> 0 left; 2017 carries 0
    assert figures(await winst(api, gemeente, year=2016)) == (250, 1_250, 1_000, 0)
    assert figures(await winst(api, gemeente, year=2017)) == (0, 0, 0, 0)


async def test_an_ideel_besparing_is_bounded_by_the_surplus_over_all_inkomensdeel_lines(
    api: Api, gemeente: str
) -> None:
    grant = event("SubsidyGranted", {"subsidyId": "lks-1", "clientRef": "client-1", "instrument": "loonkostensubsidie",
                                     "budget": "inkomensdeel", "loonwaardePct": 40, "wmlMonthlyCents": 165_000,
                                     "startDate": "2015-01-01"})
    income = event("IncomeBooked", {"budget": "inkomensdeel", "source": "algemene-middelen", "amountCents": 500})
    await ok(api, gemeente, allocation("inkomensdeel", 10_000, "buig"), allocation("inkomensdeel", 2_000, "bbz"),
             income, cost("inkomensdeel", 9_000, "buig", category="uitkering"), grant)
    # surplus: allocated 10.000 + 2.000, income 500, spent 9.000 = 3.500; a commitment is not spent
    assert (await rows(api, gemeente))[("inkomensdeel", None)]["committedCents"] > 0
    besparing = "ideel-besparing"
    await refused(api, gemeente, [realised(3_501, besparing)], (0, "ideel-besparing-exceeds-surplus"))
    await refused(api, gemeente, [realised(2_000, besparing), realised(1_501, besparing)],
                  (1, "ideel-besparing-exceeds-surplus"))
    await ok(api, gemeente, realised(2_000, besparing), realised(1_500, besparing))
    await refused(api, gemeente, [realised(1, besparing)], (0, "ideel-besparing-exceeds-surplus"))
    assert (await winst(api, gemeente, year=2015))["bySource"] == {besparing: 3_500}


async def test_correcting_realised_winst_may_not_leave_it_over_reinvested(api: Api, gemeente: str) -> None:
    big, small = realised(1_000), realised(300, "opdrachten")
    await ok(api, gemeente, big, small, reinvested(1_000))
    await refused(api, gemeente, [correction(big)], (0, "winst-reinvested-exceeds-realised"))  # 300 < 1.000
    await ok(api, gemeente, correction(small))  # 1.000 realised, 1.000 reinvested
    body = await winst(api, gemeente, year=2015)
    assert figures(body) == (1_000, 1_000, 0, 0)
    assert body["bySource"]["loonvormende-arbeid"] == 1_000 and body["bySource"].get("opdrachten", 0) == 0
    await refused(api, gemeente, [reinvested(1)], (0, "winst-reinvested-exceeds-realised"))


# --- winst of a shared organisation ---------------------------------------------------


async def organisation(api: Api, weights: dict[str, int], policy: str) -> str:
    """Three members from 2015-01-01 (and an outsider), the 2015 key; the organisation's token."""
    admin = api.token("admin")
    await register(api, admin, *MEMBERS, OUTSIDER)
    data = {"name": "Werkbedrijf", "members": list(MEMBERS), "fundHolder": "GM0439"}
    await ok(api, admin, event("OrganisationRegistered", data, party=ORG, date="2015-01-01"))
    org = api.token("organisation", ORG)
    key = {"basis": "inwoners", "weights": weights, "policy": policy}
    await ok(api, org, event("AllocationKeySet", key, party=ORG, date="2015-01-01"))
    return org


def by_member(body: dict[str, Any]) -> dict[str, tuple[float, int]]:
    assert sum(m["amountCents"] for m in body["byMember"]) == body["realisedCents"]
    return {m["party"]: (m["keyWeight"], m["amountCents"]) for m in body["byMember"]}


async def test_solidariteit_pools_the_winst_by_key_and_profijt_returns_it_to_who_earned_it(api: Api) -> None:
    org = await organisation(api, {"GM0439": 3, "GM0363": 2, "GM0405": 1}, "solidariteit")
    await ok(api, org, realised(1_000, member="GM0439", party=ORG),
             realised(500, "opdrachten", member="GM0363", party=ORG),
             realised(101, party=ORG), reinvested(600, "beschut-werk", party=ORG))
    solidariteit = await winst(api, org, year=2015)  # party: the organisation's own; policy: the key's
    assert (solidariteit["party"], solidariteit["policy"]) == (ORG, "solidariteit")
    assert figures(solidariteit) == (1_601, 600, 0, 1_001)
    # 1.601 by 3:2:1 of 6 = 800.5 / 533.67 / 266.83; floors leave 2 cents, to the largest
    # remainders .83 (GM0405) and .67 (GM0363)
    assert by_member(solidariteit) == {"GM0363": (2, 534), "GM0405": (1, 267), "GM0439": (3, 800)}
    profijt = await winst(api, org, year=2015, policy="profijt")
    assert profijt["policy"] == "profijt"
    # GM0439 1.000 + 101x3/6 = 1.050.5; GM0363 500 + 101x2/6 = 533.67; GM0405 101/6 = 16.83;
    # floors leave 2 cents: to GM0405 (.83) and GM0363 (.67)
    assert by_member(profijt) == {"GM0363": (2, 534), "GM0405": (1, 17), "GM0439": (3, 1_050)}
    # members and the organisation read the same; an outsider may not
    for reader in (api.token("gemeente", "GM0405"), api.token("controller", "GM0363")):
        assert await winst(api, reader, party=ORG, year=2015) == solidariteit
    status, body = await api.get(api.token("gemeente", OUTSIDER), "/v1/winst", party=ORG, year=2015)
    assert status == 403, body


async def test_winst_without_a_member_is_shared_by_key_with_ties_to_the_lower_code(api: Api) -> None:
    org = await organisation(api, {"GM0439": 1, "GM0363": 1, "GM0405": 1}, "profijt")
    await ok(api, org, realised(100, party=ORG))
    # 100 / 3 = 33.33 each, under either policy; the one cent left goes to the lowest code
    expected = {"GM0363": (1, 34), "GM0405": (1, 33), "GM0439": (1, 33)}
    assert by_member(await winst(api, org, party=ORG, year=2015)) == expected
    assert by_member(await winst(api, org, party=ORG, year=2015, policy="solidariteit")) == expected


async def test_only_an_organisation_names_a_member_and_only_one_of_that_year(api: Api) -> None:
    org = await organisation(api, {"GM0439": 1, "GM0363": 1, "GM0405": 1}, "profijt")
    gemeente = api.token("gemeente", PARTY)
    await refused(api, gemeente, [realised(100, member="GM0363")], (0, "not-an-organisation"))
    await ok(api, gemeente, realised(100))
    await ok(api, org, event("MembershipChanged", {"member": "GM0405", "change": "left"}, party=ORG, date="2016-01-01"))
    await refused(api, org, [realised(100, member=OUTSIDER, party=ORG),
                             realised(100, member="GM0405", party=ORG, date="2016-03-31")],
                  (0, "not-a-member"), (1, "not-a-member"))
    await ok(api, org, realised(100, member="GM0405", party=ORG),
             realised(100, member="GM0439", party=ORG, date="2016-03-31"))
    # GM0405 belonged all of 2015 (left on 1 January 2016): its 100 goes to it in full under profijt
    assert by_member(await winst(api, org, year=2015)) == {"GM0363": (1, 0), "GM0405": (1, 100), "GM0439": (1, 0)}
