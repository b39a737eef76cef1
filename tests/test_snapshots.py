"""Snapshots of a party's books (ledger/snapshots.py): in the memory of one process,
and with LEDGER_SNAPSHOT_KEY sealed in the store. A book loaded from one decides exactly
as from its whole history; a stored snapshot is relied on only when its seal proves it
(never without a key, never altered, never under another key or taken by other code),
and `ledger verify` names one that is not; a proven one spares a new process the
replay; and a refused post does not cost the replay of a book from its first event."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger import snapshots
from ledger.application import SNAPSHOT_INTERVAL, BatchRefused, Ledger
from ledger.book import Book
from ledger.config import Settings
from ledger.events import Event, parse_event
from tests.conftest import event
from tests.procs_ledger import ROOT, Proc, cli, cli_env, free_port, readyz, token
from tests.test_subsidies import placement, placement_ended, target
from tests.test_verify import Database

PARTY = "GM0439"
KEY = "5e" * 32  # LEDGER_SNAPSHOT_KEY, hex
OTHER_KEY = "a7" * 40


def history() -> list[Event]:
    """Purmerend with a binding beschut-werk cap of 1 in 2015 and 2017, and b1 placed
    from February 2015 to March 2016."""
    registered = event("PartyRegistered", {"name": "Purmerend", "kind": "gemeente"}, date="2014-01-01")
    cap_2017 = target("beschut-werk", 1, binding=True) | {"effectiveDate": "2017-01-01"}
    return [parse_event(e) for e in (registered, target("beschut-werk", 1, binding=True), cap_2017,
                                     placement("b1", "beschut-werk", 32, "2015-02-01"), placement_ended("b1", "2016-03-01"))]


def placed(pid: str, on: str) -> Event:
    return parse_event(placement(pid, "beschut-werk", 32, on))


def assert_decides_placements(ledger: Ledger) -> None:
    """2015's one place was b1's on 31 December; from 2016 on it is free."""
    with pytest.raises(BatchRefused) as refused:
        ledger.post([placed("b2", "2015-06-01")], "gemeente:test")
    assert refused.value.violations[0][1].rule == "placement-cap-reached"
    ledger.post([placed("b2", "2016-06-01")], "gemeente:test")


def filler(n: int) -> list[Event]:
    income = {"budget": "participatiebudget", "source": "rijk", "amountCents": 1}
    return [parse_event(event("IncomeBooked", income)) for _ in range(n)]


def test_a_book_loaded_from_its_snapshot_decides_as_from_its_events(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    income = {"budget": "participatiebudget", "source": "rijk", "amountCents": 1}
    first = Ledger(url)
    try:
        first.post(history() + [parse_event(event("BudgetAllocated", income))] + filler(SNAPSHOT_INTERVAL), "admin:test")
        (taken,) = first.snapshots.get(Book.create_id(PARTY))  # type: ignore[union-attr]
        assert taken.originator_version > SNAPSHOT_INTERVAL
        first._evict([PARTY])  # as a refused batch does: reloaded from the snapshot
        assert_decides_placements(first)
    finally:
        first.close()
    again = Ledger(url)  # a new process: from the events alone
    try:
        assert not list(again.snapshots.get(Book.create_id(PARTY)))  # type: ignore[union-attr]
        with pytest.raises(BatchRefused) as refused:
            again.post([placed("b3", "2015-07-01")], "gemeente:test")
        assert refused.value.violations[0][1].rule == "placement-cap-reached"
    finally:
        again.close()


def reserve_events() -> list[Event]:
    """GM0439 with a participatiebudget and a reserve of 10.00."""
    registered = event("PartyRegistered", {"name": "Purmerend", "kind": "gemeente"}, date="2014-01-01")
    allocated = event("BudgetAllocated", {"budget": "participatiebudget", "source": "rijk", "amountCents": 100},
                      date="2015-01-01")
    reserve = event("ReserveEstablished", {"reserve": "r", "openingBalanceCents": 1_000, "purpose": "test"},
                    date="2015-01-01")
    return [parse_event(e) for e in (registered, allocated, reserve)]


WITHDRAWAL = event("ReserveWithdrawn", {"reserve": "r", "budget": "participatiebudget", "amountCents": 50_000},
                   date="2015-06-01")


def reserve_of_ten_euros(url: str) -> None:
    """GM0439 with a reserve of 10.00, and a snapshot of its books in the store's own
    snapshots table (where earlier versions kept them), altered to hold 510.00."""
    app = Ledger(url)
    try:
        app.post(reserve_events(), "admin:test")
        book = app.repository.get(Book.create_id(PARTY))
        forged = Book.Snapshot.take(book)
        moves = forged.state["reserves"]["r"]["moves"]
        moves["2015-01-01"] += 50_000
        stored = app.factory.event_store(mapper=app.mapper, recorder=app.factory.aggregate_recorder(purpose="snapshots"))
        stored.put([forged])
    finally:
        app.close()


def request(base: str, token_: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else orjson.dumps(body)
    r = urllib.request.Request(f"{base}{path}", data=data, headers={"Authorization": f"Bearer {token_}",
                                                                  "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(r, timeout=30) as answer:
            return answer.status, orjson.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, orjson.loads(e.read())


def serve(store: str, tmp_path: Path, **env: str) -> tuple[Proc, str]:
    """A real `ledger serve` on `store`, ready; with `env` in its environment."""
    port = free_port()
    server = Proc.start("serve", store, ["serve", "--port", str(port)], tmp_path, **env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while readyz(base)[0] != 200:
        assert server.alive() and time.monotonic() < deadline, server.text()
        time.sleep(0.2)
    return server, base


def test_a_snapshot_in_the_store_is_never_relied_on(store: str, tmp_path: Path) -> None:
    """Failing case before the fix: with the altered snapshot a withdrawal of 500.00 from
    the reserve of 10.00 was accepted (the reserve stood at -490.00), and verify said
    intact without a word on snapshots."""
    reserve_of_ten_euros(store)
    server, base = serve(store, tmp_path)
    try:
        status, body = request(base, token(store, "admin"), "/v1/events", WITHDRAWAL)
        assert status == 422 and "reserve-below-zero" in f"{body.get('type')} {body.get('title')}", body
        status, body = request(base, token(store, "auditor"), "/v1/audit/verify")
        assert status == 200 and body["intact"] is True and body["snapshots"].startswith("none trusted"), body
    finally:
        server.stop()
    verified = cli(store, "verify", check=False)
    assert verified.returncode == 0 and "snapshots: none trusted" in verified.stdout, verified.stdout


def test_a_refused_post_reloads_its_book_from_memory_not_from_its_first_event(tmp_path: Path) -> None:
    """Only a process's first load of a book replays it from its first event; after a
    refusal (which drops the book from the cache) it is rebuilt from the snapshot that
    load took and the few events after it."""
    url = f"sqlite:///{tmp_path}/ledger.db"
    first = Ledger(url)
    first.post(history() + filler(2 * SNAPSHOT_INTERVAL), "admin:test")
    first.close()
    app = Ledger(url)
    try:
        reads = counting_reads(app)
        for _ in range(3):
            with pytest.raises(BatchRefused):
                app.post([placed("b9", "2015-06-01")], "gemeente:test")
        app.post([placed("b2", "2016-06-01")], "gemeente:test")
        assert reads.count(None) == 1 and reads[0] is None, reads
        assert min(gt for gt in reads if gt is not None) >= 2 * SNAPSHOT_INTERVAL, reads
    finally:
        app.close()


# --- stored snapshots, sealed with LEDGER_SNAPSHOT_KEY ------------------------------------


def keyed(url: str, key: str = KEY) -> Ledger:
    return Ledger(url, snapshot_key=bytes.fromhex(key))


def sealed_reserve_of_ten_euros(url: str, key: str = KEY) -> int:
    """GM0439 with a reserve of 10.00 and an interval of income after it, posted with
    `key`: a sealed snapshot of its books is in the store. Its version."""
    app = keyed(url, key)
    try:
        app.post(reserve_events() + filler(SNAPSHOT_INTERVAL), "admin:test")
    finally:
        app.close()
    return stored_versions(url)[-1]


def snapshots_table(url: str) -> str:
    return "ledger_snapshots" if url.startswith("postgresql") else "stored_snapshots"


def stored_versions(url: str) -> list[int]:
    return [v for (v,) in Database(url).run(f"SELECT originator_version FROM {snapshots_table(url)} ORDER BY 1")]


def alter_stored_snapshot(url: str, version: int) -> None:
    """Make the stored snapshot's reserve 510.00, its seal left as it was."""
    db = Database(url)
    table = snapshots_table(url)
    ((state,),) = db.run(f"SELECT state FROM {table} WHERE originator_version = ?", version)
    state = bytes(state)
    assert state.count(b'"2015-01-01":1000}') == 1
    db.run(f"UPDATE {table} SET state = ? WHERE originator_version = ?",
           state.replace(b'"2015-01-01":1000}', b'"2015-01-01":51000}'), version)


