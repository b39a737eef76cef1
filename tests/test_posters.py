"""Named posters (issue 19, part 2): a CLI token may name the person who uses it
(`ledger token create --name`); every event it posts records that person in `postedBy`,
under the hash chain, and the trail, the events list and the export show it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson

from api.tokens import TokenStore
from projections.db import ReadDB
from tests.conftest import Api, event, register
from tests.procs_ledger import cli

PARTY = "GM0439"
PERSON = "Jan de Vries (team Werk & Inkomen)"


async def test_a_named_token_records_its_person_in_the_trail_the_events_list_and_the_export(api: Api, store: str) -> None:
    await register(api, api.token("admin"), PARTY)
    info, token = api.tokens.create("gemeente", PARTY, person=f"  {PERSON} ")
    assert info.person == PERSON
    allocation = event("BudgetAllocated", {"budget": "participatiebudget", "source": "rijk", "amountCents": 500_000})
    status, body = await api.post(token, {"events": [allocation]})
    assert status == 201, body
    expected = f"gemeente:{PARTY}:{info.token_id} ({PERSON})"

    status, trail = await api.get(token, f"/v1/balances/{PARTY}/2015/participatiebudget/trail")
    assert status == 200 and [r["postedBy"] for r in trail["results"]] == [expected]
    status, log = await api.get(token, "/v1/events", party=PARTY)
    assert status == 200 and log["results"][-1]["postedBy"] == expected
    r = await api.client.get("/v1/events", params={"party": PARTY},
                             headers={"Authorization": f"Bearer {token}", "Accept": "text/csv; dialect=nl"})
    assert r.status == 200 and PERSON in (await r.read()).decode("utf-8-sig")

    exported = [orjson.loads(line) for line in cli(store, "export").stdout.splitlines()]
    assert exported[-1]["postedBy"] == expected
    assert cli(store, "verify").stdout.startswith("intact")  # the chain covers the name


def test_token_create_names_the_person_and_token_list_shows_it(store: str) -> None:
    cli(store, "demo")  # the token's party is registered
    out = cli(store, "token", "create", "--role", "controller", "--party", PARTY, "--name", "Fatima el Amrani")
    assert "naming Fatima el Amrani" in out.stderr
    (listed,) = [orjson.loads(line) for line in cli(store, "token", "list").stdout.splitlines()]
    assert listed["name"] == "Fatima el Amrani" and listed["party"] == PARTY
    for bad in ("Jan\u0007Bel", "Jan\u202eseirV ed", " ", "x" * 201):
        refused = cli(store, "token", "create", "--role", "admin", "--name", bad, check=False)
        assert refused.returncode == 2 and "--name" in refused.stderr and not refused.stdout
    unnamed = cli(store, "token", "create", "--role", "auditor")
    assert "naming" not in unnamed.stderr


def test_a_token_table_from_before_names_gains_the_column_and_keeps_its_tokens(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE api_tokens (token_id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, "
                     "role TEXT NOT NULL, party TEXT, created_at TEXT NOT NULL, revoked_at TEXT, expires_at TEXT)")
    db = ReadDB(f"sqlite:///{path}")
    try:
        store = TokenStore(db)
        info, token = store.create("auditor", person="Auditor Noord")
        principal = store.authenticate(token)
        assert principal is not None and principal.person == "Auditor Noord"
        assert principal.name == f"auditor:{info.token_id} (Auditor Noord)"
    finally:
        db.close()
