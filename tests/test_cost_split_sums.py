"""A cost split from the kept sums is the item-by-item split, in every field (issue 16).

Current cost splits are read from the sums the projector keeps
(projections/charge_sums.py); as-of reads still split the charges recorded by then, one
by one, with `split.split`. An as-of instant after every event therefore reads the same
charges the old way, and each answer (or the refusal for want of a key) must be the
same: the total, every share with its weight and cents, the units.

The property test posts random histories of a shared organisation to a real ledger
(keys of both policies, weights that weigh nobody, a year without a key, members
leaving and joining, charges with and without usage, usages that weigh nobody, zero
results, corrections), lets the projector follow in batches of a random size, and
compares both reads of every year under both policies and the key's own; then it
rebuilds the read model and requires the kept rows and the answers to be the same.
The HTTP test does the same through the API, on SQLite and PostgreSQL, for a year of
many charges with usages drawn like the benchmark's (one decimal, per member).
"""

from __future__ import annotations

import random
import tempfile
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ledger import split
from ledger.application import BatchRefused, Ledger, rfc3339
from ledger.events import parse_event
from projections import queries
from projections.db import ReadDB
from projections.runner import Projector
from tests.conftest import Api, event, register

ORG = "GR-SUMS"
MEMBERS = ("GM0001", "GM0002", "GM0003")
JOINER = "GM0004"
YEARS = (2015, 2016)
AFTER_ALL = rfc3339(datetime.max.replace(tzinfo=UTC))
POLICIES = (None, *split.POLICIES)


def answer(db: ReadDB, year: int, policy: str | None, as_of: str | None = None) -> Any:
    try:
        return queries.cost_split(db, ORG, year, policy, as_of)
    except split.NoKey as e:
        return ("no key", str(e))


def kept_rows(db: ReadDB) -> tuple[list[Any], ...]:
    with db.transaction() as cur:
        return tuple(
            [tuple(row) for row in cur.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()]
            for table in ("organisation_charge_sums", "organisation_profijt_shares")
        )


# --- random histories ---------------------------------------------------------------------

parties = st.sampled_from((*MEMBERS, *MEMBERS, JOINER))  # the joiner is a member only once it joined
weight = st.one_of(st.integers(0, 5), st.integers(0, 99).map(lambda n: n / 10))
weights = st.dictionaries(parties, weight, min_size=1, max_size=4)
usages = st.one_of(st.none(), st.just({}), weights, st.dictionaries(parties, st.just(0), min_size=1, max_size=2))
days = st.tuples(st.sampled_from(YEARS), st.integers(1, 12), st.integers(1, 28)).map(lambda d: "%d-%02d-%02d" % d)
key = st.tuples(st.just("key"), st.sampled_from(YEARS), st.sampled_from(split.POLICIES), weights)
cost = st.tuples(st.just("cost"), days, st.sampled_from("abc"), st.integers(1, 10**6), usages)
result = st.tuples(st.just("result"), days, st.sampled_from("abc"), st.integers(-(10**6), 10**6) | st.just(0), usages)
by_kind = {
    "key": key,
    "charge": st.one_of(cost, result),
    "correct": st.tuples(st.just("correct"), st.integers(0, 100), days),
    "member": st.tuples(st.just("member"), parties, st.sampled_from(("joined", "left")), days),
}
steps = st.sampled_from(["key", "charge", "charge", "charge", "charge", "charge", "correct", "member"]).flatmap(by_kind.get)
histories = st.tuples(st.lists(key, max_size=2), st.lists(steps, min_size=10, max_size=60)).map(lambda h: h[0] + h[1])


def _event(kind: str, data: dict[str, Any], date: str, party: str = ORG) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "type": kind, "party": party, "effectiveDate": date, "data": data}


def _setup() -> list[dict[str, Any]]:
    registered = [_event("PartyRegistered", {"name": p, "kind": "gemeente"}, "2014-01-01", p) for p in (*MEMBERS, JOINER)]
    return [*registered, _event("OrganisationRegistered", {"name": ORG, "members": list(MEMBERS)}, "2015-01-01")]


def _step_event(step: tuple[Any, ...], charges: list[dict[str, Any]]) -> dict[str, Any] | None:
    kind = step[0]
    if kind == "key":
        _, year, policy, w = step
        return _event("AllocationKeySet", {"basis": "vast", "weights": w, "policy": policy}, f"{year}-01-01")
    if kind in ("cost", "result"):
        _, date, unit, cents, usage = step
        data: dict[str, Any] = {"unit": unit, "amountCents": cents}
        if usage is not None:
            data["usage"] = usage
        return _event("OrganisationCostBooked" if kind == "cost" else "OrganisationResultDetermined", data, date)
    if kind == "correct":
        if not charges:
            return None
        return _event("Correction", {"corrects": charges[step[1] % len(charges)]["id"], "reason": "test"}, step[2])
    _, member, change, date = step
    return _event("MembershipChanged", {"member": member, "change": change}, date)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories, st.integers(1, 9), st.lists(st.booleans(), min_size=62, max_size=62))