def counting_reads(app: Ledger) -> list[int | None]:
    """The `gt` of every read of a book's events from the store by `app`."""
    reads: list[int | None] = []
    get = app.events.get

    def counted(originator_id: Any, *, gt: int | None = None, **kwargs: Any) -> Any:
        reads.append(gt)
        return get(originator_id, gt=gt, **kwargs)

    app.events.get = counted  # type: ignore[method-assign]
    return reads


def ledger_cli(store: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], env=cli_env(store, **env), cwd=ROOT, check=False,
                          capture_output=True, text=True, timeout=300)


def test_an_altered_sealed_snapshot_is_never_relied_on_and_verify_names_it(store: str, tmp_path: Path) -> None:
    """With the key, the reserve altered to 510.00 in a stored snapshot (its seal kept):
    the withdrawal of 500.00 is refused through a real `ledger serve`, one warning line
    says so without the snapshot's content, and verify names it while the log is intact."""
    version = sealed_reserve_of_ten_euros(store)
    alter_stored_snapshot(store, version)
    server, base = serve(store, tmp_path, LEDGER_SNAPSHOT_KEY=KEY)
    try:
        status, body = request(base, token(store, "admin"), "/v1/events", WITHDRAWAL)
        assert status == 422 and "reserve-below-zero" in f"{body.get('type')} {body.get('title')}", body
        status, body = request(base, token(store, "auditor"), "/v1/audit/verify")
        assert status == 200 and body["intact"] is True, body
        assert "NOT PROVEN" in body["snapshots"] and f"{PARTY} (book {Book.create_id(PARTY)}) version {version}" in body["snapshots"]
    finally:
        server.stop()
    warnings = [line for line in server.text().splitlines() if "not proven" in line]
    assert len(warnings) == 1 and "51000" not in warnings[0] and '"WARNING"' in warnings[0].upper(), warnings
    verified = ledger_cli(store, "verify", LEDGER_SNAPSHOT_KEY=KEY)
    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert verified.stdout.startswith("intact: "), verified.stdout  # the log itself is intact
    assert "NOT PROVEN" in verified.stdout and f"{PARTY} (book {Book.create_id(PARTY)}) version {version}" in verified.stdout


