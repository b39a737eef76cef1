"""Where the API's blocking work runs, and how a POST waits for the read model.

Why not the default executor for everything: it has six threads on two cores, and a
POST held them twice over, waiting for the process's write lock and then waiting
for the projector. Reads queued behind those and took seconds under load. Now:
- posting runs on one thread of its own (`Writer`), which takes every post queued
  meanwhile as one group (`Ledger.post_group`: one transaction where all are
  accepted), so 32 clients posting single events wait for a few commits, not for 31;
- reads and other short database work run on a pool sized to the read connections;
- a POST waits for the projector in the event loop, woken whenever the read model
  advances (a projector in this process, or a NOTIFY from `ledger project`), with a
  short poll as a safety net (a projector in another process on SQLite); one look at
  the projector's position answers every POST waiting at that moment.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from ledger.application import Ledger, Post, PostResult
from ledger.events import Event
from projections.runner import Projector

READ_THREADS = 8  # ReadDB's PostgreSQL pool holds more connections than this
GROUP_EVENTS = 2000  # a group takes queued posts until it holds this many events


def readers() -> ThreadPoolExecutor:
    """The executor for the reads of one API process."""
    return ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="read")


class Writer:
    """The thread that posts, in groups of the posts queued while it was busy."""

    def __init__(self, ledger: Ledger):
        self._ledger = ledger
        self._loop = asyncio.get_running_loop()
        self._queue: queue.SimpleQueue[tuple[Post, asyncio.Future[PostResult]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="post", daemon=True)
        self._thread.start()

    async def post(self, events: Sequence[Event], posted_by: str, dry_run: bool = False) -> PostResult:
        """What `Ledger.post` answers (or raises) for this batch; a dry run is decided
        in its turn, alone, and stores nothing."""
        answer: asyncio.Future[PostResult] = self._loop.create_future()
        self._queue.put((Post(events, posted_by, dry_run), answer))
        return await answer

    def shutdown(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while (first := self._queue.get()) is not None:
            group, size, last = [first], len(first[0].events), False
            while size < GROUP_EVENTS:
                try:
                    queued = self._queue.get_nowait()
                except queue.Empty:
                    break
                if queued is None:
                    last = True
                    break
                group.append(queued)
                size += len(queued[0].events)
            try:
                outcomes = self._ledger.post_group([post for post, _ in group])
            except Exception as e:  # noqa: BLE001 - the database failed the group: each post hears it
                outcomes = [e] * len(group)
            for (_, answer), outcome in zip(group, outcomes, strict=True):
                self._loop.call_soon_threadsafe(_settle, answer, outcome)
            if last:
                return


def _settle(answer: asyncio.Future[PostResult], outcome: PostResult | Exception) -> None:
    if answer.cancelled():  # the client went away; its post was answered all the same
        return
    if isinstance(outcome, Exception):
        answer.set_exception(outcome)
    else:
        answer.set_result(outcome)


class Advances:
    """Wakes the coroutines waiting for the read model when the projector advances."""

    def __init__(self, projector: Projector):
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        self._asking: asyncio.Future[int] | None = None
        self._projector = projector
        projector.on_advance.append(self._from_any_thread)

    def _from_any_thread(self) -> None:
        self._loop.call_soon_threadsafe(self._pulse)

    def _pulse(self) -> None:
        self._event.set()
        self._event = asyncio.Event()
        self._asking = None  # a look begun before this advance may miss it: the next one starts anew

    async def reached(self, position: int, timeout: float) -> bool:
        """Wait until the read model includes `position`; False after `timeout` s."""
        loop = self._loop
        deadline = loop.time() + timeout
        pause = 0.002
        while True:
            pulse = self._event  # taken before looking, so an advance in between is not missed
            if await self._position() >= position:
                return True
            left = deadline - loop.time()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(pulse.wait(), timeout=min(pause, left))
            except TimeoutError:
                pause = min(pause * 2, 0.02)

    async def _position(self) -> int:
        """The projector's position, asked once for all who ask while it is asked."""
        if self._asking is None:
            self._asking = asyncio.ensure_future(self._loop.run_in_executor(None, self._projector.position))
            self._asking.add_done_callback(self._asked)
        return await asyncio.shield(self._asking)

    def _asked(self, done: asyncio.Future[int]) -> None:
        if self._asking is done:
            self._asking = None
