"""Every read of the issue over HTTP with N events in the log: latency percentiles.

    .venv/bin/python benchmarks/bench_reads.py --db sqlite --events 1000000
    .venv/bin/python benchmarks/bench_reads.py --reuse sqlite:////tmp/ledger-bench/year.db --events 1000000

The log holds the first N events of a generated year (`--reuse URL` of the rebuild
benchmark's database, else loaded here through `Ledger.post` and projected). Then
`ledger serve`, and `--clients` concurrent clients on keep-alive connections, each
reading as a finance controller would, with the token of a random gemeente's
controller: its balances, reserves, kpis, winst and Iv3 figures for the year, and the
first page of the trail of one of its budgets; and with the token of a controller of
a random member of a random organisation, that organisation's cost split under
`solidariteit` and under `profijt`. `--requests` of each, after `--warmup` not
measured; `--only` names some of the reads.

Raw: the same reads as plain SELECTs on the read-model tables with JSON decode and
encode, from as many threads with their own connections: the budget lines of the
party and year; its reserves with their movements summed; its placements, targets,
outflows, commitments and subsidies; its winst movements; the budget's movements
joined to their events (bodies decoded), first page; its events of the year and its
allocations (bodies decoded); the organisation's key (weights decoded), charges
(usage decoded) and memberships for the year.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
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


Raw = Callable[[Any, Any], bytes]


def raw_balance(url: str) -> Raw:
    q = sql(url, "SELECT party, year, budget, sub_budget, allocated, income, spent, committed FROM budget_lines "
                 "WHERE party = ? AND year = ? ORDER BY budget, sub_budget")

    def read(conn: Any, item: tuple[str, int]) -> bytes:
        rows = conn.execute(q, item).fetchall()
        return orjson.dumps({"results": [
            {"party": p, "year": y, "budget": b, "subBudget": s or None, "allocatedCents": a, "incomeCents": i,
             "spentCents": sp, "committedCents": c, "availableCents": a + i - sp - c, "saldoCents": a + i - sp}
            for p, y, b, s, a, i, sp, c in rows]})

    return read


def raw_reserves(url: str) -> Raw:
    q = sql(url, "SELECT r.party, r.reserve, r.purpose, r.revolving, "
                 "COALESCE(SUM(CASE WHEN m.effective_date <= ? THEN m.added - m.withdrawn ELSE 0 END), 0), "
                 "COALESCE(SUM(CASE WHEN m.effective_date BETWEEN ? AND ? THEN m.added ELSE 0 END), 0), "
                 "COALESCE(SUM(CASE WHEN m.effective_date BETWEEN ? AND ? THEN m.withdrawn ELSE 0 END), 0) "
                 "FROM reserves r LEFT JOIN reserve_movements m ON m.party = r.party AND m.reserve = r.reserve "
                 "WHERE r.party = ? GROUP BY r.party, r.reserve, r.purpose, r.revolving ORDER BY r.reserve")

    def read(conn: Any, item: tuple[str, int]) -> bytes:
        party, year = item
        first, last = f"{year}-01-01", f"{year}-12-31"
        rows = conn.execute(q, (last, first, last, first, last, party)).fetchall()
        return orjson.dumps({"results": [
            {"party": p, "reserve": r, "purpose": u, "revolving": bool(v), "balanceCents": int(b), "addedCents": int(a),
             "withdrawnCents": int(w)} for p, r, u, v, b, a, w in rows]})

    return read


def raw_kpis(url: str) -> Raw:
    """The KPIs' SELECTs (projections/queries.py): placements counted per kind and hours in SQL,
    the year's targets and outflow, the current commitments, the grants running in the year."""
    qs = [sql(url, q) for q in (
        "SELECT kind, hours, SUM(CASE WHEN started BETWEEN ? AND ? THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN ended BETWEEN ? AND ? THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN started <= ? AND (ended IS NULL OR ended > ?) THEN 1 ELSE 0 END) "
        "FROM placements WHERE party = ? GROUP BY kind, hours",
        "SELECT kind, places, binding FROM placement_targets WHERE party = ? AND year = ? ORDER BY position",
        "SELECT extent, SUM(clients), SUM(avoided) FROM outflows WHERE party = ? AND year = ? GROUP BY extent",
        "SELECT COALESCE(SUM(committed), 0) FROM budget_lines WHERE party = ? AND year = ?",
        "SELECT COUNT(*) FROM subsidies WHERE party = ? AND start_date <= ? AND (end_date IS NULL OR end_date >= ?) "
        "AND (ended_on IS NULL OR ended_on >= ?)",
    )]

    def read(conn: Any, item: tuple[str, int]) -> bytes:
        party, year = item
        first, last = f"{year}-01-01", f"{year}-12-31"
        placements = conn.execute(qs[0], (first, last, first, last, last, last, party)).fetchall()
        targets = conn.execute(qs[1], item).fetchall()
        outflows = conn.execute(qs[2], item).fetchall()
        (committed,) = conn.execute(qs[3], item).fetchone()
        (grants,) = conn.execute(qs[4], (party, last, first, first)).fetchone()
        return orjson.dumps({"placements": [(k, orjson.loads(h), int(s), int(e), int(a)) for k, h, s, e, a in placements],
                             "targets": [(k, orjson.loads(p), b) for k, p, b in targets],
                             "outflows": [(e, int(n), int(a)) for e, n, a in outflows],
                             "committedCents": int(committed), "grants": int(grants)})

    return read