def test_a_proven_stored_snapshot_spares_a_new_process_the_replay(store: str) -> None:
    """A new process with the key reads the book's stored snapshot and only the events
    after it, and decides as from the whole history; verify proves every stored one."""
    app = keyed(store)
    try:
        app.post(history() + filler(SNAPSHOT_INTERVAL), "admin:test")
    finally:
        app.close()
    (version,) = stored_versions(store)
    again = keyed(store)
    try:
        reads = counting_reads(again)
        assert_decides_placements(again)
        assert reads and reads[0] == version, reads  # from the snapshot, not from the first event
        result = again.verify()
        assert result.intact and not result.snapshots_unproven, result
        assert result.snapshots == "1 stored, 1 proven by LEDGER_SNAPSHOT_KEY", result.snapshots
    finally:
        again.close()
    verified = ledger_cli(store, "verify", LEDGER_SNAPSHOT_KEY=KEY)
    assert verified.returncode == 0 and "snapshots: 1 stored, 1 proven" in verified.stdout, verified.stdout


def test_a_snapshot_sealed_under_another_key_is_passed_by_and_reported(store: str) -> None:
    """After a key rotation the old key's snapshots are not proven: the book is replayed
    from its first event, decides right, and verify names the snapshot."""
    version = sealed_reserve_of_ten_euros(store, OTHER_KEY)
    app = keyed(store)
    try:
        reads = counting_reads(app)
        with pytest.raises(BatchRefused) as refused:
            app.post([parse_event(WITHDRAWAL)], "admin:test")
        assert refused.value.violations[0][1].rule == "reserve-below-zero"
        assert reads[0] is None, reads
        result = app.verify()
        assert result.intact and result.snapshots_unproven == [
            {"party": PARTY, "book": str(Book.create_id(PARTY)), "version": version}], result
    finally:
        app.close()


