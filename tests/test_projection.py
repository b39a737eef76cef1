"""The read model: exactly once, whatever happens, and a rebuild gives the same answers.

The property test posts random histories (allocations, income, costs, reallocations,
reserve movements, loonkostensubsidies, corrections; some refused by the rules) and
checks the live projection against an oracle summed independently from the accepted
events and against a rebuild from the log, and the journal against both: its trial
balance is zero and every account equals the figure shown for it.
"""

from __future__ import annotations

import tempfile
import threading
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import BatchRefused, Ledger
from ledger.events import parse_event
from projections import queries, runner
from projections.db import ReadDB
from projections.runner import Projector

PARTY = "GM0439"
BUDGETS = ("participatiebudget", "inkomensdeel")


def _event(kind: str, data: dict[str, Any], year: int = 2015) -> Any:
    return parse_event(
        {"id": str(uuid.uuid4()), "type": kind, "party": PARTY, "effectiveDate": f"{year}-06-30", "data": data}
    )


def _setup() -> list[Any]:
    events = [
        parse_event({"id": str(uuid.uuid4()), "type": "PartyRegistered", "party": PARTY,
                     "effectiveDate": "2014-01-01", "data": {"name": "Purmerend", "kind": "gemeente"}}),
        _event("ReserveEstablished", {"reserve": "r", "openingBalanceCents": 50_000, "purpose": "test"}, 2014),
    ]
    for year in (2015, 2016):
        events += [_event("BudgetAllocated", {"budget": b, "source": "rijk", "amountCents": 1}, year) for b in BUDGETS]
    return events


amounts = st.integers(min_value=1, max_value=100_000)
years = st.sampled_from([2015, 2016])
budgets = st.sampled_from(BUDGETS)
subs = st.sampled_from([None, "wsw"])
steps = st.one_of(
    st.tuples(st.just("BudgetAllocated"), budgets, subs, amounts, years),
    st.tuples(st.just("IncomeBooked"), budgets, subs, amounts, years),
    st.tuples(st.just("CostBooked"), budgets, subs, amounts, years),
    st.tuples(st.just("ReserveAdded"), budgets, subs, amounts, years),
    st.tuples(st.just("ReserveWithdrawn"), budgets, subs, amounts, years),
    st.tuples(st.just("FundsReallocated"), budgets, amounts, years),
    st.tuples(st.just("SubsidyGranted"), st.integers(0, 2), st.integers(0, 100), amounts, years, st.booleans()),
    st.tuples(st.just("SubsidyPaid"), st.integers(0, 2), amounts, years),
    st.tuples(st.just("LoonwaardeMeasured"), st.integers(0, 2), st.integers(0, 100), years),
    st.tuples(st.just("SubsidyEnded"), st.integers(0, 2), years),
    st.tuples(st.just("Correction"), st.integers(min_value=0, max_value=50)),
)


def _step_event(step: tuple[Any, ...], accepted: list[Any]) -> Any:
    if step[0] == "Correction":
        if not accepted:
            return None
        target = accepted[step[1] % len(accepted)]
        return _event("Correction", {"corrects": target.id, "reason": "test"}, target.year)
    if step[0] == "SubsidyGranted":
        return _SUBSIDY_STEPS[step[0]](*step[1:])
    if step[0] in _SUBSIDY_STEPS:  # acts on a subsidy granted before, so it is not refused as unknown
        granted = [e.data["subsidyId"] for e in accepted if e.type == "SubsidyGranted"]
        if not granted:
            return None
        return _SUBSIDY_STEPS[step[0]](granted[step[1] % len(granted)], *step[2:])
    if step[0] == "FundsReallocated":
        _, budget, amount, year = step
        data = {"fromBudget": budget, "fromSubBudget": "wsw", "toBudget": budget, "amountCents": amount}
        return _event("FundsReallocated", data, year)
    kind, budget, sub, amount, year = step
    data = {"budget": budget, "amountCents": amount}
    if sub:
        data["subBudget"] = sub
    if kind in ("BudgetAllocated", "IncomeBooked"):
        data["source"] = "rijk"
    elif kind == "CostBooked":
        data["category"] = "uitvoering"
    else:
        data["reserve"] = "r"
    return _event(kind, data, year)


_SUBSIDY_STEPS = {
    "SubsidyGranted": lambda n, lw, wml, year, ends: _event("SubsidyGranted", {
        "subsidyId": f"lks-{n}", "clientRef": f"client-{n}", "instrument": "loonkostensubsidie",
        "loonwaardePct": lw, "wmlMonthlyCents": wml, "startDate": f"{year}-03-01",
        **({"endDate": f"{year + 1}-02-28"} if ends else {})}, year),
    "SubsidyPaid": lambda sid, amount, year: _event("SubsidyPaid", {"subsidyId": sid, "amountCents": amount}, year),
    "LoonwaardeMeasured": lambda sid, lw, year: _event("LoonwaardeMeasured", {"subsidyId": sid, "loonwaardePct": lw}, year),
    "SubsidyEnded": lambda sid, year: _event("SubsidyEnded", {"subsidyId": sid}, year),
}


