"""The production topology as real processes, for tests that need it (load, faults).

`ledger serve --workers N --external-projector` and `ledger project` are started as
subprocesses of `python -m api.cli`, each in its own session (process group), with its
stdout and stderr written to a log file the test can read afterwards. Stopping sends
SIGTERM to that process group (the serve parent and its spawned workers) and SIGKILL
to whatever is still there after a grace period, so nothing outlives the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent


def cli_env(db: str, **extra: str) -> dict[str, str]:
    """The environment of a `ledger` process: no rate limit unless `extra` sets one, for
    these tests send floods on purpose (tests/test_limits.py tests the limit)."""
    return {**os.environ, "LEDGER_DB": db, "PYTHONUNBUFFERED": "1", "LEDGER_RATE_LIMIT": "0", **extra}


def cli(db: str, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run `python -m api.cli ARGS` against `db` and wait for it."""
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args], env=cli_env(db), cwd=ROOT, capture_output=True, text=True,
        check=check, timeout=timeout,
    )


async def cli_async(db: str, *args: str, timeout: float = 300) -> tuple[int, str, str]:
    """`python -m api.cli ARGS` without blocking the event loop: (returncode, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", *args, env=cli_env(db), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def token(db: str, role: str, party: str | None = None) -> str:
    """A new token from `ledger token create` (printed alone on stdout)."""
    out = cli(db, "token", "create", "--role", role, *(["--party", party] if party else []), timeout=120)
    return out.stdout.strip()


async def token_async(db: str, role: str, party: str | None = None) -> str:
    code, out, err = await cli_async(db, "token", "create", "--role", role, *(["--party", party] if party else []))
    assert code == 0, err
    return out.strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Proc:
    """One started `python -m api.cli ...`, in its own process group, logging to a file."""

    name: str
    args: tuple[str, ...]
    log: Path
    popen: subprocess.Popen[bytes]
    _log_file: Any = field(repr=False, default=None)

    @classmethod
    def start(cls, name: str, db: str, args: list[str], log_dir: Path, **env: str) -> Proc:
        log = log_dir / f"{name}.log"
        log_file = open(log, "ab")  # noqa: SIM115 - closed in stop()
        popen = subprocess.Popen(
            [sys.executable, "-m", "api.cli", *args], env=cli_env(db, **env), cwd=ROOT,
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )
        return cls(name, tuple(args), log, popen, log_file)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 20.0) -> int | None:
        """SIGTERM to the process group, then SIGKILL to the group after `grace` seconds."""
        try:
            if self.alive():
                _signal_group(self.pid, signal.SIGTERM)
                try:
                    self.popen.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    pass
            # the group may still hold children (serve's workers) after the leader exits
            deadline = time.monotonic() + grace
            while _group_alive(self.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _group_alive(self.pid):
                _signal_group(self.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=5)
        finally:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None
        return self.popen.returncode

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def readyz(base: str, timeout: float = 10) -> tuple[int, dict[str, Any] | None]:
    try:
        with urllib.request.urlopen(base + "/readyz", timeout=timeout) as r:
            return r.status, orjson.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, None
    except OSError:
        return 0, None


async def wait_ready(base: str, procs: list[Proc], timeout: float = 90, lag_zero: bool = False) -> dict[str, Any]:
    """Poll /readyz until it answers 200 (and, with `lag_zero`, the read model is at the
    head); fail at once if one of `procs` has exited."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        for p in procs:
            if not p.alive():
                raise AssertionError(f"{p.name} exited with {p.popen.returncode}:\n{p.text()[-3000:]}")
        status, body = await asyncio.to_thread(readyz, base)
        last = (status, body)
        if status == 200 and body is not None and (not lag_zero or body["lag"] == 0):
            return body
        await asyncio.sleep(0.25)
    raise AssertionError(f"{base}/readyz not ready (lag 0: {lag_zero}) after {timeout} s; last answer {last}")
