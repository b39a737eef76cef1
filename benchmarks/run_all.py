"""Run every benchmark at the issue's sizes on both stores; print BENCHMARKS.md tables.

    .venv/bin/python benchmarks/run_all.py > benchmarks-run.md          # full sizes: ~1-2 hours
    .venv/bin/python benchmarks/run_all.py --quick > /tmp/smoke.md      # small sizes: minutes
    .venv/bin/python benchmarks/run_all.py --stores postgres --only rebuild,reads

Each benchmark runs as its own process (its output goes to stderr); every result row is
appended to benchmarks/results.jsonl tagged with this run's id, and at the end the rows
of this run are printed to stdout as markdown: target, measured, raw (the same work done
directly on the same database in the same run), ratio and pass/fail, per store, with
the machine, date and commit. The rebuild and reads benchmarks share one database of
N events (loaded once, dropped at the end unless --keep).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

import common

FULL = {"ingest": 200_000, "single": 20_000, "history": 100_000, "year": 1_000_000, "requests": 5000}
QUICK = {"ingest": 20_000, "single": 3_000, "history": 20_000, "year": 20_000, "requests": 1000}
BENCHES = ("check", "ingest", "single", "history", "rebuild", "reads")
RAW = {
    "ingest": "plain INSERT of the same JSON payloads into a plain table (bigint identity, id, payload), "
              "batches of 1,000 per transaction, as many connections as clients",
    "single": "32 threads, each its own connection, INSERT + COMMIT of one payload at a time",
    "history": "the same batches INSERTed into a plain table holding the history vs an empty one "
               "(cold-load and first-batch rows: the raw column is the new book's figure)",
    "rebuild": "SELECT of every stored event from the event store's table, streamed, each JSON-decoded",
    "reads": "each read (balances, reserves, cost split under each policy, kpis, winst, the trail's first page, "
             "Iv3; every one with the target p99 ≤ 5 ms) as plain SELECTs of the same rows on the read-model tables "
             "with JSON decode/encode, as many threads with their own connections as clients",
}


def run(script: str, *args: str) -> None:
    cmd = [sys.executable, str(common.HERE / script), *args]
    print(f"\n$ {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=common.ROOT, stdout=sys.stderr, stderr=sys.stderr)
    print(f"  ({time.perf_counter() - start:,.0f} s, exit {done.returncode})", file=sys.stderr, flush=True)
    if done.returncode != 0:
        print(f"WARNING: {script} failed with exit {done.returncode}", file=sys.stderr)


def markdown(run_id: str, rows: list[dict[str, Any]], started: str) -> str:
    if not rows:
        return f"No results recorded for run {run_id}.\n"
    m = rows[0]["machine"]
    out = [
        f"## Benchmark run {run_id}",
        "",
        f"- date: {started} (UTC)",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['ramGB']} GB RAM; load average at the first result "
        f"{', '.join(map(str, m['loadavg']))}",
        f"- software: Python {m['python']}, SQLite {m['sqlite']}, PostgreSQL {m.get('postgres') or '-'}, "
        f"kernel {m['kernel']}",
        f"- commit: {rows[0]['commit']}",
        "- ratio: how many times the raw cost ours is (raw rate ÷ our rate, or our latency ÷ raw latency)",
        "",
    ]
    for store in ("sqlite", "postgres"):
        mine = [r for r in rows if r["store"] == store]
        if not mine:
            continue
        out += [f"### {'SQLite' if store == 'sqlite' else 'PostgreSQL'}", "",
                "| benchmark | case | target | measured | raw | ratio | result |",
                "|---|---|---|---:|---:|---:|---|"]
        for r in mine:
            ratio = f"×{r['ratio']:.2f}" if r["ratio"] is not None else ""
            result = {True: "pass", False: "**FAIL**", None: ""}[r["pass"]]
            raw = f"{common.fmt(r['raw'])} {r['metric']}" if r["raw"] is not None else "-"
            out.append(f"| {r['bench']} | {r['case']} | {r['targetText']} | {common.fmt(r['value'])} {r['metric']} "
                       f"| {raw} | {ratio} | {result} |")
        out.append("")
    out += ["Raw figures:", ""] + [f"- {bench}: {text}" for bench, text in RAW.items()] + [""]
    sizes = {}
    for r in rows:
        sizes.setdefault(r["bench"], r["sizes"])
    out += ["Sizes:", ""] + [f"- {bench}: {orjson.dumps(s).decode()}" for bench, s in sizes.items()] + [""]
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--stores", default="sqlite,postgres")
    p.add_argument("--only", default=",".join(BENCHES), help=f"which of {', '.join(BENCHES)} (default all)")
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke test, not a measurement")
    p.add_argument("--keep", action="store_true", help="keep the year database of rebuild and reads")
    p.add_argument("--size", action="append", default=[], metavar="NAME=N",
                   help=f"override one size ({', '.join(FULL)}), e.g. year=300000; repeatable")
    args = p.parse_args()
    sizes = dict(QUICK if args.quick else FULL)
    for override in args.size:
        name, _, value = override.partition("=")
        if name not in sizes or not value.isdigit():
            p.error(f"--size {override}: expected one of {', '.join(sizes)} = a whole number")
        sizes[name] = int(value)
    only = set(args.only.split(","))
    run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    os.environ["BENCH_RUN_ID"] = run_id
    started = datetime.now(UTC).isoformat(timespec="seconds")
    print(f"run {run_id}: {common.machine()}", file=sys.stderr)
    for store in args.stores.split(","):
        if "check" in only:
            run("check_generated.py", "--db", store, "--municipalities", "5")
        if "ingest" in only:
            run("bench_ingest.py", "--db", store, "--events", str(sizes["ingest"]))
        if "single" in only:
            run("bench_single.py", "--db", store, "--events", str(sizes["single"]))
        if "history" in only:
            run("bench_history.py", "--db", store, "--history", str(sizes["history"]))
        if only & {"rebuild", "reads"}:
            url = common.create_db(store, "year")
            try:
                if "rebuild" in only:
                    run("bench_rebuild.py", "--reuse", url, "--events", str(sizes["year"]))
                if "reads" in only:
                    run("bench_reads.py", "--reuse", url, "--events", str(sizes["year"]),
                        "--requests", str(sizes["requests"]))
            finally:
                if args.keep:
                    print(f"kept {url}", file=sys.stderr)
                else:
                    common.drop_db(url)
    rows = []
    if common.RESULTS.exists():
        for line in common.RESULTS.read_bytes().splitlines():
            row = orjson.loads(line)
            if row.get("run") == run_id:
                rows.append(row)
    print(markdown(run_id, rows, started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