def test_a_snapshot_taken_by_other_code_is_passed_by(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A snapshot sealed by another version of the ledger is proven but may hold another
    shape of the books: it is not read, and verify says so without calling it altered."""
    monkeypatch.setattr(snapshots, "CODE", bytes(32))
    sealed_reserve_of_ten_euros(store)
    monkeypatch.undo()
    app = keyed(store)
    try:
        reads = counting_reads(app)
        with pytest.raises(BatchRefused):
            app.post([parse_event(WITHDRAWAL)], "admin:test")
        assert reads[0] is None, reads
        result = app.verify()
        assert not result.snapshots_unproven and "1 taken by another version of the ledger" in str(result.snapshots)
    finally:
        app.close()


def test_a_first_load_that_replays_stores_a_sealed_snapshot(store: str) -> None:
    """A log posted without a key (or imported) gets a sealed snapshot at its first load
    with the key, so that the next process does not replay it again."""
    app = Ledger(store)
    try:
        app.post(history() + filler(SNAPSHOT_INTERVAL), "admin:test")
    finally:
        app.close()
    for expected_first_read in (None, len(history()) + SNAPSHOT_INTERVAL):
        app = keyed(store)
        try:
            reads = counting_reads(app)
            app.post(filler(1), "admin:test")
            assert reads[0] == expected_first_read, reads
        finally:
            app.close()


def test_without_a_key_nothing_is_read_from_the_snapshot_table(store: str) -> None:
    sealed_reserve_of_ten_euros(store)
    app = Ledger(store)
    try:
        reads = counting_reads(app)
        with pytest.raises(BatchRefused):
            app.post([parse_event(WITHDRAWAL)], "admin:test")
        assert reads[0] is None, reads  # every event, the sealed snapshot unread
        assert app.verify().snapshots == snapshots.NOT_TRUSTED
    finally:
        app.close()


def test_the_key_is_hex_of_at_least_32_bytes_and_never_shown() -> None:
    assert Settings.from_env({"LEDGER_SNAPSHOT_KEY": KEY}).snapshot_key == bytes.fromhex(KEY)
    assert Settings.from_env({"LEDGER_SNAPSHOT_KEY": ""}).snapshot_key is None
    assert KEY not in repr(Settings.from_env({"LEDGER_SNAPSHOT_KEY": KEY}))
    for bad in ("5e" * 31, "not hex at all, but long enough to be a secret of 32 bytes"):
        with pytest.raises(ValueError, match="LEDGER_SNAPSHOT_KEY") as refused:
            Settings.from_env({"LEDGER_SNAPSHOT_KEY": bad})
        assert bad not in str(refused.value)