def _check_journal(db: ReadDB) -> None:
    """Debits equal credits, and each account holds what the balances and reserves show."""
    trial = queries.trial_balance(db, parties=[PARTY])
    assert trial["debitCents"] == trial["creditCents"]
    accounts = {a["account"]: a["balanceCents"] for a in trial["accounts"]}
    committed: dict[str, int] = {}
    for row in queries.balances(db, parties=None):
        if row["subBudget"] is None:
            key = f"{row['year']}/{row['budget']}"
            committed[key] = committed.get(key, 0) + row["committedCents"]
            continue
        assert row["committedCents"] >= 0
    lines: dict[str, int] = {}
    for row in queries.balances(db, parties=None):
        if row["subBudget"] is None:
            continue
        lines[f"budget/{row['year']}/{row['budget']}/{row['subBudget']}"] = row["saldoCents"]
    for account, balance in accounts.items():
        if account.startswith("budget/") and account.count("/") == 3:
            assert balance == -lines[account], account
        if account.startswith("vastgelegd/"):
            assert balance == committed[account.removeprefix("vastgelegd/")], account
    for reserve in queries.reserves(db, parties=None):
        assert accounts.get(f"reserve/{reserve['reserve']}", 0) == -reserve["balanceCents"]


def _oracle(ledger: Ledger) -> dict[tuple[int, str], list[int]]:
    """Balances per (year, budget) summed straight from the stored events' content."""
    from ledger.effects import effects_of

    sums: dict[tuple[int, str], list[int]] = {}
    for e in ledger.log(after=0, limit=10**6):
        for d in effects_of(e.entry, e.derived).lines:
            row = sums.setdefault((d.year, d.budget), [0, 0, 0])
            row[0] += d.allocated
            row[1] += d.income
            row[2] += d.spent
    return sums


def _reads(db: ReadDB) -> tuple[Any, ...]:
    return (
        queries.balances(db, parties=None),
        queries.reserves(db, parties=None),
        queries.reserves(db, parties=None, year=2015),
        queries.events(db, parties=None, limit=1000),
        queries.trial_balance(db, parties=[PARTY]),
        queries.kpis(db, PARTY, 2015),
    )


def _open(url: str) -> tuple[Ledger, ReadDB, Projector]:
    ledger = Ledger(url)
    db = ReadDB(url)
    return ledger, db, Projector(ledger, db, batch_size=7)  # small batches: many tracking steps


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(steps, min_size=1, max_size=30))
def test_live_projection_equals_oracle_and_rebuild(history: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ledger, db, projector = _open(f"sqlite:///{tmp}/ledger.db")
        ledger.post(_setup(), "admin:test")
        accepted: list[Any] = []
        for step in history:
            e = _step_event(step, accepted)
            if e is None:
                continue
            try:
                ledger.post([e], "gemeente:test")
                accepted.append(e)
            except BatchRefused:
                pass  # refused by a rule: must leave no trace
            projector.catch_up()
        projector.catch_up()
        live = _reads(db)
        balances = {(r["year"], r["budget"]): r for r in live[0] if r["subBudget"] is None}
        oracle = _oracle(ledger)
        assert set(balances) == set(oracle)
        for key, (allocated, income, spent) in oracle.items():
            row = balances[key]
            assert (row["allocatedCents"], row["incomeCents"], row["spentCents"]) == (allocated, income, spent)
        assert all(r["balanceCents"] >= 0 for r in live[1])
        _check_journal(db)
        assert projector.rebuild() == ledger.head()
        assert _reads(db) == live
        db.close()
        ledger.close()


def _post_years(ledger: Ledger, n: int) -> None:
    ledger.post(_setup(), "admin:test")
    ledger.post(
        [_event("CostBooked", {"budget": "participatiebudget", "category": "scholing", "amountCents": i + 1})
         for i in range(n)],
        "gemeente:test",
    )


def test_racing_projectors_apply_each_event_once(store: str) -> None:
    ledger, db, _ = _open(store)
    _post_years(ledger, 200)
    projectors = [Projector(Ledger(store), ReadDB(store), batch_size=5) for _ in range(3)]
    threads = [threading.Thread(target=p.catch_up) for p in projectors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (row,) = [r for r in queries.balances(db, parties=None, year=2015) if r["budget"] == "participatiebudget"]
    assert row["spentCents"] == sum(range(1, 201))
    assert queries.events(db, parties=None, limit=1)[1] == ledger.head()


def test_a_crash_mid_batch_leaves_nothing_half_applied(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger, db, projector = _open(store)
    _post_years(ledger, 20)
    real_apply = runner.apply_events
    calls = {"n": 0}

    def crash_on_third_batch(cur: Any, events: Any) -> None:
        calls["n"] += 1
        real_apply(cur, events)  # rows written, then the process "dies" before commit
        if calls["n"] == 3:
            raise RuntimeError("projector killed")

    monkeypatch.setattr(runner, "apply_events", crash_on_third_batch)
    with pytest.raises(RuntimeError):
        projector.catch_up()
    assert projector.position() == 14  # two batches of 7 committed, the third rolled back
    projector.catch_up()
    (row,) = [r for r in queries.balances(db, parties=None, year=2015) if r["budget"] == "participatiebudget"]
    assert row["spentCents"] == sum(range(1, 21))
    assert projector.position() == ledger.head()