def raw_winst(url: str) -> Raw:
    q = sql(url, "SELECT year, source, destination, member, realised, reinvested FROM winst_movements WHERE party = ?")

    def read(conn: Any, item: tuple[str, int]) -> bytes:
        rows = conn.execute(q, (item[0],)).fetchall()
        return orjson.dumps({"realisedCents": sum(int(r[4]) for r in rows if r[0] == item[1]),
                             "movements": [(y, s, d, m, int(r), int(i)) for y, s, d, m, r, i in rows]})

    return read


PAGE = 100  # the API's default page size: the trail's first page


def raw_trail(url: str) -> Raw:
    """The first page of the line's movements in the trail's order, joined to their events, and the count."""
    order = "position, sub_budget, CASE WHEN committed = 0 THEN 0 ELSE 1 END, allocated, income, spent, committed"
    page = sql(url, "SELECT m.position, m.sub_budget, m.allocated, m.income, m.spent, m.committed, e.body FROM ("
                    "SELECT position, sub_budget, allocated, income, spent, committed FROM budget_movements "
                    f"WHERE party = ? AND year = ? AND budget = ? ORDER BY {order} LIMIT {PAGE}"
                    ") m JOIN log_events e ON e.position = m.position ORDER BY m.position")
    count = sql(url, "SELECT COUNT(*) FROM budget_movements WHERE party = ? AND year = ? AND budget = ?")

    def read(conn: Any, item: tuple[str, int, str]) -> bytes:
        rows = conn.execute(page, item).fetchall()
        (n,) = conn.execute(count, item).fetchone()
        results = [{"position": p, "subBudget": s or None, "allocatedCents": a, "incomeCents": i, "spentCents": sp,
                    "committedCents": c, "event": orjson.loads(body)} for p, s, a, i, sp, c, body in rows]
        return orjson.dumps({"count": int(n), "results": results})

    return read


def raw_iv3(url: str) -> Raw:
    """The kept cells and revised lines of the year's jaarrekening (projections/iv3_sums.py)."""
    cells = sql(url, "SELECT side, taakveld, categorie, SUM(cents) FROM iv3_cells WHERE party = ? AND year = ? "
                     "AND bucket BETWEEN 1 AND 5 GROUP BY side, taakveld, categorie")
    revised = sql(url, "SELECT line_year, budget, sub_budget, SUM(cents) FROM iv3_revisions WHERE party = ? AND year = ? "
                       "AND bucket BETWEEN 1 AND 5 GROUP BY line_year, budget, sub_budget")
    closed = sql(url, "SELECT 1 FROM iv3_closed WHERE party = ? AND year = ?")

    def read(conn: Any, item: tuple[str, int]) -> bytes:
        return orjson.dumps({"cells": [(s, t, c, int(n)) for s, t, c, n in conn.execute(cells, item).fetchall()],
                             "revised": [(y, b, u, int(n)) for y, b, u, n in conn.execute(revised, item).fetchall()],
                             "closed": conn.execute(closed, item).fetchone() is not None})

    return read


