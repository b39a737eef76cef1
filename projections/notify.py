"""PostgreSQL LISTEN/NOTIFY between the processes of the production topology.

A commit of new events notifies `ledger_log` (ledger/store.py): a projector in
another process wakes at once instead of at its next poll. A projector's commit
notifies `ledger_projected`: an API worker waiting to answer a POST (read-your-writes)
wakes at once instead of polling the tracking row. A notification only says "look
again"; whoever wakes reads the positions from the tables, so a lost notification
(a restart, a dropped connection) costs at most one poll interval, never an event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

log = logging.getLogger(__name__)

PROJECTED_CHANNEL = "ledger_projected"


class Listener:
    """A thread that LISTENs on `channels` over its own connection and calls
    `on_notify(channel)` for each notification; it reconnects after a failure."""

    def __init__(self, conninfo: str, on_notify: Callable[[str], None], channels: tuple[str, ...]):
        self.conninfo = conninfo
        self.on_notify = on_notify
        self.channels = channels
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"listen-{'+'.join(channels)}", daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        pause = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as conn:
                    for channel in self.channels:
                        conn.execute(f"LISTEN {channel}")
                    for channel in self.channels:  # whatever was missed while not listening
                        self.on_notify(channel)
                    pause = 0.5
                    while not self._stop.is_set():
                        for n in conn.notifies(timeout=0.5):
                            self.on_notify(n.channel)
            except psycopg.Error as e:  # the database restarts or is down: listen again later
                log.warning("listening on %s failed (%s); retrying in %.1f s", self.channels, type(e).__name__, pause)
                self._stop.wait(pause)
                pause = min(pause * 2, 5.0)

