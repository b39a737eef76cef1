"""Where the API's blocking work runs, and how a POST waits for the read model.

Why not the default executor for everything: it has six threads on two cores, and a
POST held them twice over, waiting for the process's write lock and then waiting
for the projector. Reads queued behind those and took seconds under load. Now:
- posting runs on one thread of its own (a process posts one batch at a time anyway;
  the others wait in the event loop, holding no thread);
- reads and other short database work run on a pool sized to the read connections;
- a POST waits for the projector in the event loop, woken whenever the read model
  advances (a projector in this process, or a NOTIFY from `ledger project`), with a
  short poll as a safety net (a projector in another process on SQLite).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from projections.runner import Projector

READ_THREADS = 8  # ReadDB's PostgreSQL pool holds more connections than this


def executors() -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
    """The (read, write) executors of one API process."""
    return (
        ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="read"),
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="post"),
    )


class Advances:
    """Wakes the coroutines waiting for the read model when the projector advances."""

    def __init__(self, projector: Projector):
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        self._projector = projector
        projector.on_advance.append(self._from_any_thread)

    def _from_any_thread(self) -> None:
        self._loop.call_soon_threadsafe(self._pulse)

    def _pulse(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def reached(self, position: int, timeout: float) -> bool:
        """Wait until the read model includes `position`; False after `timeout` s."""
        loop = self._loop
        deadline = loop.time() + timeout
        pause = 0.002
        while True:
            pulse = self._event  # taken before looking, so an advance in between is not missed
            if await loop.run_in_executor(None, self._projector.position) >= position:
                return True
            left = deadline - loop.time()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(pulse.wait(), timeout=min(pause, left))
            except TimeoutError:
                pause = min(pause * 2, 0.02)
