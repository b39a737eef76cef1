"""A read request is one transaction (api/routes.py `read`): the token, the scope and the
query see one view of the database, and a revocation counts from the very next request."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from projections.db import NestedWrite, ReadDB
from tests.conftest import Api, event, register
from tests.procs_ledger import cli_async

ORG = "WERKBEDRIJF-WATERLAND"
MEMBER = "GM0439"


@pytest.fixture
async def world(api: Api) -> Api:
    """A gemeente in an organisation with a key, a charge, a budget and a reserve."""
    admin = api.token("admin")
    await register(api, admin, MEMBER)
    books = [
        event("OrganisationRegistered", {"name": "Werkbedrijf", "members": [MEMBER]}, party=ORG, date="2014-01-01"),
        event("BudgetAllocated", {"budget": "participatiebudget", "source": "rijk", "amountCents": 500_000}, date="2015-01-01"),
        event("ReserveEstablished", {"reserve": "participatie", "openingBalanceCents": 1000, "purpose": "reintegratie"}),
        event("AllocationKeySet", {"basis": "vast", "weights": {MEMBER: 1}, "policy": "solidariteit"}, party=ORG, date="2015-01-01"),
        event("OrganisationCostBooked", {"unit": "wsw", "amountCents": 10_000}, party=ORG),
    ]
    status, body = await api.post(admin, {"events": books})
    assert status == 201, body
    return api


READS = [
    ("/v1/balances", {"party": MEMBER, "year": "2015"}),
    ("/v1/reserves", {"party": MEMBER}),
    (f"/v1/organisations/{ORG}/cost-split", {"year": "2015", "policy": "solidariteit"}),
    (f"/v1/organisations/{ORG}/cost-split", {"year": "2015", "policy": "profijt"}),
    ("/v1/kpis", {"party": MEMBER, "year": "2015"}),
    ("/v1/winst", {"party": MEMBER, "year": "2015"}),
    (f"/v1/balances/{MEMBER}/2015/participatiebudget/trail", {}),
    ("/v1/iv3", {"party": MEMBER, "year": "2017"}),  # the first year with taakvelden
    ("/v1/events", {"party": MEMBER}),
    ("/v1/journal", {"party": MEMBER}),
    ("/v1/trial-balance", {"party": MEMBER}),
    ("/v1/parties", {}),
]


@contextmanager
def outermost_transactions(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The threads of the read pool that opened a transaction of their own, one entry each."""
    opened: list[str] = []
    original = ReadDB._outermost

    def counted(self: ReadDB, write: bool) -> Any:
        if threading.current_thread().name.startswith("read"):
            opened.append(threading.current_thread().name)
        return original(self, write)

    monkeypatch.setattr(ReadDB, "_outermost", counted)
    yield opened


@pytest.mark.parametrize(("path", "params"), READS, ids=[f"{p} {q.get('policy', '')}".strip() for p, q in READS])
async def test_a_read_is_one_transaction(world: Api, monkeypatch: pytest.MonkeyPatch, path: str, params: dict[str, str]) -> None:
    token = world.token("controller", MEMBER)
    with outermost_transactions(monkeypatch) as opened:
        status, body = await world.get(token, path, **params)
    assert status == 200, body
    assert len(opened) == 1, opened


async def test_a_token_revoked_by_another_process_is_refused_on_the_very_next_request(world: Api) -> None:
    info, token = world.tokens.create("controller", MEMBER)
    assert (await world.get(token, "/v1/balances", party=MEMBER))[0] == 200
    returncode, _, err = await cli_async(world.db_url, "token", "revoke", info.token_id)
    assert returncode == 0, err
    status, problem = await world.get(token, "/v1/balances", party=MEMBER)
    assert status == 401 and "revoked" in problem["detail"], problem


def test_a_write_transaction_inside_a_read_one_is_refused(store: str) -> None:
    db = ReadDB(store)
    try:
        with db.transaction() as outer:
            with pytest.raises(NestedWrite), db.transaction(write=True):
                pass
            with db.transaction() as inner:
                assert inner is outer  # a nested read joins the open transaction
        with db.transaction(write=True) as cur:  # the refusal left nothing open
            cur.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
            with db.transaction() as inner:
                assert inner is cur
    finally:
        db.close()


def test_a_failed_nested_block_rolls_back_the_whole_transaction(store: str) -> None:
    db = ReadDB(store)
    try:
        with db.transaction(write=True) as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        with pytest.raises(ZeroDivisionError), db.transaction(write=True) as cur:
            cur.execute("INSERT INTO t (x) VALUES (1)")
            with db.transaction():
                _ = 1 / 0
        with db.transaction() as cur:
            assert cur.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)
    finally:
        db.close()
