"""Verplichtingen on any budget line (issue 17.3), through HTTP on both stores: a
commitment counts in `committedCents` until costs booked against it use it up (never
below zero: the rest of a cost is uncommitted spending) or it is released; the charging
rules apply to its category; a kaderstellend line refuses one it cannot carry;
`GET /v1/commitments` lists each with registered, used, released and open."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.conftest import Api, event, register
from tests.test_partial_corrections import part
from tests.test_refusals import accepted, allocation, cost, line, refused, steering

PB = "participatiebudget"


def commitment(cid: str, cents: int, budget: str = PB, category: str = "begeleiding", **extra: Any) -> dict[str, Any]:
    return event("CommitmentRegistered", {"commitmentId": cid, "budget": budget, "category": category,
                                          "amountCents": cents, **extra})


def against(cid: str, cents: int, budget: str = PB, **extra: Any) -> dict[str, Any]:
    return event("CostBooked", {"budget": budget, "category": "begeleiding", "amountCents": cents, "commitmentId": cid,
                                **extra})


def release(cid: str, cents: int | None = None) -> dict[str, Any]:
    return event("CommitmentReleased", {"commitmentId": cid} | ({"amountCents": cents} if cents else {}))


async def listed(api: Api, token: str, **params: Any) -> dict[str, tuple[int, int, int, int]]:
    status, body = await api.get(token, "/v1/commitments", **params)
    assert status == 200, body
    return {c["commitmentId"]: (c["registeredCents"], c["usedCents"], c["releasedCents"], c["openCents"])
            for c in body["results"]}


async def figures(api: Api, token: str) -> tuple[int, int, int]:
    row = await line(api, token, PB)
    return row["spentCents"], row["committedCents"], row["availableCents"]


async def test_costs_use_a_commitment_up_and_never_below_zero(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, allocation(PB, 50_000), commitment("jobcoach-2015", 10_000))
    assert await figures(api, gemeente) == (0, 10_000, 40_000)
    await accepted(api, gemeente, against("jobcoach-2015", 4_000))
    assert await figures(api, gemeente) == (4_000, 6_000, 40_000)  # what was committed is now spent
    before = datetime.now(UTC).isoformat()
    await accepted(api, gemeente, against("jobcoach-2015", 8_000))  # 6,000 of it was committed, 2,000 not
    assert await figures(api, gemeente) == (12_000, 0, 38_000)
    assert await listed(api, gemeente) == {"jobcoach-2015": (10_000, 10_000, 0, 0)}
    assert await listed(api, gemeente, asOf=before) == {"jobcoach-2015": (10_000, 4_000, 0, 6_000)}
    await refused(api, gemeente, release("jobcoach-2015"), (0, "commitment-release-exceeds-open"))
    status, body = await api.get(api.token("auditor"), "/v1/trial-balance")
    assert body["debitCents"] == body["creditCents"], body


async def test_a_release_frees_part_or_all_that_is_open(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, allocation(PB, 50_000), commitment("scholing", 5_000, category="scholing"))
    await refused(api, gemeente, release("scholing", 5_001), (0, "commitment-release-exceeds-open"))
    await accepted(api, gemeente, release("scholing", 2_000))
    assert await figures(api, gemeente) == (0, 3_000, 47_000)
    await accepted(api, gemeente, release("scholing"))  # the rest
    assert await listed(api, gemeente, year=2015) == {"scholing": (5_000, 0, 5_000, 0)}
    assert await listed(api, gemeente, year=2016) == {}
    assert await figures(api, gemeente) == (0, 0, 50_000)


async def test_the_rules_a_commitment_keeps(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, allocation(PB, 1_000), allocation("wmo", 1_000), steering(PB, "kaderstellend"),
                   commitment("c1", 600))
    await refused(api, gemeente, commitment("c2", 500), (0, "binding-budget-exceeded"))
    await refused(api, gemeente, commitment("c1", 1), (0, "duplicate-commitment"))
    await refused(api, gemeente, commitment("c3", 1, category="tegenprestatie"), (0, "charging-rule"))
    await refused(api, gemeente, commitment("c3", 1, budget="inkomensdeel", category="uitvoering"), (0, "unknown-budget"))
    await refused(api, gemeente, against("nope", 1), (0, "unknown-commitment"))
    await refused(api, gemeente, against("c1", 1, budget="wmo", category="uitvoering"), (0, "commitment-other-line"))
    await refused(api, gemeente, release("nope"), (0, "unknown-commitment"))
    await accepted(api, gemeente, against("c1", 600), commitment("c2", 400))  # the used part frees nothing twice
    await refused(api, gemeente, commitment("c4", 1), (0, "binding-budget-exceeded"))


async def test_a_corrected_cost_commits_again_what_it_used(api: Api, gemeente: str) -> None:
    booked = against("c1", 700)
    await accepted(api, gemeente, allocation(PB, 50_000), commitment("c1", 1_000), booked)
    await refused(api, gemeente, part(booked["id"], 100), (0, "correction-not-partial"))
    await accepted(api, gemeente, part(booked["id"]))
    assert await figures(api, gemeente) == (0, 1_000, 49_000)
    assert await listed(api, gemeente) == {"c1": (1_000, 0, 0, 1_000)}


async def test_a_party_sees_its_own_commitments_only(api: Api, gemeente: str) -> None:
    await accepted(api, gemeente, allocation(PB, 50_000), commitment("c1", 1_000))
    await register(api, api.token("admin"), "GM0995")
    other = api.token("gemeente", "GM0995")
    assert await listed(api, other) == {}
    status, body = await api.get(other, "/v1/commitments", party="GM0439")
    assert status == 403, body
    r = await api.client.get("/v1/commitments", headers={"Authorization": f"Bearer {gemeente}", "Accept": "text/csv"})
    assert (await r.text()).splitlines() == [
        "party,year,commitmentId,budget,subBudget,category,registeredCents,usedCents,releasedCents,openCents",
        "GM0439,2015,c1,participatiebudget,,begeleiding,1000,0,0,1000",
    ]
