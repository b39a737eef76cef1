"""Reopening a closed year (issue 17.6), through HTTP and `ledger verify` on both
stores: an admin's `YearReopened`, with the decision as its `reference`, opens the
year; postings dated in it are accepted again until a later `YearClosed` seals it
again; the party read lists it closed only while it is (Iv3 has no 2015: before the
taakvelden); verify and the trail show both closes, and an
anchor taken at the first close still verifies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.conftest import Api, event
from tests.procs_ledger import cli
from tests.test_refusals import accepted, close_2015, cost, line, refused, year_closed

DECISION = "Raadsbesluit 2016/88: jaarrekening 2015 heropend op verzoek van de accountant"


def reopened(year: int, reference: str | None = DECISION, date: str = "2016-03-01") -> dict[str, Any]:
    return event("YearReopened", {}, date=date, year=year, **({"reference": reference} if reference else {}))


async def iv3_status(api: Api, token: str, year: int, **as_of: str) -> str:
    """'definitief' while the party read lists `year` closed (at `asOf`), else 'voorlopig'."""
    status, body = await api.get(token, "/v1/parties", party="GM0439", **as_of)
    assert status == 200, body
    return "definitief" if year in body["results"][0]["closedYears"] else "voorlopig"


async def test_a_reopened_year_takes_postings_until_it_is_closed_again(api: Api, gemeente: str) -> None:
    await close_2015(api, gemeente)
    admin, auditor = api.token("admin"), api.token("auditor")
    status, body = await api.get(auditor, "/v1/audit/verify")
    first = body["closedYears"][0]
    anchor = f"{first['position']}:{first['chainHash']}"
    assert await iv3_status(api, gemeente, 2015) == "definitief"
    await refused(api, admin, reopened(2016), (0, "year-not-closed"))
    await accepted(api, admin, reopened(2015))
    assert await iv3_status(api, gemeente, 2015) == "voorlopig"
    await accepted(api, gemeente, cost("participatiebudget", 200, date="2015-11-30"))
    assert (await line(api, gemeente, "participatiebudget", 2015))["spentCents"] == 500
    reopened_then = datetime.now(UTC).isoformat()
    await accepted(api, gemeente, year_closed(2015) | {"effectiveDate": "2016-03-31", "year": 2015})
    await refused(api, gemeente, cost("participatiebudget", 1, date="2015-11-30"), (0, "year-closed"))
    assert await iv3_status(api, gemeente, 2015) == "definitief"
    assert await iv3_status(api, gemeente, 2015, asOf=reopened_then) == "voorlopig"

    status, body = await api.get(auditor, "/v1/audit/verify", anchor=anchor)
    assert status == 200 and body["intact"] is True and body["anchors"][0]["matches"] is True, body
    closes = body["closedYears"]
    assert [(c["year"], c["figuresUnchanged"], c["reopenedAt"] is not None) for c in closes] == [
        (2015, True, True), (2015, True, False)]
    assert closes[0]["position"] == first["position"] and closes[1]["position"] > closes[0]["reopenedAt"]
    status, trail = await api.get(gemeente, "/v1/balances/GM0439/2015/participatiebudget/trail")
    kinds = [row["type"] for row in trail["results"]]
    assert kinds.count("YearClosed") == 2 and kinds.count("YearReopened") == 1, kinds
    assert kinds.index("YearReopened") < len(kinds) - 1 - kinds[::-1].index("YearClosed")

    done = cli(api.db_url, "verify", "--anchor", anchor)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"until reopened at position {closes[0]['reopenedAt']}" in done.stdout
    assert done.stdout.count("closed GM0439 2015") == 2


async def test_only_an_admin_reopens_and_names_the_decision(api: Api, gemeente: str) -> None:
    await close_2015(api, gemeente)
    status, body = await api.post(gemeente, reopened(2015))
    assert status == 403, body
    status, body = await api.post(api.token("admin"), reopened(2015, reference=None))
    assert status == 400 and [p["name"] for p in body["invalidParams"]] == ["reference"], body
    status, body = await api.post(api.token("admin"), reopened(2015, reference=""))
    assert status == 400 and [p["name"] for p in body["invalidParams"]] == ["reference"], body
    await refused(api, gemeente, cost("participatiebudget", 1, date="2015-11-30"), (0, "year-closed"))
