"""`ledger rebuild`: events per second and peak memory over a log of N events.

    .venv/bin/python benchmarks/bench_rebuild.py --db sqlite --events 1000000
    .venv/bin/python benchmarks/bench_rebuild.py --reuse sqlite:////tmp/ledger-bench/year.db --events 1000000

Loads the first N events of a generated year into a fresh database through
`Ledger.post` in this process, in batches of 1,000 (the fast path: no HTTP, no
projection; the time it took is printed), unless `--reuse URL` names a database that
already holds them (a new or empty one is loaded and kept). Then runs
`python -m api.cli rebuild --quiet` as a subprocess: events/s over its wall time
(process start included) and its peak RSS (ru_maxrss of that child, from wait4).

Raw: every stored event SELECTed from the event store's table of the same database,
streamed, and each JSON-decoded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import orjson

import common


def rebuild(url: str) -> tuple[float, float, str]:
    """Seconds and peak RSS (MB) of `ledger rebuild --quiet`, and what it printed."""
    env = {**os.environ, "LEDGER_DB": url}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "rebuild", "--quiet"], cwd=common.ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()  # the child writes one line; reading to EOF cannot block it
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"ledger rebuild exited {proc.returncode}: {err.decode(errors='replace')}")
    return elapsed, usage.ru_maxrss / 1024, err.decode(errors="replace").strip()


def raw_scan(url: str) -> tuple[int, float]:
    """Every stored event selected and JSON-decoded, streamed: (count, events/s). The library
    names the table `stored_events` on SQLite and `<application>_events` on PostgreSQL."""
    conn = common.raw_connect(url)
    count = 0
    start = time.perf_counter()
    if url.startswith("sqlite:///"):
        cur = conn.execute("SELECT rowid, state FROM stored_events ORDER BY rowid")
        while rows := cur.fetchmany(10_000):
            for _, state in rows:
                orjson.loads(state)
            count += len(rows)
    else:
        with conn.transaction(), conn.cursor(name="bench_scan") as cur:
            cur.itersize = 10_000
            cur.execute("SELECT notification_id, state FROM ledger_events ORDER BY notification_id")
            while rows := cur.fetchmany(10_000):
                for _, state in rows:
                    orjson.loads(state)
                count += len(rows)
    elapsed = time.perf_counter() - start
    conn.close()
    return count, count / elapsed


def prepare(url: str, n: int, seed: int) -> float | None:
    """Load the first `n` generated events unless the log holds them; the seconds it took."""
    head = common.head_of(url)
    if head >= n:
        print(f"  reusing {url}: {head:,} events in the log", file=sys.stderr)
        return None
    if head:
        raise SystemExit(f"{url} holds {head:,} events, fewer than {n:,}: use an empty or a full database")
    count, seconds = common.load_direct(url, common.dataset_iter(n, seed), label="loading")
    print(f"  loaded {count:,} events in {seconds:,.1f} s ({count / seconds:,.0f}/s, Ledger.post, batches of 1,000)",
          file=sys.stderr)
    return seconds


def run(url: str, args: object) -> None:
    load_s = prepare(url, args.events, args.seed)  # type: ignore[attr-defined]
    head = common.head_of(url)
    seconds, rss, said = rebuild(url)
    count, raw = raw_scan(url)
    assert count == head, (count, head)
    sizes = {"events": head}
    extra = {"seconds": round(seconds, 2), "loadSeconds": load_s and round(load_s, 1), "said": said}
    rows = [
        common.Row("rebuild", common.store_of(url), "ledger rebuild --quiet (subprocess wall time)", "events/s",
                   head / seconds, raw, target=100_000, sizes=sizes, extra=extra),
        common.Row("rebuild", common.store_of(url), "ledger rebuild --quiet: peak RSS", "MB", rss, None,
                   higher_is_better=False, target=300, sizes=sizes),
    ]
    common.report(rows, record=not args.no_record)  # type: ignore[attr-defined]


def main() -> None:
    p = common.parser(__doc__.split("\n\n")[0], events=1_000_000)
    p.add_argument("--reuse", metavar="URL", help="use (and keep) this database; load it first if it is empty")
    args = p.parse_args()
    with common.reused_or_fresh(args, "rebuild") as url:
        run(url, args)


if __name__ == "__main__":
    main()
