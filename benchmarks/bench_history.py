"""Posting cost against history: a budget with 100,000 prior events against a new one.

    .venv/bin/python benchmarks/bench_history.py --db sqlite --history 100000 --via http,direct

Setup (fast path, `Ledger.post` in this process, then the read model brought up to date):
gemeente GM0001 with its budgets and 100,000 cost bookings on its participatiebudget
(invoices by category and sub-budget, dated through the year: a large city's year
booked invoice by invoice), and gemeente GM0002 with the same budgets and nothing booked.

Measured, for each of the two, with cold caches (a new server process, or a new `Ledger`
instance, before each): `--batches` batches of `--batch-size` new cost bookings on the
same budget, one after the other. `http` POSTs them to a freshly started `ledger serve`;
`direct` calls `ledger.application.Ledger.post` (no HTTP, no projection). The batches of
the two alternate (after one warm-up batch of a third gemeente), so both meet the same
conditions; the rate is the batch size over the median batch latency, the first (cold)
batch shown apart. Also the cold load of each book alone: a new `Ledger` instance's
`repository.get`, which reads the book's latest stored snapshot, checks its seal and
reads the events after it (fewer than the snapshot interval of 500).

Everything runs with LEDGER_SNAPSHOT_KEY set (a key made for the run, in this process
and in the served one): the setup is posted with it, so its snapshots are stored sealed
as a served ledger stores them, and every cold load uses them (ledger/snapshots.py).
Without a key a cold load replays the book from its first event instead.

Raw: the same rows INSERTed into a plain table already holding as many rows as the
history, and into an empty one.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import statistics
import time
from typing import Any

import orjson

import common
from generate import PB_COSTS, PB_SUBS, Out

OLD, NEW, WARM = "GM0001", "GM0002", "GM0003"
KEY = secrets.token_hex(32)  # LEDGER_SNAPSHOT_KEY of this run


def keyed_ledger(url: str) -> Any:
    from ledger.application import Ledger

    return Ledger(url, snapshot_key=bytes.fromhex(KEY))


def load_sealed(url: str, events: list[dict[str, Any]]) -> float:
    """Post the setup as common.load_direct does, but with the key: the seconds it took."""
    from ledger.events import parse_event

    ledger = keyed_ledger(url)
    start = time.perf_counter()
    for chunk in common.chunks(events, 1000):
        ledger.post([parse_event(e) for e in chunk], "admin:bench-load")
    elapsed = time.perf_counter() - start
    ledger.close()
    return elapsed


def setup_events(history: int, year: int, seed: int) -> tuple[list[dict[str, Any]], Out]:
    out = Out(random.Random(seed), year)
    for party in (OLD, NEW, WARM):
        out.add("PartyRegistered", party, f"{year}-01-01", {"name": f"Gemeente {party}", "kind": "gemeente"})
    for party in (OLD, NEW, WARM):
        for sub, share in PB_SUBS:
            out.add("BudgetAllocated", party, f"{year}-01-01",
                    {"budget": "participatiebudget", "subBudget": sub, "source": "sociaal-deelfonds",
                     "amountCents": int(8_000_000_000 * share)}, f"meicirculaire {year - 1}")
        out.add("ReserveEstablished", party, f"{year}-01-01",
                {"reserve": "participatie", "openingBalanceCents": 500_000_000, "purpose": "Opvangen tekorten"})
    out.events.extend(cost_bookings(out, OLD, history))
    return out.events, out


def cost_bookings(out: Out, party: str, n: int) -> list[dict[str, Any]]:
    """`n` invoices on the participatiebudget, dated in order through the year."""
    rng = out.rng
    first = len(out.events)
    for i in range(n):
        category, sub, _ = PB_COSTS[rng.randrange(len(PB_COSTS))]
        day = 1 + i * 364 // max(n, 1)
        month = min(12, 1 + day // 31)
        out.add("CostBooked", party, f"{out.year}-{month:02d}-{1 + day % 28:02d}",
                {"budget": "participatiebudget", "subBudget": sub, "category": category,
                 "amountCents": rng.randint(5_000, 2_500_000)}, f"factuur {party}-{i + 1:06d}")
    batch = out.events[first:]
    del out.events[first:]
    return batch


def interleaved(measured: dict[str, list[list[dict[str, Any]]]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """One warm-up batch for WARM, then the batches of each party in turn (OLD, NEW, OLD, ...),
    so both meet the same conditions; the first batch of each finds its book cold."""
    parties = [OLD, NEW]
    turns = [(WARM, measured[WARM][0])]
    for i in range(max(len(measured[p]) for p in parties)):
        turns += [(p, measured[p][i]) for p in parties if i < len(measured[p])]
    return turns


def run_direct(url: str, turns: list[tuple[str, list[dict[str, Any]]]]) -> dict[str, list[float]]:
    from ledger.events import parse_event

    ledger = keyed_ledger(url)  # a new instance: its cache of books is empty
    latencies: dict[str, list[float]] = {}
    for party, batch in turns:
        t0 = time.perf_counter()
        ledger.post([parse_event(e) for e in batch], "admin:bench-history")
        latencies.setdefault(party, []).append(time.perf_counter() - t0)
    ledger.close()
    return latencies


def run_http(url: str, token: str, turns: list[tuple[str, list[dict[str, Any]]]]) -> dict[str, list[float]]:
    latencies: dict[str, list[float]] = {}
    with common.Server(url) as server:  # a new process: nothing cached
        for party, batch in turns:
            one: list[float] = []
            asyncio.run(common.post_streams(server.base, [[orjson.dumps({"events": batch})]], [token], one))
            latencies.setdefault(party, []).extend(one)
    return latencies


def cold_load_ms(url: str, party: str) -> float:
    """A new instance's load of the book: its latest sealed snapshot, proven, and the events after it."""
    from ledger.book import Book

    ledger = keyed_ledger(url)
    t0 = time.perf_counter()
    ledger.repository.get(Book.create_id(party))
    elapsed = time.perf_counter() - t0
    ledger.close()
    return elapsed * 1000


