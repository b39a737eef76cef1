"""Balance and cost-split reads over HTTP with N events in the log: latency percentiles.

    .venv/bin/python benchmarks/bench_reads.py --db sqlite --events 1000000
    .venv/bin/python benchmarks/bench_reads.py --reuse sqlite:////tmp/ledger-bench/year.db --events 1000000

The log holds the first N events of a generated year (`--reuse URL` of the rebuild
benchmark's database, else loaded here through `Ledger.post` and projected). Then
`ledger serve`, and `--clients` concurrent clients on keep-alive connections, each
reading as a finance controller would: GET /v1/balances?party=..&year=.. with the token
of a random gemeente's controller, and GET /v1/organisations/{code}/cost-split?year=..
with the token of a controller of a random member of a random organisation.
`--requests` of each, after `--warmup` not measured.

Raw: the same reads as plain SELECTs on the read-model tables with JSON decode and
encode, from as many threads with their own connections: the budget lines of the
party and year; the organisation's key (weights decoded), charges (usage decoded) and
memberships for the year.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

import bench_rebuild
import common


async def http_reads(base: str, requests: list[tuple[str, dict[str, Any], str]], clients: int) -> tuple[float, list[float]]:
    """GET each (path, params, token), spread over `clients` keep-alive connections."""
    latencies: list[float] = []

    async def client(mine: list[tuple[str, dict[str, Any], str]]) -> None:
        async with aiohttp.ClientSession(base_url=base, connector=aiohttp.TCPConnector(limit=1)) as s:
            for path, params, token in mine:
                t0 = time.perf_counter()
                async with s.get(path, params=params, headers={"Authorization": f"Bearer {token}"}) as r:
                    body = await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"GET {path} {params}: {r.status} {body[:500]!r}")
                latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(client(requests[i::clients]) for i in range(clients)))
    return time.perf_counter() - start, latencies


def raw_reads(url: str, work: list[Any], clients: int, read: Callable[[Any, Any], bytes]) -> list[float]:
    conns = [common.raw_connect(url) for _ in range(clients)]
    latencies: list[float] = []

    def run(conn: Any, mine: list[Any]) -> None:
        for item in mine:
            t0 = time.perf_counter()
            read(conn, item)
            latencies.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=run, args=(conns[i], work[i::clients])) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in conns:
        c.close()
    return latencies


def sql(url: str, text: str) -> str:
    return text if url.startswith("sqlite:///") else text.replace("?", "%s")


def raw_balance(url: str) -> Callable[[Any, tuple[str, int]], bytes]:
    q = sql(url, "SELECT party, year, budget, sub_budget, allocated, income, spent, committed FROM budget_lines "
                 "WHERE party = ? AND year = ? ORDER BY budget, sub_budget")

    def read(conn: Any, item: tuple[str, int]) -> bytes:
        rows = conn.execute(q, item).fetchall()
        return orjson.dumps({"results": [
            {"party": p, "year": y, "budget": b, "subBudget": s or None, "allocatedCents": a, "incomeCents": i,
             "spentCents": sp, "committedCents": c, "availableCents": a + i - sp - c, "saldoCents": a + i - sp}
            for p, y, b, s, a, i, sp, c in rows]})

    return read


def raw_cost_split(url: str) -> Callable[[Any, tuple[str, int]], bytes]:
    key = sql(url, "SELECT year, basis, weights, policy FROM allocation_keys WHERE organisation = ? AND year <= ? "
                   "ORDER BY year DESC, position DESC LIMIT 1")
    charges = sql(url, "SELECT unit, cents, usage FROM organisation_charges WHERE organisation = ? AND year = ? ORDER BY position")
    members = sql(url, "SELECT member, joined, left_on FROM memberships WHERE organisation = ? ORDER BY member, joined")

    def read(conn: Any, item: tuple[str, int]) -> bytes:
        org, year = item
        k = conn.execute(key, item).fetchone()
        items = [(u, c, orjson.loads(usage) if usage else None) for u, c, usage in conn.execute(charges, item).fetchall()]
        periods = conn.execute(members, (org,)).fetchall()
        return orjson.dumps({"organisation": org, "year": year, "weights": orjson.loads(k[2]) if k else None,
                             "items": items, "members": periods})

    return read


def targets(url: str) -> tuple[int, list[str], dict[str, list[str]]]:
    """The year, the gemeenten, and each organisation's members in that year's read model."""
    conn = common.raw_connect(url)
    try:
        year = conn.execute("SELECT MAX(year) FROM budget_lines").fetchone()[0]
        gemeenten = [r[0] for r in conn.execute("SELECT code FROM parties WHERE kind = 'gemeente' ORDER BY code")]
        orgs: dict[str, list[str]] = {}
        for org, member in conn.execute("SELECT organisation, member FROM memberships ORDER BY organisation, member"):
            orgs.setdefault(org, []).append(member)
        keyed = {r[0] for r in conn.execute("SELECT DISTINCT organisation FROM allocation_keys")}
    finally:
        conn.close()
    return year, gemeenten, {o: m for o, m in orgs.items() if o in keyed}


def run(url: str, args: Any) -> None:
    loaded = bench_rebuild.prepare(url, args.events, args.seed)
    if loaded is not None or common.head_of(url) > _projected(url):
        print(f"  projected the log in {common.project_all(url):,.1f} s", flush=True)
    head = common.head_of(url)
    year, gemeenten, orgs = targets(url)
    rng = random.Random(args.seed)
    controllers = dict(zip(gemeenten, common.tokens(url, *(("controller", g) for g in gemeenten)), strict=True))
    total = args.requests + args.warmup
    balance_work = [(rng.choice(gemeenten), year) for _ in range(total)]
    org_work = [(org, year) for org in (rng.choice(sorted(orgs)) for _ in range(total))]
    balance_reqs = [("/v1/balances", {"party": p, "year": y}, controllers[p]) for p, y in balance_work]
    split_reqs = [(f"/v1/organisations/{o}/cost-split", {"year": y}, controllers[rng.choice(orgs[o])]) for o, y in org_work]
    rows = []
    sizes = {"events": head, "requests": args.requests, "clients": args.clients, "parties": len(gemeenten),
             "organisations": len(orgs)}
    with common.Server(url) as server:
        for name, reqs, work, raw in (("GET /v1/balances?party&year", balance_reqs, balance_work, raw_balance(url)),
                                      ("GET /v1/organisations/{code}/cost-split?year", split_reqs, org_work,
                                       raw_cost_split(url))):
            asyncio.run(http_reads(server.base, reqs[:args.warmup], args.clients))
            elapsed, lat = asyncio.run(http_reads(server.base, reqs[args.warmup:], args.clients))
            raw_reads(url, work[:args.warmup], args.clients, raw)
            raw_lat = raw_reads(url, work[args.warmup:], args.clients, raw)
            ours, plain = common.percentiles(lat), common.percentiles(raw_lat)
            case = f"{name}, {args.clients} clients"
            extra = {"ms": ours, "rawMs": plain, "requestsPerSecond": round(len(lat) / elapsed, 1)}
            rows += [
                common.Row("reads", common.store_of(url), case, "p99 ms", ours["p99"], plain["p99"], higher_is_better=False,
                           target=5, sizes=sizes, extra=extra),
                common.Row("reads", common.store_of(url), case, "p50 ms", ours["p50"], plain["p50"], higher_is_better=False,
                           sizes=sizes),
            ]
    common.report(rows, record=not args.no_record)


def _projected(url: str) -> int:
    conn = common.raw_connect(url)
    try:
        row = conn.execute("SELECT position FROM projection_tracking WHERE name = 'read-model'").fetchone()
    except Exception:  # noqa: BLE001 - no read model yet
        return 0
    finally:
        conn.close()
    return row[0] if row else 0


def main() -> None:
    p = common.parser(__doc__.split("\n\n")[0], events=1_000_000)
    p.add_argument("--reuse", metavar="URL", help="use (and keep) this database; load it first if it is empty")
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--requests", type=int, default=5000, help="measured requests per endpoint (default 5,000)")
    p.add_argument("--warmup", type=int, default=200)
    args = p.parse_args()
    with common.reused_or_fresh(args, "reads") as url:
        run(url, args)


if __name__ == "__main__":
    main()
