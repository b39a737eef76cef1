"""What keyed client pseudonyms cost a post: the pseudonym step against the whole post.

    .venv/bin/python benchmarks/bench_pseudonyms.py --db sqlite --events 50000

The generated year (about one event in seven names a client) in batches of 1,000,
through `Ledger.post` in this process (no HTTP, no projection). Measured per batch: the
pseudonym step alone (`Ledger._pseudonymized`: the clients found, their keys read from
the key table in one query and made for new ones, each clientRef replaced by its HMAC
and the event hashed again), first with every client new, then, after the batches were
posted (their keys stored with them), with every client known; and the whole post.
Raw: the whole post, so the ratio is the step's share of it.
"""

from __future__ import annotations

import time

import common

from ledger.application import Ledger, Post
from ledger.events import parse_event


def main() -> None:
    args = common.parser(__doc__.split("\n\n")[0], events=50_000).parse_args()
    admin, rest = common.split_registration(common.dataset(args.events, args.seed))
    events = [parse_event(e) for e in rest]
    batches = [events[i : i + 1000] for i in range(0, len(events), 1000)]
    with common.fresh_db(args.db, "pseudonyms", args.keep) as url:
        ledger = Ledger(url)
        try:
            ledger.post([parse_event(e) for e in admin], "admin:bench")

            def per_batch(work: object) -> float:
                start = time.perf_counter()
                for batch in batches:
                    work(batch)  # type: ignore[operator]
                return (time.perf_counter() - start) / len(batches) * 1000

            new = per_batch(lambda b: ledger._pseudonymized([Post(b, "admin:bench")]))
            post = per_batch(lambda b: ledger.post(b, "admin:bench"))
            known = per_batch(lambda b: ledger._pseudonymized([Post(b, "admin:bench")]))
        finally:
            ledger.close()
    sizes = {"events": len(events), "withClientRef": sum("clientRef" in e.data for e in events), "batch": 1000}
    common.report([
        common.Row(bench="pseudonyms", store=args.db, case="pseudonym step, every client new, batches of 1000",
                   metric="ms", value=new, raw=post, higher_is_better=False, sizes=sizes),
        common.Row(bench="pseudonyms", store=args.db, case="pseudonym step, every client known, batches of 1000",
                   metric="ms", value=known, raw=post, higher_is_better=False, sizes=sizes),
    ], record=not args.no_record)


if __name__ == "__main__":
    main()
