"""`ledger import` is all or nothing: an export refused anywhere, in its first batch or
its last, leaves the new ledger empty, so that a good export can be imported into it
afterwards; on SQLite and PostgreSQL, through the real CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger.application import Ledger
from ledger.events import parse_event
from tests.conftest import event
from tests.test_cli import _reseal, ledger

INCOMES = 1_500  # over the import's chunks of 1,000 lines: stored in several batches


def source_log(url: str) -> list[dict[str, Any]]:
    """GM0439 registered by the admin, with a reserve of 10.00; then its own posts, in
    batches: incomes, and at the very end a withdrawal of 5.00 from the reserve."""
    app = Ledger(url)
    try:
        admin = [
            event("PartyRegistered", {"name": "Purmerend", "kind": "gemeente"}, date="2014-01-01"),
            event("BudgetAllocated", {"budget": "participatiebudget", "source": "rijk", "amountCents": 100}, date="2015-01-01"),
            event("ReserveEstablished", {"reserve": "r", "openingBalanceCents": 1_000, "purpose": "test"}, date="2015-01-01"),
        ]
        app.post([parse_event(e) for e in admin], "admin:test")
        income = {"budget": "participatiebudget", "source": "algemene-middelen", "amountCents": 1}
        for _ in range(INCOMES // 500):
            app.post([parse_event(event("IncomeBooked", income)) for _ in range(500)], "gemeente:GM0439")
        withdrawal = {"reserve": "r", "budget": "participatiebudget", "amountCents": 500}
        app.post([parse_event(event("ReserveWithdrawn", withdrawal, date="2015-06-01"))], "gemeente:GM0439")
    finally:
        app.close()
    return [orjson.loads(line) for line in ledger(url, "export").stdout.splitlines()]


def write(path: Path, log: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in log))
    return path


def test_a_refused_import_leaves_the_ledger_empty_for_the_next(store: str, tmp_path: Path) -> None:
    """Failing case before the fix: the batches before the refused one were stored
    ("nothing after the last whole batch was stored"), and the ledger could not be
    imported into again."""
    log = source_log(f"sqlite:///{tmp_path}/source.db")
    good = write(tmp_path / "good.ndjson", log)
    # Re-sealed by a forger with the recipe: the chain holds, the withdrawal of 500.00
    # from the reserve of 10.00 breaks a rule, in the import's last batch.
    assert log[-1]["type"] == "ReserveWithdrawn"
    log[-1]["data"]["amountCents"] = 50_000
    _reseal(log)
    out = ledger(store, "import", str(write(tmp_path / "forged.ndjson", log)), check=False)
    assert out.returncode == 1 and "reserve-below-zero" in out.stderr, out.stderr
    if store.startswith("sqlite"):  # into a new file: no empty ledger is left behind
        assert not Path(store.removeprefix("sqlite:///")).exists()
    else:
        assert "intact: 0 events" in ledger(store, "verify").stdout
        assert orjson.loads(ledger(store, "status").stdout)["head"] == 0
    assert "nothing was stored" in out.stderr
    out = ledger(store, "import", str(good), check=False)
    assert out.returncode == 0 and f"imported {len(log)} events" in out.stderr, out.stderr
    assert ledger(store, "export").stdout == good.read_text()
    assert ledger(store, "verify").returncode == 0


def test_an_import_is_copied_only_into_a_ledger_still_empty(store: str, tmp_path: Path) -> None:
    """Another process may write between the check that the ledger is empty and the
    copy: the copy then stores nothing."""
    staging = Ledger(f"sqlite:///{tmp_path}/staging.db")
    target = Ledger(store)
    try:
        registered = [event("PartyRegistered", {"name": p, "kind": "gemeente"}, party=p, date="2014-01-01")
                      for p in ("GM0439", "GM0995")]
        staging.post([parse_event(e) for e in registered], "admin:test")
        target.post([parse_event(event("PartyRegistered", {"name": "Lelystad", "kind": "gemeente"}, party="GM0995",
                                       date="2014-01-01"))], "admin:test")
        with pytest.raises(ValueError, match="written to"):
            target.adopt(staging)
        assert [e.entry["party"] for e in target.log()] == ["GM0995"]
        assert target.verify().intact
    finally:
        staging.close()
        target.close()