def raw_cost_split(url: str) -> Raw:
    """The year's key, the kept sums and profijt shares (projections/charge_sums.py), the memberships."""
    key = sql(url, "SELECT year, basis, weights, policy FROM allocation_keys WHERE organisation = ? AND year <= ? "
                   "ORDER BY year DESC, position DESC LIMIT 1")
    units = sql(url, "SELECT unit, cents, nonzero, profijt_key_cents, profijt_key_nonzero FROM organisation_charge_sums "
                     "WHERE organisation = ? AND year = ?")
    shares = sql(url, "SELECT member, numerator, denominator FROM organisation_profijt_shares "
                      "WHERE organisation = ? AND year = ?")
    members = sql(url, "SELECT member, joined, left_on FROM memberships WHERE organisation = ? ORDER BY member, joined")

    def read(conn: Any, item: tuple[str, int]) -> bytes:
        org, year = item
        k = conn.execute(key, item).fetchone()
        return orjson.dumps({"organisation": org, "year": year, "weights": orjson.loads(k[2]) if k else None,
                             "units": conn.execute(units, item).fetchall(), "shares": conn.execute(shares, item).fetchall(),
                             "members": conn.execute(members, (org,)).fetchall()})

    return read


@dataclass(frozen=True)
class World:
    """What the reads are drawn from: the year, each gemeente's budgets that year, each
    organisation's members (organisations with a key only), and a controller token per gemeente."""

    year: int
    budgets: dict[str, list[str]]
    orgs: dict[str, list[str]]
    controllers: dict[str, str]


def targets(url: str) -> tuple[int, dict[str, list[str]], dict[str, list[str]]]:
    """The year, each gemeente's budgets, and each keyed organisation's members in that year's read model."""
    conn = common.raw_connect(url)
    try:
        year = conn.execute("SELECT MAX(year) FROM budget_lines").fetchone()[0]
        gemeenten = {r[0] for r in conn.execute("SELECT code FROM parties WHERE kind = 'gemeente'")}
        budgets: dict[str, list[str]] = {}
        for party, budget in conn.execute(sql(url, "SELECT DISTINCT party, budget FROM budget_lines WHERE year = ? "
                                                   "ORDER BY party, budget"), (year,)):
            budgets.setdefault(party, []).append(budget)
        orgs: dict[str, list[str]] = {}
        for org, member in conn.execute("SELECT organisation, member FROM memberships ORDER BY organisation, member"):
            orgs.setdefault(org, []).append(member)
        keyed = {r[0] for r in conn.execute("SELECT DISTINCT organisation FROM allocation_keys")}
    finally:
        conn.close()
    return year, {g: b for g, b in budgets.items() if g in gemeenten}, {o: m for o, m in orgs.items() if o in keyed}


Request = tuple[str, dict[str, Any], str]
Draw = Callable[[random.Random, World], tuple[Request, Any]]  # one HTTP request and the raw read's item


def party_read(path: str) -> Draw:
    """`path?party&year` of a random gemeente, with its controller's token."""
    def draw(rng: random.Random, w: World) -> tuple[Request, Any]:
        party = rng.choice(sorted(w.budgets))
        return (path, {"party": party, "year": w.year}, w.controllers[party]), (party, w.year)

    return draw


def trail_read(rng: random.Random, w: World) -> tuple[Request, Any]:
    party = rng.choice(sorted(w.budgets))
    budget = rng.choice(w.budgets[party])
    return (f"/v1/balances/{party}/{w.year}/{budget}/trail", {}, w.controllers[party]), (party, w.year, budget)


def split_read(policy: str) -> Draw:
    """A random organisation's cost split under `policy`, with the token of a random member's controller."""
    def draw(rng: random.Random, w: World) -> tuple[Request, Any]:
        org = rng.choice(sorted(w.orgs))
        token = w.controllers[rng.choice(w.orgs[org])]
        return (f"/v1/organisations/{org}/cost-split", {"year": w.year, "policy": policy}, token), (org, w.year)

    return draw


@dataclass(frozen=True)
class Read:
    """One read the issue times: its row's name, the request drawn, the raw read of the same rows."""

    case: str
    draw: Draw
    raw: Callable[[str], Raw]


