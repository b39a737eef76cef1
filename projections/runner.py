"""The projector: follows the event log and keeps the read model up to date.

Why not the library's `ProjectionRunner`: its SQLite recorder offers no
subscription, and it applies one event per transaction. This runner applies up to
`batch_size` events in one read-model transaction, and moves its tracking row in
that same transaction with a compare-and-set. Each event is therefore applied
exactly once, across crashes and even with several projectors running (API workers
and `ledger project`): whichever takes the write lock first advances, the others
find nothing left to do.

A projector that follows the log (the API's embedded one) also projects the posts of
its own process as they are stored: the store calls it in the transaction that
writes the batch, with the effects the rules computed for each event, and it writes
the batch's rows and moves the tracking row with the same compare-and-set. A POST
then answers as soon as it commits, without the log being read back; the follower
catches up on everything else (other processes' posts, a batch it could not take).

It learns of new events from an in-process writer at once, on PostgreSQL from
LISTEN/NOTIFY (projections/notify.py), and otherwise by polling the log's head,
which takes no lock. API workers waiting for a batch to be projected are woken the
same ways.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from tqdm import tqdm

from ledger.application import Ledger, LoggedEvent
from ledger.effects import effects_of
from ledger.journal import postings
from ledger.runtime import few_collections
from ledger.store import LOG_CHANNEL
from projections import charge_sums, iv3_sums
from projections.db import Cursor, ReadDB
from projections.notify import PROJECTED_CHANNEL, Listener
from projections.schema import READ_MODEL_TABLES, TRACKING, create_indexes, create_schema, index_names

log = logging.getLogger(__name__)

NAME = "read-model"
# A rebuild applies bigger batches than following the log does: fewer commits, and no
# POST waits for one. (Without the indexes a commit costs little: one transaction per
# 200,000 events was no faster.)
REBUILD_BATCH = 5000


def public_event(e: LoggedEvent) -> dict[str, Any]:
    """An event as the API and the export show it: the record its chain hash seals (the
    client's content, what the ledger derived, the stamps, the hashes) and that hash."""
    return {**e.sealed(), "chainHash": e.chain_hash}


# The tables that only ever gain rows, a batch's rows appended at once (Cursor.insert).
_INSERTS = ("log_events", "budget_movements", "reserve_movements", "winst_movements", "organisation_charges",
            "contributions", "commitment_movements", "outflows", "journal")


def apply_events(cur: Cursor, events: Sequence[LoggedEvent]) -> None:
    """Write the read-model rows for `events` (in log order) through `cur`."""
    rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in _INSERTS}
    all_effects = []
    for e in events:
        entry = e.entry
        party, year, at, position = entry["party"], entry["year"], e.recorded_at, e.position
        rows["log_events"].append(
            (position, entry["id"], entry["type"], party, year, entry["effectiveDate"], at, e.posted_by,
             orjson.dumps(public_event(e)).decode(), entry["data"].get("clientRef"))
        )
        effects = e.effects if e.effects is not None else effects_of(entry, e.derived)
        all_effects.append(effects)
        for d in effects.lines:
            rows["budget_movements"].append(
                (position, party, d.year, d.budget, d.sub_budget or "", entry["effectiveDate"], at,
                 d.allocated, d.income, d.spent, d.committed, d.amended, d.incidental,
                 None if d.voorlopig is None else int(d.voorlopig))
            )
        if entry["type"] in ("YearClosed", "YearReopened"):  # in the trail of each line it seals or opens
            for line in e.derived.get("figures", ()):
                rows["budget_movements"].append(
                    (position, party, year, line["budget"], line["subBudget"] or "", entry["effectiveDate"], at,
                     0, 0, 0, 0, 0, 0, None)
                )
        for r in effects.reserves:
            rows["reserve_movements"].append((position, party, r.reserve, r.date, at, r.added, r.withdrawn, r.reflux))
        for w in effects.winst:
            rows["winst_movements"].append(
                (position, party, w.year, w.source, w.destination, w.member, at, w.realised, w.reinvested)
            )
        for c in effects.charges:
            usage = orjson.dumps(c.usage).decode() if c.usage else None
            rows["organisation_charges"].append((position, party, c.year, c.unit, at, c.amount, usage))
        for m in effects.contributions:
            rows["contributions"].append((position, party, m.year, m.member, at, m.invoiced, m.paid))
        for k in effects.commitments:
            category = entry["data"]["category"] if entry["type"] == "CommitmentRegistered" else None
            rows["commitment_movements"].append((position, party, k.commitment_id, k.year, k.budget, k.sub_budget or "",
                                                 category, at, k.registered, k.used, k.released))
        for p in postings(effects):
            rows["journal"].append((position, party, year, p.account, at, p.debit, p.credit))
        _apply_outflow(rows["outflows"], e)
        _apply_registry(cur, e)
    for table in _INSERTS:
        cur.insert(table, rows[table])
    cur.executemany(
        "INSERT INTO budget_lines VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (party, year, budget, sub_budget) "
        "DO UPDATE SET allocated = budget_lines.allocated + excluded.allocated, "
        "income = budget_lines.income + excluded.income, spent = budget_lines.spent + excluded.spent, "
        "committed = budget_lines.committed + excluded.committed, amended = budget_lines.amended + excluded.amended, "
        "incidental = budget_lines.incidental + excluded.incidental, "
        "voorlopig = COALESCE(excluded.voorlopig, budget_lines.voorlopig)",
        _line_sums(rows["budget_movements"]),
    )
    charge_sums.add(cur, rows["organisation_charges"])
    iv3_sums.add(cur, events, all_effects)