# a member named in a usage with nothing: listed, with nothing
@example([("key", 2015, "profijt", {"GM0001": 2}), ("cost", "2015-03-03", "a", 100, {"GM0001": 1, "GM0002": 0})], 1, [True] * 62)
# a cost and its correction, and no key: a forced split still asks for one
@example([("cost", "2015-03-03", "a", 100, None), ("correct", 0, "2015-04-01")], 1, [True] * 62)
def test_kept_sums_answer_as_the_item_by_item_split(history: list[tuple[Any, ...]], batch: int, follow: list[bool]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/ledger.db"
        ledger, db = Ledger(url), ReadDB(url)
        projector = Projector(ledger, db, batch_size=batch)
        try:
            ledger.post([parse_event(e) for e in _setup()], "admin:test")
            charges: list[dict[str, Any]] = []
            for step, now in zip(history, follow):
                e = _step_event(step, charges)
                if e is None:
                    continue
                try:
                    ledger.post([parse_event(e)], "organisation:test")
                except BatchRefused:
                    continue
                if e["type"].startswith("Organisation"):
                    charges.append(e)
                if now:  # otherwise the next batches hold several charges at once
                    projector.catch_up()
            projector.catch_up()
            reads = {(y, p): answer(db, y, p) for y in YEARS for p in POLICIES}
            for (year, policy), current in reads.items():
                assert current == answer(db, year, policy, AFTER_ALL), (year, policy)
            kept = kept_rows(db)
            projector.rebuild()
            assert kept_rows(db) == kept
            assert {(y, p): answer(db, y, p) for y in YEARS for p in POLICIES} == reads
        finally:
            db.close()
            ledger.close()


# --- through the API ------------------------------------------------------------------------


def _usage(rng: random.Random, members: list[str]) -> dict[str, float]:
    return {m: round(rng.uniform(0.5, 60), 1) for m in members}


@pytest.mark.parametrize("seed", [1, 2])
async def test_the_api_answers_from_the_kept_sums_as_from_the_charges(api: Api, seed: int) -> None:
    rng = random.Random(seed)
    admin = api.token("admin")
    await register(api, admin, *MEMBERS, JOINER)
    status, body = await api.post(admin, event("OrganisationRegistered", {"name": ORG, "members": list(MEMBERS)},
                                               party=ORG, date="2015-01-01"))
    assert status == 201, body
    org = api.token("organisation", ORG)
    members = list(MEMBERS)
    events = [event("AllocationKeySet", {"basis": "inwoners", "weights": {m: rng.randint(1, 90_000) for m in members},
                                         "policy": "profijt"}, party=ORG, date="2015-01-01")]
    for month in range(1, 13):
        if month == 7:
            events.append(event("MembershipChanged", {"member": JOINER, "change": "joined"}, party=ORG, date="2015-07-01"))
            members.append(JOINER)
        for _ in range(12):
            data: dict[str, Any] = {"unit": rng.choice("abc"), "amountCents": rng.randint(1, 10**7)}
            if rng.random() < 0.8:
                data["usage"] = _usage(rng, members)
            events.append(event("OrganisationCostBooked", data, party=ORG, date=f"2015-{month:02d}-15"))
    events.append(event("OrganisationResultDetermined", {"unit": "a", "amountCents": -rng.randint(1, 10**8),
                                                         "usage": _usage(rng, members)}, party=ORG, date="2015-12-31"))
    # 2016 has charges but no key of its own (the 2015 one holds), one charge cancelled out
    events.append(event("OrganisationCostBooked", {"unit": "b", "amountCents": 777}, party=ORG, date="2016-03-01"))
    for start in range(0, len(events), 25):
        status, body = await api.post(org, {"events": events[start:start + 25]})
        assert status == 201, body
    status, body = await api.post(org, event("Correction", {"corrects": events[-1]["id"], "reason": "dubbel"},
                                             party=ORG, date="2016-03-02"))
    assert status == 201, body
    auditor = api.token("auditor")
    for year in (2014, *YEARS):
        for policy in POLICIES:
            params = {"year": year, **({"policy": policy} if policy else {})}
            current = await api.get(auditor, f"/v1/organisations/{ORG}/cost-split", **params)
            assert current == await api.get(auditor, f"/v1/organisations/{ORG}/cost-split", **params, asOf=AFTER_ALL)
            if year in YEARS:
                assert current[0] == 200, current
