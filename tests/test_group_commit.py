"""Group commit (`Ledger.post_group`, used by the API's writer thread): posts queued
together answer exactly as posting them one by one in the same order would, each
still all or nothing, whatever mix of accepted, refused, reused and repeated posts
the group holds; and concurrent single-event POSTs over HTTP all get their own
answer."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.logs import REQUEST_ID
from ledger.application import BatchRefused, IdReused, Ledger, Post, PostResult
from ledger.book import Book
from ledger.events import Event, parse_event
from tests.conftest import Api, event, register

PARTY = "GM0439"


def _event(kind: str, data: dict[str, Any], event_id: str | None = None, date: str = "2015-06-30") -> Event:
    return parse_event({"id": event_id or str(uuid.uuid4()), "type": kind, "party": PARTY, "effectiveDate": date,
                        "data": data})


SETUP = [
    _event("PartyRegistered", {"name": "Purmerend", "kind": "gemeente"}, date="2014-01-01"),
    _event("ReserveEstablished", {"reserve": "r", "openingBalanceCents": 1_000, "purpose": "test"}, date="2014-01-01"),
    _event("BudgetAllocated", {"budget": "participatiebudget", "source": "rijk", "amountCents": 100}),
]


def _setup(ledger: Ledger) -> None:
    ledger.post(SETUP, "admin:test")


def _answer(outcome: PostResult | Exception) -> Any:
    """What the API would answer: positions and created, or the error and its indexes."""
    if isinstance(outcome, PostResult):
        return ("stored" if outcome.created else "again", [(a.id, a.position) for a in outcome.results])
    if isinstance(outcome, BatchRefused):
        return ("refused", [(i, v.rule) for i, v in outcome.violations])
    if isinstance(outcome, IdReused):
        return ("reused", outcome.indexes)
    return (type(outcome).__name__, str(outcome))


# A post: withdrawals from the reserve of 1,000 (so some are refused: below zero), or
# the ids of an earlier post again (a retry: same content) or with other content.
withdrawal = st.integers(1, 600)
posts = st.lists(
    st.one_of(
        st.tuples(st.just("new"), st.lists(withdrawal, min_size=1, max_size=3)),
        st.tuples(st.just("again"), st.integers(0, 20)),
        st.tuples(st.just("reuse"), st.integers(0, 20)),
    ),
    min_size=1,
    max_size=8,
)


def _build(plan: list[tuple[str, Any]]) -> list[Post]:
    built: list[Post] = []
    for kind, arg in plan:
        if kind == "new" or not built:
            amounts = arg if kind == "new" else [1]
            events = [_event("ReserveWithdrawn", {"reserve": "r", "budget": "participatiebudget", "amountCents": a})
                      for a in amounts]
        else:
            earlier = built[arg % len(built)].events
            events = earlier if kind == "again" else [
                _event("ReserveWithdrawn", {"reserve": "r", "budget": "participatiebudget", "amountCents": 999},
                       event_id=e.id) for e in earlier]
        built.append(Post(events, "gemeente:test"))
    return built


def _alone(ledger: Ledger, post: Post) -> Any:
    """What posting `post` on its own answers: its result or its error."""
    try:
        return ledger.post(post.events, post.posted_by, dry_run=post.dry_run)
    except Exception as e:  # noqa: BLE001 - compared with the group's answer for the post
        return e


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=posts)
def test_a_group_answers_as_posting_one_by_one_would(tmp_path_factory: pytest.TempPathFactory, plan: list[Any]) -> None:
    folder = tmp_path_factory.mktemp("group")
    grouped, one_by_one = Ledger(f"sqlite:///{folder}/grouped.db"), Ledger(f"sqlite:///{folder}/single.db")
    try:
        for ledger in (grouped, one_by_one):
            _setup(ledger)
        group = _build(plan)
        expected = [_answer(_alone(one_by_one, p)) for p in group]
        assert [_answer(o) for o in grouped.post_group(group)] == expected
        assert [(e.position, e.entry, e.posted_by) for e in grouped.log()] == \
               [(e.position, e.entry, e.posted_by) for e in one_by_one.log()]
    finally:
        grouped.close()
        one_by_one.close()


def test_a_group_of_accepted_posts_is_one_transaction(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path}/ledger.db")
    _setup(ledger)
    group = _build([("new", [100]), ("new", [200, 300])])
    inserts = []
    put = ledger.events.put
    ledger.events.put = lambda events, **kw: inserts.append(len(events)) or put(events, **kw)  # type: ignore[method-assign]
    answers = [_answer(o) for o in ledger.post_group(group)]
    assert inserts == [3]
    assert [a[0] for a in answers] == ["stored", "stored"]
    assert [p for a in answers for _, p in a[1]] == [4, 5, 6]
    ledger.close()


async def test_concurrent_single_event_posts_each_get_their_own_answer(api: Api, gemeente: str) -> None:
    admin = api.token("admin")
    await register(api, admin, "GM0363")
    other = api.token("gemeente", "GM0363")
    allocation = {"budget": "participatiebudget", "source": "rijk", "amountCents": 10_000}
    setup = {"events": [event("BudgetAllocated", allocation, party=p) for p in ("GM0439", "GM0363")]}
    assert (await api.post(admin, setup))[0] == 201
    cost = {"budget": "participatiebudget", "category": "re-integratie", "amountCents": 1}
    good = [(gemeente, event("CostBooked", cost)) for _ in range(20)] + \
           [(other, event("CostBooked", cost, party="GM0363")) for _ in range(20)]
    bad = [(gemeente, event("CostBooked", {**cost, "budget": "no-such-budget"})) for _ in range(5)]
    wrong_party = [(gemeente, event("CostBooked", cost, party="GM0363"))]
    sent = good + bad + wrong_party
    answers = await asyncio.gather(*(api.post(token, body) for token, body in sent))
    assert [s for s, _ in answers] == [201] * len(good) + [422] * len(bad) + [403]
    positions = [body["events"][0]["position"] for _, body in answers[: len(good)]]
    assert len(set(positions)) == len(good)
    again = await asyncio.gather(*(api.post(token, body) for token, body in good))
    assert [(s, b["events"][0]["position"]) for s, b in again] == [(200, p) for p in positions]


def _failing_on(reference: str) -> Any:
    """Book.decide, failing with an error no rule foresaw for an event with `reference`."""
    decide = Book.decide

    def failing(self: Book, entry: dict[str, Any], ctx: Any) -> dict[str, Any]:
        if entry.get("reference") == reference:
            raise RuntimeError("an error no rule foresaw")
        return decide(self, entry, ctx)

    return failing


def test_an_unexpected_error_of_one_post_fails_that_post_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The defect: a grant dated 9999-12-31 failed inside the ledger and made eight valid
    posts grouped beside it fail too."""
    ledger = Ledger(f"sqlite:///{tmp_path}/ledger.db")
    _setup(ledger)
    monkeypatch.setattr(Book, "decide", _failing_on("boom"))
    good = _build([("new", [10])] * 8)
    bad = Post([parse_event({**_event("ReserveWithdrawn", {"reserve": "r", "budget": "participatiebudget",
                                                          "amountCents": 1}).entry, "reference": "boom"})], "gemeente:test")
    outcomes = ledger.post_group([*good[:4], bad, *good[4:]])
    assert [type(o).__name__ for o in outcomes] == ["PostResult"] * 4 + ["RuntimeError"] + ["PostResult"] * 4
    assert [e.position for e in ledger.log()] == list(range(1, len(SETUP) + 9))
    ledger.close()