def _line_sums(movements: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """A batch's movements summed per budget line, in the order the lines first move:
    one upsert per line the batch touches rather than one per movement, with the status
    of the batch's latest allocation of the line (None: the batch allocates it nothing)."""
    sums: dict[tuple[Any, ...], list[Any]] = {}
    for m in movements:
        line = sums.setdefault(m[1:5], [0, 0, 0, 0, 0, 0, None])
        for i in range(6):
            line[i] += m[7 + i]
        if m[13] is not None:
            line[6] = m[13]
    return [(*line, *amounts) for line, amounts in sums.items()]


def _apply_outflow(rows: list[tuple[Any, ...]], e: LoggedEvent) -> None:
    """An outflow counts one client and its notional avoided benefit; its correction takes
    both back out of the outflow's own year (a count is not money: there is no later year
    to book it in, and a year must never show fewer than no clients)."""
    entry = e.entry
    if entry["type"] == "OutflowRegistered":
        sign, data, year = 1, entry["data"], entry["year"]
    elif entry["type"] == "Correction" and e.derived["original"]["type"] == "OutflowRegistered":
        original = e.derived["original"]
        sign, data, year = -1, original["data"], original["year"]
    else:
        return
    rows.append((e.position, entry["party"], year, data["extent"], e.recorded_at, sign, sign * data["avoidedBenefitCents"]))


def _apply_registry(cur: Cursor, e: LoggedEvent) -> None:
    """Parties, memberships, keys, reserves, subsidies and placements: applied one by one in order."""
    entry, data = e.entry, e.entry["data"]
    kind, party, at = entry["type"], entry["party"], e.recorded_at
    if kind == "PartyRegistered":
        cur.execute("INSERT INTO parties VALUES (?,?,?,NULL,?)", (party, data["name"], data["kind"], data.get("cbsNumber")))
    elif kind == "OrganisationRegistered":
        cur.execute(
            "INSERT INTO parties VALUES (?,?,'organisation',?,?) ON CONFLICT (code) DO UPDATE SET "
            "name = excluded.name, kind = excluded.kind, fund_holder = excluded.fund_holder, "
            "cbs_number = COALESCE(excluded.cbs_number, parties.cbs_number)",
            (party, data["name"], data.get("fundHolder"), data.get("cbsNumber")),
        )
        cur.executemany(
            "INSERT INTO memberships VALUES (?,?,?,NULL,?,NULL)",
            [(party, m, entry["effectiveDate"], at) for m in data["members"]],
        )
    elif kind == "PartyUpdated":
        cur.execute(
            "UPDATE parties SET name = COALESCE(?, name), cbs_number = COALESCE(?, cbs_number) WHERE code = ?",
            (data.get("name"), data.get("cbsNumber"), party),
        )
    elif kind == "MembershipChanged" and data["change"] == "joined":
        cur.execute("INSERT INTO memberships VALUES (?,?,?,NULL,?,NULL)", (party, data["member"], entry["effectiveDate"], at))
    elif kind == "MembershipChanged":
        cur.execute(
            "UPDATE memberships SET left_on = ?, left_recorded = ? "
            "WHERE organisation = ? AND member = ? AND left_on IS NULL",
            (entry["effectiveDate"], at, party, data["member"]),
        )
    elif kind == "AllocationKeySet":
        cur.execute(
            "INSERT INTO allocation_keys VALUES (?,?,?,?,?,?,?)",
            (e.position, party, entry["year"], data["basis"], data["policy"], orjson.dumps(data["weights"]).decode(), at),
        )
    elif kind == "ReserveEstablished":
        cur.execute(
            "INSERT INTO reserves VALUES (?,?,?,?,?)",
            (party, data["reserve"], data["purpose"], int(data["revolving"]), entry["effectiveDate"]),
        )
    elif kind == "SubsidyGranted":
        cur.execute(
            "INSERT INTO subsidies VALUES (?,?,?,?,?,?,NULL,NULL)",
            (party, data["subsidyId"], data["instrument"], data["startDate"], data.get("endDate"), at),
        )
    elif kind == "SubsidyEnded":
        cur.execute(
            "UPDATE subsidies SET ended_on = ?, ended_recorded = ? WHERE party = ? AND subsidy_id = ?",
            (entry["effectiveDate"], at, party, data["subsidyId"]),
        )
    elif kind == "PlacementStarted":
        cur.execute(
            "INSERT INTO placements VALUES (?,?,?,?,?,?,NULL,NULL)",
            (party, data["placementId"], data["kind"], repr(data["hoursPerWeek"]), entry["effectiveDate"], at),
        )
    elif kind == "PlacementEnded":
        cur.execute(
            "UPDATE placements SET ended = ?, ended_recorded = ? WHERE party = ? AND placement_id = ?",
            (entry["effectiveDate"], at, party, data["placementId"]),
        )
    elif kind == "PlacementTargetSet":
        cur.execute(
            "INSERT INTO placement_targets VALUES (?,?,?,?,?,?,?)",
            (e.position, party, entry["year"], data["kind"], repr(data["places"]), int(data["binding"]), at),
        )


class Projector:
    """Keeps the read model at the head of the log; see the module docstring."""

    def __init__(self, ledger: Ledger, db: ReadDB, batch_size: int = 1000):
        self.ledger = ledger
        self.db = db
        self.batch_size = batch_size
        self._wake = threading.Event()
        self._stop = threading.Event()
        # Called (from any thread) whenever the read model may have advanced: the API
        # wakes the POSTs waiting to answer (api/waiting.py).
        self.on_advance: list[Callable[[], None]] = []
        self._thread: threading.Thread | None = None
        self._listener: Listener | None = None
        # Between looks at the log when nothing woke us: PostgreSQL notifies, so a look
        # there is only a safety net; SQLite cannot, so another process's writes are
        # seen by polling its head.
        self._idle = 1.0 if db.postgres else 0.02
        create_schema(db, NAME)

    def position(self) -> int:
        with self.db.transaction() as cur:
            row = cur.execute(f"SELECT position FROM {TRACKING} WHERE name = ?", (NAME,)).fetchone()
        return row[0] if row else 0

    def run_once(self, limit: int | None = None) -> int:
        """Apply the next batch of events (`batch_size`, or `limit`), if any; return how
        many were applied."""
        with self.db.transaction(write=True) as cur:
            applied = self._apply_next(cur, limit or self.batch_size)
            if applied and self.db.postgres:
                cur.execute(f"NOTIFY {PROJECTED_CHANNEL}")  # delivered at commit, to waiting API workers
        if applied:
            self._advanced()
        return applied

    def _apply_next(self, cur: Cursor, limit: int) -> int:
        """Within the caller's write transaction: apply up to `limit` events after the
        tracked position and move the tracking row past them (locked first on
        PostgreSQL, so a second projector waits and then finds them applied)."""
        lock = " FOR UPDATE" if self.db.postgres else ""
        (position,) = cur.execute(f"SELECT position FROM {TRACKING} WHERE name = ?{lock}", (NAME,)).fetchone() or (0,)
        events = list(self.ledger.log(after=position, limit=limit))
        if not events:
            return 0
        apply_events(cur, events)
        cur.execute(f"UPDATE {TRACKING} SET position = ? WHERE name = ?", (events[-1].position, NAME))
        return len(events)

    def project_own_posts(self) -> None:
        """Project every batch this process's ledger stores in the transaction storing it."""
        self.ledger.project_inline = self._apply_inline

    def _apply_inline(self, raw: Any, after: int, events: list[LoggedEvent]) -> bool:
        """This process's batch, in the transaction that stores it (`Ledger.project_inline`):
        its rows written and the tracking row moved past it, if the read model stood
        exactly where the log did before it (else a rebuild or catch-up is under way,
        or another projector is behind: the batch is left to the projector following
        the log). Under a savepoint: a batch the read model cannot take is still
        stored, and the follower meets it (and logs why) as it would have."""
        cur = Cursor(raw, self.db.postgres)
        cur.execute("SAVEPOINT project_inline")
        applied = False
        try:
            cur.execute(f"UPDATE {TRACKING} SET position = ? WHERE name = ? AND position = ?", (events[-1].position, NAME, after))
            if cur.rowcount == 1:
                apply_events(cur, events)
                applied = True
                if self.db.postgres:
                    cur.execute(f"NOTIFY {PROJECTED_CHANNEL}")  # delivered at commit, to waiting API workers
        except Exception:
            applied = False  # its rows are rolled back below, whatever it had written
            log.exception("could not project a batch as it was stored; the projector will apply it")
            cur.execute("ROLLBACK TO SAVEPOINT project_inline")
        cur.execute("RELEASE SAVEPOINT project_inline")
        return applied

    def catch_up(self) -> int:
        total = 0
        while n := self.run_once():
            total += n
        return total

    def rebuild(self, progress: bool = False) -> int:
        """Empty the read model and replay the whole log into it.

        Why it is not `catch_up` from 0: the secondary indexes are dropped first and
        built once at the end (sorting the finished rows costs a fraction of keeping
        13 b-trees up to date row by row), and the collector's generations
        are raised for the run (it allocates millions of objects and frees them all by
        reference counting: the collections would find no cycles). A crash in between
        leaves a consistent, tracked read model: the next start creates any missing
        index and the projector carries on from the tracked position."""
        with self.db.transaction(write=True) as cur:
            if self.db.postgres:
                cur.execute(f"SELECT position FROM {TRACKING} WHERE name = ? FOR UPDATE", (NAME,))
            for table in READ_MODEL_TABLES:
                cur.execute(f"DELETE FROM {table}")
            for index in index_names():
                cur.execute(f"DROP INDEX IF EXISTS {index}")
            cur.execute(f"UPDATE {TRACKING} SET position = 0 WHERE name = ?", (NAME,))
        done = 0
        with few_collections(), tqdm(total=self.ledger.head(), unit="event", disable=not progress, desc="rebuild") as bar:
            while n := self.run_once(REBUILD_BATCH):
                done += n
                bar.update(n)
        with self.db.transaction(write=True) as cur:
            create_indexes(cur, self.db.postgres)
        self._advanced()
        return done

    # --- following the log in a thread -------------------------------------------

    def start(self, follow: bool = True) -> None:
        """Project this process's posts as they are stored and follow the log in a
        thread for the rest (`follow`), or only listen for another process following
        it, to wake `on_advance` at once."""
        if self.db.postgres:
            channels = (LOG_CHANNEL, PROJECTED_CHANNEL) if follow else (PROJECTED_CHANNEL,)
            self._listener = Listener(self.db.conninfo, self._notified, channels).start()
        if follow:
            self.project_own_posts()
            self._thread = threading.Thread(target=self._follow, name="projector", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self.ledger.project_inline == self._apply_inline:
            self.ledger.project_inline = None
        self._stop.set()
        self._wake.set()
        if self._listener is not None:
            self._listener.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wake(self) -> None:
        self._wake.set()

    def _notified(self, channel: str) -> None:
        if channel == LOG_CHANNEL:
            self._wake.set()
        else:
            self._advanced()

    def _advanced(self) -> None:
        for callback in self.on_advance:
            callback()

    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                # Look at the log's head first: it takes no lock, where applying does.
                if self.ledger.head() > self.position() and self.run_once():
                    continue
            except Exception:  # the database may be busy or down: retry, never die
                log.exception("projector failed to apply a batch; retrying")
                self._stop.wait(1.0)
            self._wake.wait(timeout=self._idle)
            self._wake.clear()
