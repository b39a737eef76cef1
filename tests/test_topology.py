"""The production topology of docker-compose.yml, run natively: no Docker, the same commands.

The `api` and `projector` services' `command` lists are read from the compose file and
run as they are written (only `ledger` becomes `python -m api.cli`, and the API listens
on 127.0.0.1 and a free port), against a fresh PostgreSQL database. The health checks
are the file's own commands too. Then, as users would: a token, a registration and a
year's batch over HTTP; the projector stopped (the API keeps taking posts, /readyz shows
the lag) and started again (the lag back to 0, the batch in the balances); and
`ledger rebuild` while the API keeps serving reads.

Skipped, loudly, where PostgreSQL is unreachable (see conftest.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from ledger import demo
from tests.conftest import PG_ADMIN
from tests.procs_ledger import free_port
from tests.test_compose import ROOT, interpolate, load_compose
from tests.test_purmerend import EXPECTED

READ_TIMEOUT = "2"  # seconds a POST waits for the read model; the projector is stopped on purpose below


class Topology:
    """The compose file's services as native processes, each in its own process group."""

    def __init__(self, db_url: str, logs: Path):
        self.compose = interpolate(load_compose(), {})  # the defaults, as `docker compose up` without an .env
        self.services = self.compose["services"]
        self.db_url = db_url
        self.db_name = db_url.rsplit("/", 1)[1]
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.logs = logs
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    # --- what compose would run -------------------------------------------------------

    def env(self, service: str) -> dict[str, str]:
        """The process environment: the service's `environment` (pass-through entries
        from this shell when set), with LEDGER_DB pointing at the test's database."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
        for key, value in self.services[service]["environment"].items():
            if value is not None:
                env[key] = str(value)
            elif key in os.environ:
                env[key] = os.environ[key]
        assert env["LEDGER_DB"].startswith("postgresql://") and "@postgres:5432/" in env["LEDGER_DB"]
        env["LEDGER_DB"] = self.db_url
        if service == "api":
            env["LEDGER_READ_TIMEOUT"] = READ_TIMEOUT
        return env

    def argv(self, command: list[str]) -> list[str]:
        """A compose command line with `ledger` as this checkout's CLI, on this host."""
        assert command[0] == "ledger", command
        argv = [sys.executable, "-m", "api.cli", *command[1:]]
        for flag, value in (("--host", "127.0.0.1"), ("--port", str(self.port))):
            if flag in argv:
                argv[argv.index(flag) + 1] = value
        return argv

    def start(self, service: str) -> None:
        out = open(self.logs / f"{service}.log", "ab")  # noqa: SIM115 (closed with the process)
        self.processes[service] = subprocess.Popen(
            self.argv(self.services[service]["command"]), cwd=ROOT, env=self.env(service),
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        out.close()

    def stop(self, service: str) -> int:
        """SIGTERM to the service's whole process group (the API's workers too), as
        `docker compose stop` does through the container's init; SIGKILL after 10 s."""
        process = self.processes.pop(service)
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                return process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return process.wait(timeout=10)

    def stop_all(self) -> None:
        for service in list(self.processes):
            try:
                self.stop(service)
            except Exception:  # noqa: BLE001 (finally: stop the others whatever happens)
                pass

    def healthy(self, service: str) -> subprocess.CompletedProcess[str]:
        """Run the service's own health check command here."""
        test = self.services[service]["healthcheck"]["test"]
        env = self.env(service) if service != "postgres" else dict(os.environ)
        if service == "postgres":  # its check runs inside the postgres container, with its variables
            admin = urlparse(PG_ADMIN)
            env.update(POSTGRES_USER=admin.username or "postgres", POSTGRES_DB=self.db_name,
                       PGHOST=admin.hostname or "127.0.0.1", PGPORT=str(admin.port or 5432))
        if test[0] == "CMD-SHELL":
            return subprocess.run(["sh", "-c", test[1]], env=env, capture_output=True, text=True, timeout=30)
        command = test[1:]
        if command[0] == "python":
            command = [sys.executable, *(part.replace("127.0.0.1:8080", f"127.0.0.1:{self.port}") for part in command[1:])]
        elif command[0] == "ledger":
            command = self.argv(command)
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)

    def log(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.logs.glob("*.log")))

    # --- what users do ----------------------------------------------------------------

    def ledger(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**self.env("projector"), "LEDGER_DB": self.db_url}
        return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)

    def request(self, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=15) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def ready(self) -> dict[str, Any]:
        status, body = self.request("/readyz")
        assert status == 200, body
        return body