class _ErrorsByRequest(logging.Handler):
    """The request id (api/logs.py) of every error logged."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.ids: list[str | None] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.ids.append(REQUEST_ID.get())


async def test_over_http_the_failing_post_is_a_500_and_the_others_are_posted(
    api: Api, gemeente: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = api.token("admin")
    await register(api, admin, "GM0363")
    other = api.token("gemeente", "GM0363")
    setup = {"events": [event("BudgetAllocated", {"budget": "participatiebudget", "source": "rijk", "amountCents": 100},
                              party=p) for p in ("GM0439", "GM0363")]}
    assert (await api.post(admin, setup))[0] == 201
    monkeypatch.setattr(Book, "decide", _failing_on("boom"))
    cost = {"budget": "participatiebudget", "category": "re-integratie", "amountCents": 1}
    sent = [(gemeente, event("CostBooked", cost, reference="boom"), "boom-1")] + \
           [(other, event("CostBooked", cost, party="GM0363"), f"good-{i}") for i in range(8)]

    async def post(token: str, body: Any, request_id: str) -> int:
        r = await api.client.post("/v1/events", json=body,
                                  headers={"Authorization": f"Bearer {token}", "X-Request-ID": request_id})
        return r.status

    errors = _ErrorsByRequest()
    logging.getLogger().addHandler(errors)
    try:
        assert await asyncio.gather(*(post(*s) for s in sent)) == [500] + [201] * 8
    finally:
        logging.getLogger().removeHandler(errors)
    assert errors.ids == ["boom-1"]
