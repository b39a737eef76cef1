"""HTTP ingest: a generated year posted in batches of 1,000 events, end to end.

    .venv/bin/python benchmarks/bench_ingest.py --db sqlite --events 200000
    .venv/bin/python benchmarks/bench_ingest.py --db postgres --events 200000 --topology embedded,workers,workers-embedded

For each topology and client count: a fresh database, `ledger serve` started on it, the
parties registered by an admin (not timed), then the rest of the events POSTed in batches
of `--batch` by one client, or by several clients at once, each with its own parties and
keep-alive connection. A POST answers after the read model includes its batch, so the
rate is end to end. Topologies: `embedded` (one process, the projector inside it, which
projects each post in its own transaction), `workers-embedded` (`serve --workers 2`, each
worker so), and on PostgreSQL `workers` (`serve --workers 2 --external-projector` and
`ledger project`: the workers do not project, the POST waits for that process).

Raw: the same JSON payloads INSERTed into a plain table (bigint identity, id text,
payload json/text) of the same database, `--batch` rows per transaction, by as many
connections as there were clients.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

import common

TARGETS = {"sqlite": 20_000, "postgres": 10_000}


def raw_ingest(url: str, streams: list[list[dict[str, Any]]], batch: int) -> float:
    """Events/s of plain batched INSERTs, one connection per stream, all at once."""
    common.raw_table(url)
    payloads = [[(e["id"], orjson.dumps(e).decode()) for e in s] for s in streams]

    def work(conn: Any, rows: list[tuple[str, str]]) -> None:
        for chunk in common.chunks(rows, batch):
            common.raw_insert_batch(conn, url, chunk)

    return sum(len(s) for s in streams) / common.raw_threads(url, payloads, work)


def run_case(store: str, topology: str, clients: int, events: list[dict[str, Any]], batch: int,
             keep: bool) -> common.Row:
    admin_events, rest = common.split_registration(events)
    streams = common.partition(rest, clients)
    bodies = [[orjson.dumps({"events": list(b)}) for b in common.chunks(s, batch)] for s in streams]
    external = topology == "workers"
    processes = 1 if topology == "embedded" else 2
    with common.fresh_db(store, "ingest", keep) as url:
        (admin,) = common.tokens(url, ("admin", None))
        with common.Server(url, workers=processes, external_projector=external) as server:
            common.post_batches(server.base, admin, admin_events, batch)
            elapsed = asyncio.run(common.post_streams(server.base, bodies, [admin] * clients))
            rss = server.peak_rss_mb()
        ours = len(rest) / elapsed
        raw = raw_ingest(url, streams, batch)
    label = {
        "embedded": "serve (embedded projector)",
        "workers-embedded": "serve --workers 2 (each worker projecting)",
        "workers": "serve --workers 2 --external-projector + ledger project",
    }[topology]
    return common.Row(
        bench="ingest", store=store, case=f"HTTP batches of {batch}, {clients} client{'s' * (clients > 1)}, {label}",
        metric="events/s", value=ours, raw=raw, target=TARGETS[store],
        sizes={"events": len(rest), "registrations": len(admin_events), "batch": batch, "clients": clients,
               "topology": topology},
        extra={"seconds": round(elapsed, 2), "serverPeakRssMB": rss},
    )


def main() -> None:
    p = common.parser(__doc__.split("\n\n")[0], events=200_000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--clients", default="1,4", help="client counts to run, comma-separated (default 1,4)")
    p.add_argument("--topology", default="embedded,workers-embedded,workers",
                   help="embedded, workers-embedded and/or workers (PostgreSQL only), comma-separated")
    args = p.parse_args()
    events = common.dataset(args.events, args.seed)
    topologies = [t for t in args.topology.split(",") if t != "workers" or args.db == "postgres"]
    for topology in topologies:
        for clients in (int(c) for c in args.clients.split(",")):
            row = run_case(args.db, topology, clients, events, args.batch, args.keep)
            common.report([row], record=not args.no_record)


if __name__ == "__main__":
    main()
