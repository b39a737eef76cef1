"""A Correction reverses part of an earlier event (domain.md section 5, issue 17.1),
through the real HTTP API on both stores: `amountCents` is the part, with the
original's sign; without it, whatever is left; more than is left is a 422
`correction-exceeds-original` that stores nothing."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, event
from tests.test_refusals import accepted, allocation, cost, line, refused, reserve, reserve_balance


def part(corrects: str, cents: int | None = None, date: str = "2015-07-31") -> dict[str, Any]:
    data: dict[str, Any] = {"corrects": corrects, "reason": "deels onjuist geboekt"}
    if cents is not None:
        data["amountCents"] = cents
    return event("Correction", data, date=date)


async def _trial_balance_is_zero(api: Api) -> None:
    status, body = await api.get(api.token("auditor"), "/v1/trial-balance")
    assert status == 200 and body["debitCents"] == body["creditCents"], body


async def test_two_parts_then_the_rest_reverse_a_cost_exactly(api: Api, gemeente: str) -> None:
    booked = cost("participatiebudget", 1_000)
    await accepted(api, gemeente, allocation("participatiebudget", 5_000), booked)
    await accepted(api, gemeente, part(booked["id"], 300))
    assert (await line(api, gemeente, "participatiebudget"))["spentCents"] == 700
    await accepted(api, gemeente, part(booked["id"], 200, date="2015-08-31"))
    assert (await line(api, gemeente, "participatiebudget"))["spentCents"] == 500
    await refused(api, gemeente, part(booked["id"], 501), (0, "correction-exceeds-original"))
    await refused(api, gemeente, part(booked["id"], -100), (0, "correction-exceeds-original"))  # not its sign
    await accepted(api, gemeente, part(booked["id"]))  # the remainder: 500
    assert (await line(api, gemeente, "participatiebudget"))["spentCents"] == 0
    await refused(api, gemeente, part(booked["id"], 1), (0, "already-corrected"))
    await _trial_balance_is_zero(api)


async def test_a_part_of_a_negative_revision_has_its_sign(api: Api, gemeente: str) -> None:
    revision = event("BudgetRevised", {"budget": "participatiebudget", "amountCents": -500})
    await accepted(api, gemeente, allocation("participatiebudget", 5_000), revision)
    await refused(api, gemeente, part(revision["id"], 200), (0, "correction-exceeds-original"))
    await accepted(api, gemeente, part(revision["id"], -200))
    row = await line(api, gemeente, "participatiebudget")
    assert (row["allocatedCents"], row["primitiveCents"], row["amendmentsCents"]) == (4_700, 5_000, -300)
    await _trial_balance_is_zero(api)


async def test_a_part_of_an_opening_balance_and_of_a_withdrawal(api: Api, gemeente: str) -> None:
    opening, taken = reserve("r", 1_000), event(
        "ReserveWithdrawn", {"reserve": "r", "budget": "participatiebudget", "amountCents": 400})
    await accepted(api, gemeente, allocation("participatiebudget", 100), opening, taken)
    await refused(api, gemeente, part(opening["id"], 700), (0, "reserve-below-zero"))  # 1000 - 700 < the 400 taken
    await accepted(api, gemeente, part(opening["id"], 600), part(taken["id"], 150))
    assert await reserve_balance(api, gemeente, "r") == 1_000 - 600 - 400 + 150
    assert (await line(api, gemeente, "participatiebudget"))["incomeCents"] == 250


async def test_an_outflow_is_corrected_whole(api: Api, gemeente: str) -> None:
    outflow = event("OutflowRegistered", {"clientRef": "c-1", "extent": "volledig", "reason": "werk",
                                          "avoidedBenefitCents": 10_000})
    await accepted(api, gemeente, outflow)
    await refused(api, gemeente, part(outflow["id"], 5_000), (0, "correction-not-partial"))
    await accepted(api, gemeente, part(outflow["id"]))


async def test_a_part_of_nothing_is_a_bad_request(api: Api, gemeente: str) -> None:
    booked = cost("participatiebudget", 1_000)
    await accepted(api, gemeente, allocation("participatiebudget", 5_000), booked)
    for bad in (0, 1.5, "300", True):
        status, body = await api.post(gemeente, part(booked["id"], bad))  # type: ignore[arg-type]
        assert status == 400, body
        assert [p["name"] for p in body["invalidParams"]] == ["data.amountCents"], body


async def test_a_partly_corrected_payment_commits_that_part_again(api: Api, gemeente: str) -> None:
    grant = event("SubsidyGranted", {"subsidyId": "lks-1", "clientRef": "c-1", "instrument": "loonkostensubsidie",
                                     "loonwaardePct": 50, "wmlMonthlyCents": 100_000, "startDate": "2015-01-01",
                                     "endDate": "2015-12-31"})
    paid = event("SubsidyPaid", {"subsidyId": "lks-1", "amountCents": 50_000})
    await accepted(api, gemeente, allocation("inkomensdeel", 10_000_000), grant, paid)
    before = await line(api, gemeente, "inkomensdeel")
    await accepted(api, gemeente, part(paid["id"], 20_000))
    after = await line(api, gemeente, "inkomensdeel")
    assert after["spentCents"] == before["spentCents"] - 20_000
    assert after["committedCents"] == before["committedCents"] + 20_000
    assert after["availableCents"] == before["availableCents"]
