"""The journal over HTTP: every event as balanced postings, a trial balance that is zero
at every position, and accounts that agree with the balances and reserves shown."""

from __future__ import annotations

from tests.conftest import Api
from tests.test_purmerend import EXPECTED, post_purmerend


async def test_the_trial_balance_is_zero_at_every_position(api: Api) -> None:
    gemeente = await post_purmerend(api)
    auditor = api.token("auditor")
    status, head = await api.get(auditor, "/v1/trial-balance")
    assert status == 200, head
    assert head["debitCents"] == head["creditCents"] > 0
    for position in range(0, head["position"] + 1):
        status, body = await api.get(auditor, "/v1/trial-balance", position=position)
        assert body["debitCents"] == body["creditCents"], position
    # The gemeente sees its own trial balance, per account.
    status, own = await api.get(gemeente, "/v1/trial-balance", party="GM0439")
    assert own["debitCents"] == own["creditCents"]
    assert sum(a["balanceCents"] for a in own["accounts"]) == 0


async def test_accounts_agree_with_the_balances_and_the_reserve(api: Api) -> None:
    gemeente = await post_purmerend(api)
    status, body = await api.get(gemeente, "/v1/trial-balance", party="GM0439")
    accounts = {a["account"]: a["balanceCents"] for a in body["accounts"]}
    for year, (_, _, saldo, reserve) in EXPECTED.items():
        # A budget line is credit-normal: its balance (debit - credit) is minus its saldo.
        assert accounts.get(f"budget/{year}/participatiebudget", 0) == -saldo * 100
    # 2018 closes at -22,616: the one line left with a debit balance.
    assert accounts["budget/2018/participatiebudget"] == 2_261_600
    assert accounts["reserve/participatie"] == 0  # empty at the end of 2018
    # Means: everything that came in less everything paid out, i.e. the 2018 deficit.
    assert accounts["middelen"] == -2_261_600


async def test_the_journal_lists_each_events_postings(api: Api) -> None:
    gemeente = await post_purmerend(api)
    status, body = await api.get(gemeente, "/v1/journal", party="GM0439", year=2018, pageSize=5)
    assert status == 200, body
    assert len(body["results"]) == 5 and body["next"]
    status, body = await api.get(gemeente, "/v1/journal", party="GM0439", year=2018, pageSize=1000)
    by_position: dict[int, list[int]] = {}
    for p in body["results"]:
        assert p["year"] == 2018 and (p["debitCents"] == 0) != (p["creditCents"] == 0)
        sums = by_position.setdefault(p["position"], [0, 0])
        sums[0] += p["debitCents"]
        sums[1] += p["creditCents"]
    assert by_position and all(d == c for d, c in by_position.values())
    # A cost of 2018 pays out of the means and lowers the line.
    r = await api.client.get("/v1/journal", params={"party": "GM0439", "year": 2018},
                             headers={"Authorization": f"Bearer {gemeente}", "Accept": "text/csv"})
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert "budget/2018/participatiebudget" in await r.text()
    status, body = await api.get(api.token("gemeente", "GM0001"), "/v1/journal", party="GM0439")
    assert status == 403


async def test_the_trail_traces_every_euro_of_a_budget_to_its_events(api: Api) -> None:
    gemeente = await post_purmerend(api)
    path = "/v1/balances/GM0439/2018/participatiebudget/trail"
    status, body = await api.get(gemeente, path, pageSize=1000)
    assert status == 200, body
    rows = body["results"]
    # 2018 (seed 002): one allocation, one reserve withdrawal, one algemene-middelen income
    # and eleven cost lines (projecten ended in 2014).
    assert [r["type"] for r in rows].count("CostBooked") == 11 and len(rows) == 14
    assert [r["position"] for r in rows] == sorted(r["position"] for r in rows)
    assert all(r["postedBy"].startswith("gemeente:") and r["recordedAt"] for r in rows)
    # The events add up to the figure shown: the saldo of -22,616 euro.
    assert sum(r["allocatedCents"] + r["incomeCents"] - r["spentCents"] for r in rows) == -2_261_600
    withdrawal = next(r for r in rows if r["type"] == "ReserveWithdrawn")
    assert withdrawal["incomeCents"] == 18_919_800
    # Known at the first event's recording, the trail held only what was posted by then.
    status, earlier = await api.get(gemeente, path, asOf=rows[0]["recordedAt"])
    assert [r["id"] for r in earlier["results"]] == [r["id"] for r in rows if r["recordedAt"] <= rows[0]["recordedAt"]]
    assert (await api.get(api.token("gemeente", "GM0001"), path))[0] == 403
    assert (await api.get(gemeente, "/v1/balances/GM0439/twenty/participatiebudget/trail"))[0] == 400
