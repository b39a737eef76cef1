"""Every rule refusal, through the real HTTP API (domain.md sections 4 and 5, api.md
"Posting events").

A refused post is a 422 problem+json whose `type` ends in the rule's code, whose
`errors` list every bad event by its index in the batch, and after which nothing has
changed: not the log (the ledger's own head and the listed events), not the balances,
not the reserves. `refused` checks all of that on every refusal below. Most tests also
post the accepted counterpart, so they fail if a rule is too strict as well as too lax.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest

from tests.conftest import Api, assert_problem, event, register

PARTY = "GM0439"
DATE = "2015-06-30"


# --- events, as a client builds them --------------------------------------------------


def _data(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def allocation(budget: str, amount: int, sub: str | None = None, date: str = DATE, **extra: Any) -> dict[str, Any]:
    data = _data(budget=budget, subBudget=sub, source="rijk", amountCents=amount)
    return event("BudgetAllocated", data, date=date, **extra)


def income(budget: str, amount: int) -> dict[str, Any]:
    return event("IncomeBooked", {"budget": budget, "source": "algemene-middelen", "amountCents": amount})


def steering(budget: str, mode: str, sub: str | None = None) -> dict[str, Any]:
    return event("SteeringModeSet", _data(budget=budget, subBudget=sub, mode=mode))


def cost(budget: str, amount: int = 100, category: str = "uitvoering", sub: str | None = None,
         date: str = DATE, **extra: Any) -> dict[str, Any]:
    data = _data(budget=budget, subBudget=sub, category=category, amountCents=amount)
    return event("CostBooked", data, date=date, **extra)


def reserve(name: str, opening: int, revolving: bool = False, date: str = "2015-01-01") -> dict[str, Any]:
    data = {"reserve": name, "openingBalanceCents": opening, "purpose": "test", "revolving": revolving}
    return event("ReserveEstablished", data, date=date)


def withdrawal(name: str, amount: int, date: str = DATE) -> dict[str, Any]:
    data = {"reserve": name, "budget": "participatiebudget", "amountCents": amount}
    return event("ReserveWithdrawn", data, date=date)


def addition(name: str, amount: int, reflux: bool = False) -> dict[str, Any]:
    return event("ReserveAdded", {"reserve": name, "amountCents": amount, "reflux": reflux})


def winst(amount: int, source: str = "loonvormende-arbeid", date: str = DATE) -> dict[str, Any]:
    return event("WinstRealised", {"source": source, "amountCents": amount}, date=date)


def reinvestment(amount: int, date: str = DATE) -> dict[str, Any]:
    return event("WinstReinvested", {"destination": "dagbesteding", "amountCents": amount}, date=date)


def correction(corrects: str, date: str = "2015-07-31") -> dict[str, Any]:
    return event("Correction", {"corrects": corrects, "reason": "onjuist geboekt"}, date=date)


def year_closed(year: int) -> dict[str, Any]:
    return event("YearClosed", {}, date=f"{year}-12-31")


def grant(subsidy: str, budget: str = "inkomensdeel", client: str = "client-1") -> dict[str, Any]:
    data = {"subsidyId": subsidy, "clientRef": client, "instrument": "loonkostensubsidie", "budget": budget,
            "loonwaardePct": 40, "wmlMonthlyCents": 165_000, "startDate": "2015-01-01"}
    return event("SubsidyGranted", data)


def subsidy_paid(subsidy: str, amount: int) -> dict[str, Any]:
    return event("SubsidyPaid", {"subsidyId": subsidy, "amountCents": amount})


def subsidy_ended(subsidy: str) -> dict[str, Any]:
    return event("SubsidyEnded", {"subsidyId": subsidy})


def placement(placement_id: str, client: str = "client-1", **extra: Any) -> dict[str, Any]:
    data = {"placementId": placement_id, "clientRef": client, "kind": "regulier", "hoursPerWeek": 32}
    return event("PlacementStarted", data, **extra)


def placement_ended(placement_id: str) -> dict[str, Any]:
    return event("PlacementEnded", {"placementId": placement_id, "reason": "uitstroom"})


# --- posting and reading --------------------------------------------------------------


async def accepted(api: Api, token: str, *events: dict[str, Any]) -> None:
    """Post `events` as one batch and require it to be stored."""
    status, body = await api.post(token, {"events": list(events)})
    assert status == 201, body


async def stored(api: Api) -> list[Any]:
    """Everything a refused post could have changed: the head of the ledger's own log
    and, as an auditor reads them, the listed events, balances and reserves."""
    r = await api.client.get("/readyz")
    out: list[Any] = [(await r.json())["head"]]
    auditor = api.token("auditor")
    for path in ("/v1/events", "/v1/balances", "/v1/reserves"):
        status, body = await api.get(auditor, path)
        assert status == 200, body
        out.append(body)
    return out


async def refusal(api: Api, token: str, events: dict[str, Any] | list[dict[str, Any]]) -> dict[str, Any]:
    """Post one event or a batch; require a 422 rule problem and that nothing was stored."""
    before = await stored(api)
    body_sent = {"events": events} if isinstance(events, list) else events
    r = await api.client.post("/v1/events", json=body_sent, headers={"Authorization": f"Bearer {token}"})
    body = await r.json(content_type=None)
    assert_problem(r.status, r.headers["Content-Type"], body, 422)
    assert body["errors"], body
    for error in body["errors"]:
        assert error["type"].endswith(":" + error["rule"]) and error["detail"], error
    assert body["type"].endswith(":" + body["errors"][0]["rule"])
    assert await stored(api) == before
    return body


async def refused(api: Api, token: str, events: dict[str, Any] | list[dict[str, Any]],
                  *expected: tuple[int, str]) -> dict[str, Any]:
    """As `refusal`, naming exactly the (index, rule) of every bad event."""
    body = await refusal(api, token, events)
    assert [(e["index"], e["rule"]) for e in body["errors"]] == list(expected)
    return body


async def line(api: Api, token: str, budget: str, year: int = 2015, sub: str | None = None) -> dict[str, Any]:
    status, body = await api.get(token, "/v1/balances", party=PARTY, year=year, budget=budget)
    assert status == 200, body
    return next(row for row in body["results"] if row["subBudget"] == sub)


async def reserve_balance(api: Api, token: str, name: str) -> int:
    status, body = await api.get(token, "/v1/reserves", party=PARTY)
    assert status == 200, body
    return next(row["balanceCents"] for row in body["results"] if row["reserve"] == name)


# --- charging rules (bestedingsregels) ------------------------------------------------


@pytest.mark.parametrize(
    ("category", "wrong", "right"),
    [
        ("tegenprestatie", "participatiebudget", "algemene-middelen"),
        ("loonkostensubsidie", "participatiebudget", "inkomensdeel"),
        ("uitkering", "werk-en-inkomen", "inkomensdeel"),
        ("begeleiding", "inkomensdeel", "participatiebudget"),
        ("dagbesteding", "participatiebudget", "wmo"),
    ],
)
async def test_a_category_is_charged_to_its_allowed_budgets_only(
    api: Api, gemeente: str, category: str, wrong: str, right: str
) -> None:
    await accepted(api, gemeente, allocation(wrong, 10_000), allocation(right, 10_000))
    await refused(api, gemeente, cost(wrong, category=category), (0, "charging-rule"))
    await accepted(api, gemeente, cost(right, category=category))
    assert (await line(api, gemeente, right))["spentCents"] == 100


async def test_a_category_outside_the_table_may_be_charged_to_any_budget(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, allocation("participatiebudget", 10_000), allocation("inkomensdeel", 10_000))
    await accepted(api, gemeente, cost("participatiebudget", category="uitvoering"),
                   cost("inkomensdeel", category="uitvoering"), cost("participatiebudget", category="bbz"))


async def test_a_budget_of_the_partys_own_takes_any_category(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, allocation("exploitatie", 10_000))
    categories = ("tegenprestatie", "loonkostensubsidie", "dagbesteding", "uitkering", "begeleiding")
    await accepted(api, gemeente, *(cost("exploitatie", category=c) for c in categories))
    assert (await line(api, gemeente, "exploitatie"))["spentCents"] == 500


async def test_a_loonkostensubsidie_granted_on_the_participatiebudget_is_refused(api: Api, gemeente: str) -> None:
    await refused(api, gemeente, grant("lks-1", budget="participatiebudget"), (0, "charging-rule"))
    await accepted(api, gemeente, grant("lks-1", budget="inkomensdeel"))


# --- steering modes -------------------------------------------------------------------


async def test_a_kaderstellend_budget_refuses_a_cost_beyond_what_is_available(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, allocation("participatiebudget", 1_000),
                   steering("participatiebudget", "kaderstellend"))
    await refused(api, gemeente, cost("participatiebudget", 1_001), (0, "binding-budget-exceeded"))
    # each fits alone; together they do not
    await refused(api, gemeente, [cost("participatiebudget", 600), cost("participatiebudget", 600)],
                  (1, "binding-budget-exceeded"))
    await accepted(api, gemeente, cost("participatiebudget", 1_000))
    assert (await line(api, gemeente, "participatiebudget"))["availableCents"] == 0
    await refused(api, gemeente, cost("participatiebudget", 1), (0, "binding-budget-exceeded"))


async def test_a_kaderstellend_sub_budget_binds_its_own_line(api: Api, gemeente: str) -> None:
    await accepted(
        api, gemeente,
        allocation("participatiebudget", 500, sub="wsw"),
        allocation("participatiebudget", 5_000, sub="nieuwe-doelgroepen"),
        steering("participatiebudget", "kaderstellend", sub="wsw"),
    )
    await refused(api, gemeente, cost("participatiebudget", 501, sub="wsw"), (0, "binding-budget-exceeded"))
    # the wsw line fits exactly; the other line is richtinggevend and may overspend
    await accepted(api, gemeente, cost("participatiebudget", 500, sub="wsw"),
                   cost("participatiebudget", 6_000, sub="nieuwe-doelgroepen"))
    assert (await line(api, gemeente, "participatiebudget", sub="wsw"))["availableCents"] == 0
    assert (await line(api, gemeente, "participatiebudget"))["availableCents"] == -1_000


@pytest.mark.parametrize("mode_set", [False, True], ids=["default", "explicit"])
async def test_a_richtinggevend_budget_may_overspend(api: Api, gemeente: str, mode_set: bool) -> None:
    modes = [steering("participatiebudget", "richtinggevend")] if mode_set else []
    await accepted(api, gemeente, allocation("participatiebudget", 1_000), *modes)
    await accepted(api, gemeente, cost("participatiebudget", 1_500))
    row = await line(api, gemeente, "participatiebudget")
    assert (row["availableCents"], row["saldoCents"]) == (-500, -500)


# --- reserves -------------------------------------------------------------------------


async def test_a_withdrawal_beyond_the_reserve_balance_is_refused(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, reserve("r", 1_000))
    await refused(api, gemeente, withdrawal("r", 1_001), (0, "reserve-below-zero"))
    await accepted(api, gemeente, withdrawal("r", 1_000))
    assert await reserve_balance(api, gemeente, "r") == 0


async def test_a_back_dated_withdrawal_may_not_leave_a_later_balance_negative(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, reserve("r", 1_000), withdrawal("r", 800, date="2015-09-01"))
    await refused(api, gemeente, withdrawal("r", 500, date="2015-03-01"), (0, "reserve-below-zero"))
    await accepted(api, gemeente, withdrawal("r", 200, date="2015-03-01"))


async def test_a_withdrawal_dated_before_the_reserve_was_established_is_refused(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, reserve("r", 1_000, date="2015-06-30"))
    body = await refusal(api, gemeente, withdrawal("r", 100, date="2015-01-31"))
    # the reserve did not exist that day: refused either as unknown then or as going below zero
    assert [e["index"] for e in body["errors"]] == [0]
    assert body["errors"][0]["rule"] in {"unknown-reserve", "reserve-below-zero"}
    await accepted(api, gemeente, withdrawal("r", 100, date="2015-06-30"))


async def test_movements_of_an_unknown_reserve_are_refused(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, reserve("r", 1_000))
    await refused(api, gemeente, [withdrawal("nergens", 1), addition("nergens", 1)],
                  (0, "unknown-reserve"), (1, "unknown-reserve"))


async def test_a_reserve_is_established_once(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, reserve("r", 1_000))
    await refused(api, gemeente, reserve("r", 5_000, date="2016-01-01"), (0, "reserve-already-established"))
    assert await reserve_balance(api, gemeente, "r") == 1_000


async def test_reflux_into_a_revolving_reserve_is_capped_by_what_was_withdrawn(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, reserve("nuon", 3_000, revolving=True), withdrawal("nuon", 1_000))
    await refused(api, gemeente, addition("nuon", 1_001, reflux=True), (0, "reflux-exceeds-withdrawn"))
    await accepted(api, gemeente, addition("nuon", 600, reflux=True), addition("nuon", 400, reflux=True))
    await refused(api, gemeente, addition("nuon", 1, reflux=True), (0, "reflux-exceeds-withdrawn"))
    assert await reserve_balance(api, gemeente, "nuon") == 3_000
    await accepted(api, gemeente, addition("nuon", 5_000))  # a dotatie that is no reflux is not capped


async def test_reflux_into_a_reserve_that_is_not_revolving_is_refused(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, reserve("r", 1_000), withdrawal("r", 500))
    await refused(api, gemeente, addition("r", 100, reflux=True), (0, "reflux-not-revolving"))
    await accepted(api, gemeente, addition("r", 100))
    assert await reserve_balance(api, gemeente, "r") == 600


# --- closed years ---------------------------------------------------------------------


async def close_2015(api: Api, gemeente: str) -> dict[str, Any]:
    """Budgets for 2015 and 2016, a cost of 300 in 2015, and 2015 closed; returns the cost."""
    booked = cost("participatiebudget", 300)
    await accepted(api, gemeente, allocation("participatiebudget", 10_000),
                   allocation("participatiebudget", 10_000, date="2016-01-01"), booked, year_closed(2015))
    return booked


async def test_nothing_dated_in_a_closed_year_is_accepted(api: Api, gemeente: str) -> None:
    await close_2015(api, gemeente)
    await refused(
        api, gemeente,
        [cost("participatiebudget", date="2016-01-15", year=2015),
         cost("participatiebudget", date="2015-12-31", year=2016)],
        (0, "year-closed"), (1, "year-closed"),
    )
    await accepted(api, gemeente, cost("participatiebudget", date="2016-01-15"))


async def test_a_year_is_closed_once(api: Api, gemeente: str) -> None:
    await close_2015(api, gemeente)
    await refused(api, gemeente, year_closed(2015), (0, "year-closed"))
    await accepted(api, gemeente, year_closed(2016))


async def test_a_closed_years_cost_is_corrected_in_the_next_open_year(api: Api, gemeente: str) -> None:
    booked = await close_2015(api, gemeente)
    await refused(api, gemeente, correction(booked["id"], date="2015-12-31"), (0, "year-closed"))
    await accepted(api, gemeente, correction(booked["id"], date="2016-01-15"))
    assert (await line(api, gemeente, "participatiebudget", 2015))["spentCents"] == 300
    assert (await line(api, gemeente, "participatiebudget", 2016))["spentCents"] == -300


# --- unknown party or budget ----------------------------------------------------------


async def test_an_event_for_an_unregistered_party_is_refused(api: Api, gemeente: str) -> None:
    admin = api.token("admin")
    await refused(api, admin, allocation("participatiebudget", 1_000, party="GM0995"), (0, "unknown-party"))
    await register(api, admin, "GM0995")
    await accepted(api, admin, allocation("participatiebudget", 1_000, party="GM0995"))


async def test_a_party_is_registered_once(api: Api, gemeente: str) -> None:
    again = event("PartyRegistered", {"name": "Purmerend", "kind": "gemeente"}, date="2014-01-01")
    await refused(api, api.token("admin"), again, (0, "party-already-registered"))


async def test_a_cost_on_a_budget_not_allocated_in_its_year_is_refused(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, allocation("participatiebudget", 1_000))
    unknown = [cost("inkomensdeel", category="uitkering"), cost("participatiebudget", date="2016-03-31")]
    await refused(api, gemeente, unknown, (0, "unknown-budget"), (1, "unknown-budget"))
    await accepted(api, gemeente, cost("participatiebudget"))


# --- winst ----------------------------------------------------------------------------


async def test_winst_reinvested_never_exceeds_winst_realised(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, winst(1_000))
    await refused(api, gemeente, reinvestment(1_001), (0, "winst-reinvested-exceeds-realised"))
    await accepted(api, gemeente, reinvestment(600), reinvestment(400))
    await refused(api, gemeente, reinvestment(1), (0, "winst-reinvested-exceeds-realised"))


async def test_winst_realised_in_one_year_may_be_reinvested_in_a_later_one(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, winst(1_000, date="2015-06-30"))
    await refused(api, gemeente, reinvestment(100, date="2014-12-31"), (0, "winst-reinvested-exceeds-realised"))
    await accepted(api, gemeente, reinvestment(700, date="2016-03-31"))
    # neither later, nor back-dated into the year it was realised (which would leave 2016 short)
    await refused(api, gemeente, [reinvestment(301, date="2016-06-30"), reinvestment(301, date="2015-12-31")],
                  (0, "winst-reinvested-exceeds-realised"), (1, "winst-reinvested-exceeds-realised"))
    await accepted(api, gemeente, reinvestment(300, date="2016-06-30"))


async def test_an_ideel_besparing_is_bounded_by_the_inkomensdeels_surplus(api: Api, gemeente: str) -> None:
    # surplus of 2015: allocated 10.000 + income 500 - spent 7.000 = 3.500
    await accepted(api, gemeente, allocation("inkomensdeel", 10_000), income("inkomensdeel", 500),
                   cost("inkomensdeel", 7_000, category="uitkering"))
    await refused(api, gemeente, winst(3_501, source="ideel-besparing"), (0, "ideel-besparing-exceeds-surplus"))
    await accepted(api, gemeente, winst(3_000, source="ideel-besparing"))
    # nor beyond the rest of it, nor in 2016, a year without an inkomensdeel surplus
    beyond = [winst(501, source="ideel-besparing"), winst(1, source="ideel-besparing", date="2016-06-30")]
    await refused(api, gemeente, beyond, (0, "ideel-besparing-exceeds-surplus"), (1, "ideel-besparing-exceeds-surplus"))
    await accepted(api, gemeente, winst(500, source="ideel-besparing"), winst(50_000))  # other sources are unbounded


# --- privacy --------------------------------------------------------------------------


@pytest.mark.parametrize("digits", ["111222333", "123456782"])
async def test_a_bsn_like_value_is_refused_without_repeating_it(api: Api, gemeente: str, digits: str) -> None:
    batch = [placement("p-1", client=digits), placement("p-2", reference=f"beschikking {digits}")]
    body = await refused(api, gemeente, batch, (0, "bsn-like-value"), (1, "bsn-like-value"))
    assert digits not in orjson.dumps(body).decode()


async def test_nine_digits_failing_the_elfproef_are_accepted(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, placement("p-1", client="123456789", reference="beschikking 123456789"))


# --- corrections ----------------------------------------------------------------------


async def test_correcting_an_unknown_event_is_refused(api: Api, gemeente: str) -> None:
    await refused(api, gemeente, correction(str(uuid.uuid4())), (0, "unknown-event"))


async def test_an_event_is_corrected_once(api: Api, gemeente: str) -> None:
    booked = cost("participatiebudget", 300)
    await accepted(api, gemeente, allocation("participatiebudget", 1_000), booked, correction(booked["id"]))
    await refused(api, gemeente, correction(booked["id"], date="2015-08-31"), (0, "already-corrected"))


async def test_a_steering_mode_cannot_be_corrected(api: Api, gemeente: str) -> None:
    mode = steering("participatiebudget", "kaderstellend")
    await accepted(api, gemeente, allocation("participatiebudget", 1_000), mode)
    await refused(api, gemeente, correction(mode["id"]), (0, "not-correctable"))


async def test_a_correction_may_not_take_a_reserve_below_zero(api: Api, gemeente: str) -> None:
    dotatie, taken = addition("r", 500), withdrawal("r", 1_200)
    await accepted(api, gemeente, allocation("participatiebudget", 1_000), reserve("r", 1_000), dotatie, taken)
    await refused(api, gemeente, correction(dotatie["id"]), (0, "reserve-below-zero"))
    await accepted(api, gemeente, correction(taken["id"]))
    assert await reserve_balance(api, gemeente, "r") == 1_500


async def test_a_corrected_cost_restores_the_balance_exactly(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, allocation("participatiebudget", 10_000, sub="wsw"))
    before = await line(api, gemeente, "participatiebudget", sub="wsw")
    booked = cost("participatiebudget", 1_234, sub="wsw")
    await accepted(api, gemeente, booked)
    assert (await line(api, gemeente, "participatiebudget", sub="wsw"))["availableCents"] == 10_000 - 1_234
    await accepted(api, gemeente, correction(booked["id"]))
    assert await line(api, gemeente, "participatiebudget", sub="wsw") == before


# --- subsidies and placements ---------------------------------------------------------


async def test_paying_or_ending_an_unknown_subsidy_is_refused(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, allocation("inkomensdeel", 100_000), grant("lks-1"))
    await refused(api, gemeente, [subsidy_paid("lks-2", 100), subsidy_ended("lks-2")],
                  (0, "unknown-subsidy"), (1, "unknown-subsidy"))
    await accepted(api, gemeente, subsidy_paid("lks-1", 100), subsidy_ended("lks-1"))
    assert (await line(api, gemeente, "inkomensdeel"))["spentCents"] == 100


async def test_a_subsidy_is_granted_once_and_ended_once(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, grant("lks-1"))
    await refused(api, gemeente, grant("lks-1", client="client-2"), (0, "duplicate-subsidy"))
    await refused(api, gemeente, [grant("lks-2"), grant("lks-2", client="client-2")], (1, "duplicate-subsidy"))
    await accepted(api, gemeente, subsidy_ended("lks-1"))
    await refused(api, gemeente, subsidy_ended("lks-1"), (0, "subsidy-ended"))


async def test_a_placement_is_started_once_and_ended_once(api: Api, gemeente: str) -> None:
    await refused(api, gemeente, placement_ended("p-1"), (0, "unknown-placement"))
    await accepted(api, gemeente, placement("p-1"))
    await refused(api, gemeente, placement("p-1", client="client-2"), (0, "duplicate-placement"))
    await accepted(api, gemeente, placement_ended("p-1"))
    await refused(api, gemeente, placement_ended("p-1"), (0, "placement-ended"))


# --- batches --------------------------------------------------------------------------


async def test_a_good_event_before_a_bad_one_is_not_stored(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, allocation("participatiebudget", 10_000))
    good = cost("participatiebudget", 500)
    await refused(api, gemeente, [good, cost("participatiebudget", category="tegenprestatie")], (1, "charging-rule"))
    status, _ = await api.get(gemeente, f"/v1/events/{good['id']}")
    assert status == 404
    status, body = await api.post(gemeente, good)
    assert status == 201, body  # new, not a retry (200): nothing of it was kept


async def test_every_bad_event_of_a_batch_is_listed_by_index(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, allocation("participatiebudget", 10_000), reserve("r", 100))
    batch = [
        cost("participatiebudget"),
        cost("participatiebudget", category="tegenprestatie"),
        withdrawal("r", 101),
        cost("inkomensdeel", category="uitkering"),
        placement("p-1", client="111222333"),
        reinvestment(1),
        cost("participatiebudget"),
    ]
    body = await refused(
        api, gemeente, batch,
        (1, "charging-rule"), (2, "reserve-below-zero"), (3, "unknown-budget"),
        (4, "bsn-like-value"), (5, "winst-reinvested-exceeds-realised"),
    )
    assert body["type"].endswith(":charging-rule")  # the problem is named after the first bad event
