"""Erasure of a client by key (issue 19, part 3): the ledger stores a keyed pseudonym
of every clientRef, never the clientRef; `ledger erase-client` destroys the key, and
then nothing links the client to its events while every figure and the hash chain stay
as they were. Through the HTTP API and the `ledger` command, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from api import state
from ledger.application import Ledger
from ledger.events import InvalidEvent, parse_event
from ledger.privacy import bsn_like_fields
from ledger.pseudonyms import Keys, clients, key_id, new_key, pseudonym, with_keys
from tests.conftest import Api, assert_problem, event
from tests.procs_ledger import cli

PARTY = "GM0439"
CLIENT = "client-4711"
PSEUDONYM = re.compile(r"ps_[a-p]{32}")


def grant(client: str, subsidy: str = "LKS-1") -> dict[str, Any]:
    return event("SubsidyGranted", {"subsidyId": subsidy, "clientRef": client, "instrument": "loonkostensubsidie",
                                    "loonwaardePct": 50, "wmlMonthlyCents": 200_000, "startDate": "2015-07-01",
                                    "endDate": "2015-12-31"}, date="2015-07-01")


def placement(client: str, n: int) -> dict[str, Any]:
    return event("PlacementStarted", {"placementId": f"PL-{n}", "clientRef": client, "kind": "detachering",
                                      "hoursPerWeek": 20}, date="2015-07-01")


async def _setup(api: Api) -> tuple[str, str]:
    admin = api.token("admin")
    status, body = await api.post(admin, {"events": [
        event("PartyRegistered", {"name": "Purmerend", "kind": "gemeente"}, party=PARTY, date="2014-01-01"),
        event("BudgetAllocated", {"budget": "inkomensdeel", "source": "rijk", "amountCents": 10_000_000}),
    ]})
    assert status == 201, body
    return admin, api.token("gemeente", PARTY)


async def _client_events(api: Api, token: str, client: str, party: str = PARTY) -> list[dict[str, Any]]:
    status, body = await api.get(token, "/v1/events", party=party, clientRef=client)
    assert status == 200, body
    return body["results"]


def _stored_text(store: str) -> bytes:
    """Every byte the database holds of the events, receipts, read model and keys."""
    if store.startswith("sqlite"):
        path = Path(store.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    with psycopg.connect(store) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return b"".join(
            str(row).encode() for t in tables for row in conn.execute(f'SELECT * FROM "{t}"').fetchall()
        )


async def test_a_client_ref_is_stored_only_as_its_pseudonym_and_read_back_by_it(api: Api, store: str) -> None:
    admin, gemeente = await _setup(api)
    posted = [grant(CLIENT), placement(CLIENT, 1), placement("client-other", 2)]
    status, body = await api.post(gemeente, {"events": posted})
    assert status == 201, body
    status, retry = await api.post(gemeente, {"events": posted})  # a retry hashes as before: no 409
    assert status == 200 and retry["events"] == body["events"]

    mine = await _client_events(api, gemeente, CLIENT)
    assert [e["id"] for e in mine] == [posted[0]["id"], posted[1]["id"]]
    refs = {e["data"]["clientRef"] for e in mine}
    assert len(refs) == 1 and PSEUDONYM.fullmatch(refs.pop() or "")
    (other,) = await _client_events(api, gemeente, "client-other")
    assert other["data"]["clientRef"] != mine[0]["data"]["clientRef"]
    assert await _client_events(api, gemeente, "never-posted") == []
    assert CLIENT.encode() not in _stored_text(store) and b"client-other" not in _stored_text(store)

    status, body = await api.get(gemeente, "/v1/events", clientRef=CLIENT)
    assert_problem(status, "application/problem+json", body, 400)
    assert "party" in body["detail"] or "party" in str(body.get("invalidParams"))
    status, body = await api.get(gemeente, "/v1/events", party=PARTY, clientRef="bad ref\u0001")
    assert_problem(status, "application/problem+json", body, 400)
    status, body = await api.get(api.token("gemeente", "GM0363"), "/v1/events", party=PARTY, clientRef=CLIENT)
    assert status == 403


async def test_the_same_client_of_two_parties_has_two_pseudonyms(api: Api) -> None:
    admin, gemeente = await _setup(api)
    status, body = await api.post(admin, {"events": [
        event("PartyRegistered", {"name": "Lelystad", "kind": "gemeente"}, party="GM0995", date="2014-01-01")]})
    assert status == 201, body
    assert (await api.post(gemeente, {"events": [placement(CLIENT, 1)]}))[0] == 201
    other = placement(CLIENT, 2) | {"party": "GM0995"}
    assert (await api.post(api.token("gemeente", "GM0995"), {"events": [other]}))[0] == 201
    (here,), (there,) = await _client_events(api, admin, CLIENT), await _client_events(api, admin, CLIENT, "GM0995")
    assert here["data"]["clientRef"] != there["data"]["clientRef"]


async def test_a_bsn_as_client_ref_is_refused_not_hidden_by_the_pseudonym(api: Api) -> None:
    _, gemeente = await _setup(api)
    status, body = await api.post(gemeente, {"events": [placement("111222333", 1)]})  # passes the elfproef
    assert status == 422 and "bsn-like-value" in body["type"], body


async def test_a_dry_run_makes_no_key_and_a_client_may_not_post_an_erasure(api: Api) -> None:
    admin, gemeente = await _setup(api)
    ledger = api.client.app[state.LEDGER]
    r = await api.client.post("/v1/events?dryRun=true", json={"events": [placement("dry-client", 1)]},
                              headers={"Authorization": f"Bearer {gemeente}"})
    assert r.status == 200, await r.text()
    assert ledger.client_keys.find(PARTY, "dry-client") is None
    forged = event("ClientErased", {"keyId": "a" * 32}, date="2026-01-05", reference="AVG-verzoek 1")
    status, body = await api.post(admin, {"events": [forged]})
    assert status == 422 and "erasure-by-command" in str(body), body


async def test_erase_client_unlinks_the_client_and_changes_no_figure_nor_the_chain(api: Api, store: str) -> None:
    admin, gemeente = await _setup(api)
    first = [grant(CLIENT), placement(CLIENT, 1), placement("client-other", 2)]
    assert (await api.post(gemeente, {"events": first}))[0] == 201
    before_events = await _client_events(api, gemeente, CLIENT)
    erased_ref = before_events[0]["data"]["clientRef"]
    _, balances_before = await api.get(admin, "/v1/balances", party=PARTY)
    _, verified_before = await api.get(admin, "/v1/audit/verify")

    out = await asyncio.to_thread(cli, store, "erase-client", PARTY, CLIENT, "--reference", "AVG-verzoek 2026-118")
    assert "erased" in out.stderr and CLIENT not in out.stderr.split("client no longer")[1]

    assert await _client_events(api, gemeente, CLIENT) == []
    assert (await _client_events(api, gemeente, "client-other"))  # another client keeps its link
    _, balances_after = await api.get(admin, "/v1/balances", party=PARTY)
    assert balances_after == balances_before
    status, log = await api.get(admin, "/v1/events", party=PARTY, limit=1000)
    assert status == 200
    kept = [e for e in log["results"] if e["data"].get("clientRef") == erased_ref]
    assert [e["id"] for e in kept] == [e["id"] for e in before_events]  # the events stay, unlinked
    (erasure,) = [e for e in log["results"] if e["type"] == "ClientErased"]
    assert erasure["reference"] == "AVG-verzoek 2026-118" and set(erasure["data"]) == {"keyId"}
    assert CLIENT not in orjson.dumps(erasure).decode()
    status, verified = await api.get(admin, "/v1/audit/verify")
    assert status == 200 and verified["intact"] and verified["count"] == verified_before["count"] + 1
    status, years = await api.get(admin, "/v1/parties")
    assert 2026 not in next(p for p in years["results"] if p["code"] == PARTY)["years"]

    again = await asyncio.to_thread(
        cli, store, "erase-client", PARTY, CLIENT, "--reference", "AVG-verzoek 2026-118", check=False)
    assert again.returncode == 1 and "no client" in again.stderr
    # The client coming back is a new client: a new key, a new pseudonym.
    assert (await api.post(gemeente, {"events": [placement(CLIENT, 9)]}))[0] == 201
    (back,) = await _client_events(api, gemeente, CLIENT)
    assert back["data"]["clientRef"] != erased_ref


def test_an_erasure_interrupted_by_a_crash_completes_on_the_next_run(store: str) -> None:
    ledger = Ledger(store)
    try:
        registered = parse_event({"id": str(uuid.uuid4()), "type": "PartyRegistered", "party": PARTY,
                                  "effectiveDate": "2014-01-01", "data": {"name": "Purmerend", "kind": "gemeente"}})
        ledger.post([registered], "admin:test")
        ledger.post([parse_event(placement(CLIENT, 1))], "gemeente:test")
        with pytest.raises(InvalidEvent):  # a reference no event may carry: refused before anything is marked
            ledger.erase_client(PARTY, CLIENT, "AVG\u0001", "2026-12-04")
        key = ledger.client_keys.find(PARTY, CLIENT)
        assert key is not None and key.erasing is None
        ledger.client_keys.mark_erasing(key, str(uuid.uuid4()))  # crashed right after marking
        first = ledger.erase_client(PARTY, CLIENT, "AVG-verzoek 7", "2026-12-04")
        assert first is not None and ledger.client_keys.find(PARTY, CLIENT) is None
        # Crashed after posting, before destroying: the next run answers from the log.
        ledger.post([parse_event(placement("client-2", 2))], "gemeente:test")
        key = ledger.client_keys.find(PARTY, "client-2")
        assert key is not None
        done = ledger.erase_client(PARTY, "client-2", "AVG-verzoek 8", "2026-12-04")
        assert done is not None
        ledger.client_keys.mark_erasing(key, done.id)  # as if the row had survived the crash
        with ledger.client_keys.datastore.transaction(commit=True) as c:  # put the row back
            c.execute(ledger.client_keys._q("INSERT INTO {k} (party, lookup, key_hex, created_at, erasing) "
                                            "VALUES (?, ?, ?, ?, ?)"),
                      (key.party, key.lookup, key.key.hex(), key.created_at, done.id))
        again = ledger.erase_client(PARTY, "client-2", "AVG-verzoek 8", "2026-12-04")
        assert again == done and ledger.client_keys.find(PARTY, "client-2") is None
        assert ledger.verify().intact
    finally:
        ledger.close()


def test_two_processes_posting_a_new_client_at_once_agree_on_its_key(store: str) -> None:
    """Two ledgers (as two processes) post events of the same new clients at once: each
    client gets one key, whichever stored it first, and one pseudonym in both's events."""
    ledgers = [Ledger(store) for _ in range(2)]
    try:
        registered = parse_event({"id": str(uuid.uuid4()), "type": "PartyRegistered", "party": PARTY,
                                  "effectiveDate": "2014-01-01", "data": {"name": "Purmerend", "kind": "gemeente"}})
        ledgers[0].post([registered], "admin:test")
        start = threading.Barrier(2)

        def post(ledger: Ledger, side: int) -> None:
            start.wait()
            for n in range(20):
                ledger.post([parse_event(placement(f"race-{n}", 100 * side + n))], f"gemeente:test-{side}")

        threads = [threading.Thread(target=post, args=(ledger, side)) for side, ledger in enumerate(ledgers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        refs: dict[str, set[str]] = {}
        for e in ledgers[0].log(after=0, limit=100):
            if e.entry["type"] == "PlacementStarted":
                refs.setdefault(e.entry["data"]["placementId"][3:], set()).add(e.entry["data"]["clientRef"])
        by_client: dict[int, set[str]] = {}
        for placement_no, found in refs.items():
            by_client.setdefault(int(placement_no) % 100, set()).update(found)
        assert len(by_client) == 20 and all(len(found) == 1 for found in by_client.values())
        for n in range(20):
            key = ledgers[1].client_keys.find(PARTY, f"race-{n}")
            assert key is not None and by_client[n] == {pseudonym(key.key, f"race-{n}")}
    finally:
        for ledger in ledgers:
            ledger.close()


async def test_a_refused_batch_leaves_no_key_behind(api: Api) -> None:
    _, gemeente = await _setup(api)
    refused = [placement("client-refused", 1), event("CostBooked", {"budget": "onbekend", "category": "x",
                                                                    "amountCents": 1})]
    status, body = await api.post(gemeente, {"events": refused})
    assert status == 422, body
    assert api.client.app[state.LEDGER].client_keys.find(PARTY, "client-refused") is None


def test_export_and_import_keep_pseudonyms_and_keys_and_an_erased_client_stays_erased(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    target = request.getfixturevalue("other_pg_url") if store.startswith("postgres") else f"sqlite:///{tmp_path}/i.db"
    ledger = Ledger(store)
    try:
        registered = parse_event({"id": str(uuid.uuid4()), "type": "PartyRegistered", "party": PARTY,
                                  "effectiveDate": "2014-01-01", "data": {"name": "Purmerend", "kind": "gemeente"}})
        ledger.post([registered], "admin:test")
        ledger.post([parse_event(placement(CLIENT, 1)), parse_event(placement("client-kept", 2))], "gemeente:test")
        kept_key = ledger.client_keys.find(PARTY, "client-kept")
    finally:
        ledger.close()
    old_keys = tmp_path / "keys-before.ndjson"
    cli(store, "export", "--keys", str(old_keys))
    assert old_keys.stat().st_mode & 0o077 == 0  # readable by its owner alone
    cli(store, "erase-client", PARTY, CLIENT, "--reference", "AVG-verzoek 2026-119")
    export = tmp_path / "log.ndjson"
    export.write_text(cli(store, "export").stdout)

    tampered = tmp_path / "keys-tampered.ndjson"
    lines = old_keys.read_text().splitlines()
    tampered.write_text("\n".join([lines[0], lines[1].replace('"key":"', '"key":"zz')]) + "\n")
    bad = cli(target, "import", str(export), "--keys", str(tampered), check=False)
    assert bad.returncode == 1 and "key file line 2" in bad.stderr and "nothing was stored" in bad.stderr
    if target.startswith("sqlite"):  # a refused import into a new file leaves none behind
        assert not Path(target.removeprefix("sqlite:///")).exists()
    else:
        assert cli(target, "verify", check=False).stdout.startswith("intact: 0 events")

    out = cli(target, "import", str(export), "--keys", str(old_keys))  # the key file from before the erasure
    assert "took 1 client keys; 1 keys of erased clients passed over" in out.stderr
    imported = Ledger(target)
    try:
        assert imported.client_keys.find(PARTY, CLIENT) is None  # erased, and stays so
        key = imported.client_keys.find(PARTY, "client-kept")
        assert key is not None and kept_key is not None and key.key == kept_key.key
        refs = [e.entry["data"].get("clientRef") for e in imported.log(after=0, limit=100)]
        assert pseudonym(key.key, "client-kept") in refs
        assert imported.verify().intact
    finally:
        imported.close()
    assert cli(target, "export").stdout == export.read_text()


class _Keys:
    """A key table in memory, for the properties of the pseudonyms alone."""

    def __init__(self) -> None:
        self.made: dict[tuple[str, str], bytes] = {}

    def prepare(self, clients: list[tuple[str, str]]) -> Keys:
        found = {c: self.made[c] for c in clients if c in self.made}
        new = {c: new_key() for c in clients if c not in found}
        self.made.update(new)  # as if the batch was stored
        return Keys(found, new, b"s" * 32, False)


REFS = st.from_regex(r"[A-Za-z0-9._:/-]{1,64}", fullmatch=True)


@given(refs=st.lists(REFS, min_size=1, max_size=8))
def test_pseudonyms_are_stable_per_client_distinct_between_clients_and_never_look_like_a_bsn(refs: list[str]) -> None:
    """Whatever the clientRefs: each becomes a valid clientRef of letters (no BSN can show
    in it), the same client twice the same pseudonym, two clients two, and nothing else
    of the event changes; its content hash is that of what is stored."""
    table = _Keys()
    events = [parse_event(placement(ref, n)) for n, ref in enumerate(refs)]
    out = with_keys(events, table.prepare(clients(events)))
    again = with_keys(events, table.prepare(clients(events)))
    assert [e.entry for e in out] == [e.entry for e in again]
    by_ref: dict[str, str] = {}
    for before, after in zip(events, out, strict=True):
        stored = after.data["clientRef"]
        if bsn_like_fields(before.entry):  # left in clear for the BSN rule to refuse
            assert stored == before.data["clientRef"]
            continue
        assert PSEUDONYM.fullmatch(stored) and not bsn_like_fields(after.entry)
        assert parse_event(after.entry).content_hash == after.content_hash
        assert {**after.entry, "data": {**after.data, "clientRef": before.data["clientRef"]}} == before.entry
        assert by_ref.setdefault(before.data["clientRef"], stored) == stored
    assert len(set(by_ref.values())) == len(by_ref)
    assert all(PSEUDONYM.fullmatch("ps_" + key_id(k)) for k in table.made.values())