def raw_rates(url: str, prefill: list[dict[str, Any]], turns: list[tuple[str, list[dict[str, Any]]]]) -> dict[str, float]:
    """Events/s (batch size ÷ median batch time) of the same batches INSERTed into a plain
    table holding the history (OLD's batches) and into an empty one (NEW's), interleaved."""
    tables = {OLD: "bench_raw_old", NEW: "bench_raw_new", WARM: "bench_raw_new"}
    for table in set(tables.values()):
        common.raw_table(url, table)
    conn = common.raw_connect(url)
    for chunk in common.chunks([(e["id"], orjson.dumps(e).decode()) for e in prefill], 1000):
        common.raw_insert_batch(conn, url, chunk, tables[OLD])
    spent: dict[str, list[float]] = {OLD: [], NEW: [], WARM: []}
    for party, batch in turns:
        rows = [(e["id"], orjson.dumps(e).decode()) for e in batch]
        t0 = time.perf_counter()
        common.raw_insert_batch(conn, url, rows, tables[party])
        spent[party].append((time.perf_counter() - t0) / len(rows))
    conn.close()
    return {party: 1 / statistics.median(spent[party]) for party in (OLD, NEW)}


def main() -> None:
    p = common.parser(__doc__.split("\n\n")[0], events=0)
    p.add_argument("--history", type=int, default=100_000, help="prior events on the one budget (default 100,000)")
    p.add_argument("--batches", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--via", default="http,direct", help="http and/or direct, comma-separated")
    p.add_argument("--year", type=int, default=2024)
    args = p.parse_args()
    os.environ["LEDGER_SNAPSHOT_KEY"] = KEY  # for the `ledger serve` that common.Server starts
    setup, out = setup_events(args.history, args.year, args.seed)
    n = args.batches * args.batch_size

    def fresh_batches() -> dict[str, list[list[dict[str, Any]]]]:  # new ids for every run
        return {party: [list(b) for b in common.chunks(cost_bookings(out, party, n), args.batch_size)]
                for party in (OLD, NEW, WARM)}

    rows: list[common.Row] = []
    sizes = {"history": args.history, "batches": args.batches, "batchSize": args.batch_size}
    with common.fresh_db(args.db, "history", args.keep) as url:
        load_s = load_sealed(url, setup)
        project_s = common.project_all(url)
        print(f"  setup: {len(setup):,} events posted in {load_s:.1f} s, projected in {project_s:.1f} s")
        (admin,) = common.tokens(url, ("admin", None))
        raw = raw_rates(url, setup, interleaved(fresh_batches()))
        cold_load_ms(url, WARM)  # imports and first-use costs, before either is measured
        loads = {party: cold_load_ms(url, party) for party in (OLD, NEW)}
        rows.append(common.Row("history", args.db,
                               f"cold load of the book with {args.history:,} events (stored sealed snapshot, proven)",
                               "ms", loads[OLD], loads[NEW], higher_is_better=False, sizes=sizes,
                               extra={"note": "raw column: the cold load of the new book"}))
        for via in args.via.split(","):
            turns = interleaved(fresh_batches())
            lat = run_http(url, admin, turns) if via == "http" else run_direct(url, turns)
            how = "HTTP, new server process" if via == "http" else "Ledger.post, new instance"
            # batch size ÷ median batch latency, the cold first batch apart: robust to a busy machine's outliers
            rate = {party: args.batch_size / statistics.median(lat[party][1:] or lat[party]) for party in (OLD, NEW)}
            for party in (OLD, NEW):
                label = f"budget with {args.history:,} prior events" if party == OLD else "new budget"
                rows.append(common.Row("history", args.db, f"{how}, {label}, batches of {args.batch_size} (median)", "events/s",
                                       rate[party], raw[party], sizes=sizes,
                                       extra={"firstBatchMs": round(lat[party][0] * 1000, 2),
                                              "restMs": common.percentiles(lat[party][1:])}))
            rows.append(common.Row("history", args.db, f"{how}: rate with history ÷ rate without", "ratio",
                                   rate[OLD] / rate[NEW], raw[OLD] / raw[NEW], target=0.9, sizes=sizes))
            rows.append(common.Row("history", args.db, f"{how}: first (cold) batch, book with history", "ms",
                                   lat[OLD][0] * 1000, lat[NEW][0] * 1000, higher_is_better=False, sizes=sizes,
                                   extra={"note": "raw column: the first batch of the new book"}))
    common.report(rows, record=not args.no_record)


if __name__ == "__main__":
    main()