def _until(what: str, check: Callable[[], bool], topology: Topology, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:  # not listening yet
            pass
        time.sleep(0.1)
    pytest.fail(f"{what}: not within {timeout} s\n{topology.log()}")


def _year(topology: Topology, token: str, year: int) -> dict[str, Any]:
    status, body = topology.request(f"/v1/balances?party=GM0439&year={year}", token)
    assert status == 200, body
    return body


def _assert_figures(topology: Topology, token: str, year: int) -> None:
    """The year's participatiebudget as the source document publishes it."""
    income, spent, saldo, _ = EXPECTED[year]
    (row,) = _year(topology, token, year)["results"]
    assert row["allocatedCents"] + row["incomeCents"] == income * 100
    assert (row["spentCents"], row["saldoCents"]) == (spent * 100, saldo * 100)


def test_the_compose_topology_runs_natively(pg_url: str, tmp_path: Path) -> None:
    topology = Topology(pg_url, tmp_path)
    try:
        # Start order as compose has it: postgres healthy, then the api and the projector together.
        check = topology.healthy("postgres")
        assert check.returncode == 0, check.stdout + check.stderr
        topology.start("api")
        topology.start("projector")
        _until("the API answers /readyz", lambda: topology.request("/readyz")[0] == 200, topology)
        _until("the projector's health check passes", lambda: topology.healthy("projector").returncode == 0, topology)
        check = topology.healthy("api")
        assert check.returncode == 0, check.stderr
        assert topology.ready()["lag"] == 0

        # As users would: an admin token, Purmerend registered, a year's batch, the balances.
        made = topology.ledger("token", "create", "--role", "admin")
        assert made.returncode == 0, made.stderr
        admin = made.stdout.strip()
        status, body = topology.request("/v1/events", admin, {"events": demo.purmerend_setup()})
        assert status == 201, body
        status, body = topology.request("/v1/events", admin, {"events": demo.purmerend_year(2014)})
        assert status == 201, body
        _assert_figures(topology, admin, 2014)  # the POST answered after the projector's projection
        assert topology.ready()["lag"] == 0

        # The projector process does the projecting: stopped, the log grows and the read model does not.
        assert topology.stop("projector") == 0
        batch = demo.purmerend_year(2015)
        started = time.monotonic()
        status, body = topology.request("/v1/events", admin, {"events": batch})
        assert status == 201, body  # stored; it waited LEDGER_READ_TIMEOUT for a read model that stood still
        assert time.monotonic() - started >= float(READ_TIMEOUT) - 0.2
        ready = topology.ready()
        assert ready["lag"] == len(batch) > 0 and ready["head"] == body["events"][-1]["position"]
        assert _year(topology, admin, 2015)["results"] == []
        status = topology.ledger("status", "--max-lag", "0")
        assert status.returncode == 1 and "behind" in status.stderr
        assert json.loads(status.stdout) == {"head": ready["head"], "projected": ready["projected"], "lag": len(batch)}

        # Started again, it catches up: the lag returns to 0 and the balance includes the batch.
        topology.start("projector")
        _until("the projector catches up", lambda: topology.ready()["lag"] == 0, topology)
        _assert_figures(topology, admin, 2015)
        _assert_figures(topology, admin, 2014)
        status = topology.ledger("status", "--max-lag", "0")
        assert status.returncode == 0 and json.loads(status.stdout)["lag"] == 0

        # `ledger rebuild` while the API serves: every read answers, the figures come back the same.
        before = topology.request("/v1/balances?party=GM0439", admin)
        assert before[0] == 200 and len(before[1]["results"]) == 2
        answers: list[int] = []
        done = threading.Event()

        def read_all_the_time() -> None:
            while not done.is_set():
                answers.append(topology.request("/v1/balances?party=GM0439", admin)[0])
                answers.append(topology.request("/readyz")[0])

        reader = threading.Thread(target=read_all_the_time)
        reader.start()
        try:
            time.sleep(0.2)
            during = len(answers)
            rebuilt = topology.ledger("rebuild", "--quiet")
            during = len(answers) - during
        finally:
            done.set()
            reader.join(timeout=30)
        assert rebuilt.returncode == 0 and f"rebuilt the read model from {ready['head']} events" in rebuilt.stderr, rebuilt.stderr
        assert during > 0 and set(answers) == {200}, answers
        _until("the read model is at the head after the rebuild", lambda: topology.ready()["lag"] == 0, topology)
        assert topology.request("/v1/balances?party=GM0439", admin) == before
        assert topology.processes["api"].poll() is None and topology.processes["projector"].poll() is None, topology.log()
    finally:
        topology.stop_all()
