"""The interpreter tuned for the ledger's two kinds of run: garbage collection, thread switching.

The ledger allocates many short-lived dicts and tuples (an event's entry, its effects,
its rows) and frees them by reference counting; they form no cycles. Yet every 700
net allocations the collector scans the youngest generation, and every so often all
objects, which includes the books and caches a long-running process holds: measured
at a tenth of the posting time, and pauses of tens of milliseconds at the tail.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

# Young collections every 50,000 net allocations instead of 700; the older generations
# ten times rarer still than that makes them.
_THRESHOLDS = (50_000, 20, 100)


@contextmanager
def few_collections() -> Iterator[None]:
    """Collect rarely for a batch job (a rebuild), and as before afterwards."""
    before = gc.get_threshold()
    gc.set_threshold(*_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


# How long a thread may hold the GIL while another waits for it. The event loop gives
# it up at every socket call and then waits for the read or post thread to hand it
# back: with Python's 5 ms that wait was most of a read's p99.
SWITCH = 0.0005


def settle_server() -> None:
    """For a server that has started: what it has loaded so far (modules, the OpenAPI
    document, the schemas) is moved out of the collector's sight for good, the
    generations are raised for the rest of its life, and threads take turns at the GIL
    ten times as often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*_THRESHOLDS)
    sys.setswitchinterval(SWITCH)
