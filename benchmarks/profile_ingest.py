"""Where the ingest time goes: the work of a POST, without HTTP, in one thread, profiled.

    .venv/bin/python benchmarks/profile_ingest.py --db sqlite --events 20000 [--top 40] [--out ingest.prof]

For each batch of `--batch` generated events, as the HTTP handler does it: decode the
body (orjson), validate every event (`parse_event`), `Ledger.post`, which projects
the batch in its transaction as the API's does (`--follow-only`: not, and the
projector follows the log instead: `Projector.catch_up`, what the POST then waits for). Prints the time of each phase
and the functions cProfile finds most expensive (cumulative), with the profiler's
overhead: use the phase split for proportions, not the absolute rates. (The HTTP
server runs this work in executor threads, where cProfile cannot follow it.)
"""

from __future__ import annotations

import cProfile
import pstats
import time

import orjson

import common


def main() -> None:
    p = common.parser(__doc__.split("\n\n")[0], events=20_000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--out", help="write the profile here (for snakeviz or pstats)")
    p.add_argument("--no-profile", action="store_true", help="time the phases only, without cProfile's overhead")
    p.add_argument("--stages", action="store_true", help="a table of where the time went by kind of work (the profile's own time per function, grouped by module), instead of the top functions")
    p.add_argument("--follow-only", action="store_true",
                   help="project by following the log only, not in the posting transaction as the API does")
    args = p.parse_args()
    from ledger.application import Ledger
    from ledger.events import parse_event
    from projections.db import ReadDB
    from projections.runner import Projector

    events = common.dataset(args.events, args.seed)
    registrations, rest = common.split_registration(events)
    bodies = [orjson.dumps({"events": list(b)}) for b in common.chunks(rest, args.batch)]
    with common.fresh_db(args.db, "profile", args.keep) as url:
        ledger, db = Ledger(url), ReadDB(url)
        projector = Projector(ledger, db)
        ledger.post([parse_event(e) for e in registrations], "admin:profile")
        projector.catch_up()
        if not args.follow_only:
            projector.project_own_posts()
        phases = {"decode": 0.0, "validate": 0.0, "post": 0.0, "project": 0.0}
        profile = cProfile.Profile()
        if not args.no_profile:
            profile.enable()
        for body in bodies:
            t0 = time.perf_counter()
            raw = orjson.loads(body)["events"]
            t1 = time.perf_counter()
            parsed = [parse_event(e) for e in raw]
            t2 = time.perf_counter()
            ledger.post(parsed, "admin:profile")
            t3 = time.perf_counter()
            projector.catch_up()
            t4 = time.perf_counter()
            for name, seconds in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                phases[name] += seconds
        profile.disable()
        db.close()
        ledger.close()
    total = sum(phases.values())
    print(f"{len(rest):,} events in batches of {args.batch} on {args.db}: {total:.2f} s"
          f"{'' if args.no_profile else ' under the profiler'} "
          f"({len(rest) / total:,.0f} events/s)")
    for name, seconds in phases.items():
        print(f"  {name:9} {seconds:7.2f} s  {seconds / total:6.1%}  {seconds / len(rest) * 1e6:7.1f} µs/event")
    if args.no_profile:
        return
    if args.out:
        profile.dump_stats(args.out)
    if args.stages:
        print_stages(pstats.Stats(profile), len(rest))
    else:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)


# Kinds of work, by where a function lives (the first that matches); builtins by name.
STAGES = [
    ("validation (pydantic, msgspec, ledger/events.py)", ("pydantic", "msgspec", "ledger/events.py", "ledger/fastparse.py")),
    ("rules and books (ledger/book, effects, subsidy, rules, bounds, privacy)",
     ("ledger/book.py", "ledger/effects.py", "ledger/subsidy.py", "ledger/rules.py", "ledger/bounds.py",
      "ledger/privacy.py", "ledger/audit.py", "re.py", "<method 'finditer'", "<method 'search'")),
    ("eventsourcing library (aggregate, mapper, recorder, cache)", ("eventsourcing",)),
    ("store and chain (ledger/store.py, chain.py, hashing)", ("ledger/store.py", "ledger/chain.py", "sha256", "hexdigest")),
    ("posting glue (ledger/application.py)", ("ledger/application.py", "ledger/transcoder.py")),
    ("projection Python (projections/, ledger/journal.py)", ("projections/", "ledger/journal.py")),
    ("SQL: execute, executemany, COPY, commit", ("sqlite3.", "psycopg", "'execute'", "'executemany'", "'fetchall'", "'fetchone'", "'commit'", "'write_row'")),
    ("JSON (orjson)", ("orjson",)),
]


def _stage(key: tuple[str, int, str]) -> str | None:
    where = f"{key[0]}:{key[2]}"
    return next((label for label, marks in STAGES if any(m in where for m in marks)), None)


def print_stages(stats: pstats.Stats, events: int) -> None:
    """Own time per function summed by kind of work, in µs per event (under the
    profiler: compare proportions, and versions in the same run). A builtin that is
    no stage of its own (dict.get, isoformat, sum) counts for its callers' stages."""
    totals: dict[str, float] = {}
    for key, (_, _, own, _, callers) in stats.stats.items():  # type: ignore[attr-defined]
        stage = _stage(key)
        if stage is None and key[0] == "~" and callers:
            for caller, edge in callers.items():
                label = _stage(caller) or "other (the harness, threads)"
                totals[label] = totals.get(label, 0.0) + edge[2]
            continue
        label = stage or "other (the harness, threads)"
        totals[label] = totals.get(label, 0.0) + own
    whole = sum(totals.values())
    print("| stage | µs/event | share |\n|---|---:|---:|")
    for label, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"| {label} | {seconds / events * 1e6:.1f} | {seconds / whole:.0%} |")
    print(f"| **all** | **{whole / events * 1e6:.1f}** | |")


if __name__ == "__main__":
    main()
