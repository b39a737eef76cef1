"""Single-event posts from 32 concurrent clients: latency percentiles and throughput.

    .venv/bin/python benchmarks/bench_single.py --db sqlite --events 20000 --clients 32

A fresh database and `ledger serve`; an admin registers the parties (4 gemeenten per
client, and their organisations); then 32 clients, each with its own parties and
keep-alive connection, POST the start of their parties' year one event per request
(the next after the answer), all clients at once. Each latency is request to answer;
the answer comes after the read model includes the event. The first `--warmup` posts
of each client are not measured.

Raw: 32 threads, each with its own connection to the same database, INSERT the same
JSON payloads one row per transaction (INSERT + COMMIT) into a plain table.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import orjson

import common
from generate import generate


def raw_single(url: str, streams: list[list[dict[str, Any]]]) -> tuple[float, list[float]]:
    common.raw_table(url)
    rows = [[(e["id"], orjson.dumps(e).decode()) for e in events] for events in streams]
    latencies: list[float] = []

    def work(conn: Any, mine: list[tuple[str, str]]) -> None:
        for row in mine:
            t0 = time.perf_counter()
            common.raw_insert_one(conn, url, row)
            latencies.append(time.perf_counter() - t0)

    elapsed = common.raw_threads(url, rows, work)
    return len(latencies) / elapsed, latencies


def main() -> None:
    p = common.parser(__doc__.split("\n\n")[0], events=20_000)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--warmup", type=int, default=3, help="posts per client before measuring (default 3)")
    args = p.parse_args()
    k = args.clients
    # a whole year of 4 parties per client, each client posting the start of its parties' year
    municipalities = 4 * k
    per_client = args.events // k + args.warmup
    events = list(generate(municipalities, seed=args.seed,
                           events_per_municipality=max(100, math.ceil(1.5 * per_client * k / municipalities))))
    registrations, rest = common.split_registration(events)
    streams = [s[:per_client] for s in common.partition(rest, k)]
    warm = [[orjson.dumps(e) for e in s[:args.warmup]] for s in streams]
    measured = [[orjson.dumps(e) for e in s[args.warmup:]] for s in streams]
    with common.fresh_db(args.db, "single", args.keep) as url:
        (admin,) = common.tokens(url, ("admin", None))
        auth = [admin] * k  # a client posts for several parties: an admin token (the same one token lookup per request)
        with common.Server(url) as server:
            common.post_batches(server.base, admin, registrations)
            asyncio.run(common.post_streams(server.base, warm, auth))
            latencies: list[float] = []
            elapsed = asyncio.run(common.post_streams(server.base, measured, auth, latencies))
            rss = server.peak_rss_mb()
        raw_rate, raw_latencies = raw_single(url, [s[args.warmup:] for s in streams])
    ours, raw = common.percentiles(latencies), common.percentiles(raw_latencies)
    sizes = {"events": len(latencies), "clients": k, "warmupPerClient": args.warmup, "parties": municipalities}
    extra = {"seconds": round(elapsed, 2), "serverPeakRssMB": rss, "ms": ours, "rawMs": raw}
    case = f"{k} clients, one event per POST"
    rows = [
        common.Row("single", args.db, case, "p99 ms", ours["p99"], raw["p99"], higher_is_better=False, target=50,
                   sizes=sizes, extra=extra),
        common.Row("single", args.db, case, "p50 ms", ours["p50"], raw["p50"], higher_is_better=False, sizes=sizes),
        common.Row("single", args.db, case, "p95 ms", ours["p95"], raw["p95"], higher_is_better=False, sizes=sizes),
        common.Row("single", args.db, case, "max ms", ours["max"], raw["max"], higher_is_better=False, sizes=sizes),
        common.Row("single", args.db, case, "events/s", len(latencies) / elapsed, raw_rate, sizes=sizes),
    ]
    common.report(rows, record=not args.no_record)


if __name__ == "__main__":
    main()
