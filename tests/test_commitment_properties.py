"""Properties of commitments under any sequence of registrations, costs against them,
releases and corrections (hypothesis), on the application and its read model: no
commitment is ever used or released beyond what was registered, the line's
`committedCents` is the sum of what is open, the journal balances, and a rebuild reads
exactly what the live projection shows."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import BatchRefused, Ledger
from ledger.events import parse_event
from projections import queries
from projections.db import ReadDB
from projections.runner import Projector

PARTY, PB = "GM0439", "participatiebudget"
IDS = ["c1", "c2", "c3"]


def _event(kind: str, data: dict[str, Any], date: str = "2015-06-30") -> Any:
    return parse_event({"id": str(uuid.uuid4()), "type": kind, "party": PARTY, "effectiveDate": date, "data": data})


step = st.one_of(
    st.tuples(st.just("register"), st.sampled_from(IDS), st.integers(1, 5_000)),
    st.tuples(st.just("cost"), st.sampled_from([*IDS, None]), st.integers(1, 5_000)),
    st.tuples(st.just("release"), st.sampled_from(IDS), st.none() | st.integers(1, 5_000)),
    st.tuples(st.just("correct"), st.integers(0, 20), st.none() | st.integers(1, 3_000)),
)


def _post(ledger: Ledger, step: tuple[Any, ...], costs: list[str]) -> None:
    kind, which, cents = step
    if kind == "register":
        e = _event("CommitmentRegistered", {"commitmentId": which, "budget": PB, "category": "jobcoach", "amountCents": cents})
    elif kind == "cost":
        e = _event("CostBooked", {"budget": PB, "category": "jobcoach", "amountCents": cents}
                   | ({"commitmentId": which} if which else {}))
    elif kind == "release":
        e = _event("CommitmentReleased", {"commitmentId": which} | ({"amountCents": cents} if cents else {}))
    elif costs:
        corrects = costs[which % len(costs)]
        e = _event("Correction", {"corrects": corrects, "reason": "onjuist"} | ({"amountCents": cents} if cents else {}),
                   date="2015-09-30")
    else:
        return
    try:
        ledger.post([e], "gemeente:test")
    except BatchRefused:
        return
    if kind == "cost":
        costs.append(e.id)


def _reads(db: ReadDB) -> Any:
    return (
        queries.balances(db, parties=None, year=2015),
        queries.commitments(db, parties=None),
        queries.trial_balance(db, parties=[PARTY]),
        queries.journal(db, party=PARTY, year=2015),
    )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.integers(1, 5_000), steps=st.lists(step, min_size=1, max_size=14))
def test_commitments_stay_within_what_was_registered(
    tmp_path_factory: Any, first: int, steps: list[tuple[Any, ...]]
) -> None:
    url = f"sqlite:///{tmp_path_factory.mktemp('commitments')}/ledger.db"
    ledger, db = Ledger(url), ReadDB(url)
    try:
        projector = Projector(ledger, db)
        ledger.post([_event("PartyRegistered", {"name": "Purmerend", "kind": "gemeente"}, "2014-01-01"),
                     _event("BudgetAllocated", {"budget": PB, "source": "rijk", "amountCents": 100_000})], "admin:test")
        costs: list[str] = []
        for s in [("register", "c1", first), *steps]:
            _post(ledger, s, costs)
        projector.catch_up()
        listed = queries.commitments(db, parties=None)
        for c in listed:
            assert 0 <= c["usedCents"] + c["releasedCents"] <= c["registeredCents"], c
            assert c["openCents"] == c["registeredCents"] - c["usedCents"] - c["releasedCents"] >= 0, c
        (total,) = [r for r in queries.balances(db, parties=None, year=2015) if r["subBudget"] is None]
        assert total["committedCents"] == sum(c["openCents"] for c in listed)
        balance = queries.trial_balance(db, parties=[PARTY])
        assert balance["debitCents"] == balance["creditCents"]
        live = _reads(db)
        projector.rebuild()
        assert _reads(db) == live
    finally:
        db.close()
        ledger.close()