READS = {
    "balances": Read("GET /v1/balances?party&year", party_read("/v1/balances"), raw_balance),
    "reserves": Read("GET /v1/reserves?party&year", party_read("/v1/reserves"), raw_reserves),
    "cost-split-solidariteit": Read("GET /v1/organisations/{code}/cost-split?year&policy=solidariteit",
                                    split_read("solidariteit"), raw_cost_split),
    "cost-split-profijt": Read("GET /v1/organisations/{code}/cost-split?year&policy=profijt", split_read("profijt"),
                               raw_cost_split),
    "kpis": Read("GET /v1/kpis?party&year", party_read("/v1/kpis"), raw_kpis),
    "winst": Read("GET /v1/winst?party&year", party_read("/v1/winst"), raw_winst),
    "trail": Read("GET /v1/balances/{party}/{year}/{budget}/trail, first page", trail_read, raw_trail),
    "iv3": Read("GET /v1/iv3?party&year", party_read("/v1/iv3"), raw_iv3),
}


def measure(url: str, server: common.Server, read: Read, world: World, args: Any) -> list[common.Row]:
    """One read, over HTTP and raw: its p99 row (with the 5 ms target) and its p50 row."""
    rng, raw = random.Random(args.seed), read.raw(url)
    drawn = [read.draw(rng, world) for _ in range(args.requests + args.warmup)]
    reqs, work = [r for r, _ in drawn], [w for _, w in drawn]
    asyncio.run(http_reads(server.base, reqs[:args.warmup], args.clients))
    elapsed, lat = asyncio.run(http_reads(server.base, reqs[args.warmup:], args.clients))
    raw_reads(url, work[:args.warmup], args.clients, raw)
    raw_lat = raw_reads(url, work[args.warmup:], args.clients, raw)
    ours, plain = common.percentiles(lat), common.percentiles(raw_lat)
    case = f"{read.case}, {args.clients} clients" + (f", serve --workers {args.workers}" if args.workers > 1 else "")
    sizes = {"events": common.head_of(url), "requests": args.requests, "clients": args.clients, "workers": args.workers,
             "parties": len(world.budgets), "organisations": len(world.orgs)}
    extra = {"ms": ours, "rawMs": plain, "requestsPerSecond": round(len(lat) / elapsed, 1)}
    return [
        common.Row("reads", common.store_of(url), case, "p99 ms", ours["p99"], plain["p99"], higher_is_better=False,
                   target=5, sizes=sizes, extra=extra),
        common.Row("reads", common.store_of(url), case, "p50 ms", ours["p50"], plain["p50"], higher_is_better=False,
                   sizes=sizes),
    ]


def analyze(url: str) -> None:
    """PostgreSQL's planner statistics for the freshly loaded tables, as autovacuum would
    gather them in a minute or so: without them it sorts a busy line's every movement
    for the trail's first page instead of reading it in index order."""
    conn = common.raw_connect(url)
    try:
        conn.execute("ANALYZE")
    finally:
        conn.close()


def run(url: str, args: Any) -> None:
    loaded = bench_rebuild.prepare(url, args.events, args.seed)
    if loaded is not None or common.head_of(url) > _projected(url):
        print(f"  projected the log in {common.project_all(url):,.1f} s", flush=True)
    if not url.startswith("sqlite:///"):
        analyze(url)
    year, budgets, orgs = targets(url)
    gemeenten = sorted({*budgets, *(m for members in orgs.values() for m in members)})
    controllers = dict(zip(gemeenten, common.tokens(url, *(("controller", g) for g in gemeenten)), strict=True))
    world = World(year, budgets, orgs, controllers)
    rows: list[common.Row] = []
    with common.Server(url, workers=args.workers) as server:
        for name in args.only.split(","):
            rows += measure(url, server, READS[name], world, args)
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
    p.add_argument("--workers", type=int, default=1, help="serve --workers N: the reads spread over N processes")
    p.add_argument("--requests", type=int, default=5000, help="measured requests per endpoint (default 5,000)")
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--only", default=",".join(READS), help=f"which of {', '.join(READS)} (default all)")
    args = p.parse_args()
    with common.reused_or_fresh(args, "reads") as url:
        run(url, args)


if __name__ == "__main__":
    main()
