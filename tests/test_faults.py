"""Faults, as real processes on PostgreSQL (issue 5): what survives a crash.

- A PostgreSQL crash (`pg_ctl stop -m immediate` of a private cluster): while it is
  down every request that needs the database answers 503 problem+json with
  `Retry-After` within seconds (never a 500, never a hang), and once it is back the
  same API process and projector serve again without a restart; the POST that failed
  is posted again with the same ids and stored exactly once.
- `kill -9` of an API worker of `ledger serve --workers 2` under a continuous load of
  200-event batches: the supervisor replaces it, the port keeps answering, every
  acknowledged batch is in the log, and every batch is in it whole or not at all.
- `kill -9` of `ledger rebuild`, then of `ledger project`, each in the middle of
  replaying the log: the next projector resumes where the last committed batch ended,
  and the read model equals the one before, row for row (nothing doubled or missing).
- 32 concurrent clients against two worker processes withdrawing from one reserve and
  booking costs against one binding budget: no update is lost and no limit is broken.

Each test gets a fresh database (or its own cluster) and kills every process it starts
in a `finally`. Where PostgreSQL is unreachable, or a private cluster cannot be made,
the tests are skipped and the session ends with the loud notice of conftest.py.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import aiohttp
import orjson
import psycopg
import pytest

from api.tokens import TokenStore
from projections.db import ReadDB
from projections.schema import READ_MODEL_TABLES, TRACKING
from tests.procs_ledger import Proc, cli, free_port



def _pg_bin() -> Path:
    """Where initdb and pg_ctl are: LEDGER_TEST_PG_BIN, else on PATH, else Debian's newest."""
    if os.environ.get("LEDGER_TEST_PG_BIN"):
        return Path(os.environ["LEDGER_TEST_PG_BIN"])
    if found := shutil.which("initdb"):
        return Path(found).resolve().parent
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                    key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return debian[-1].parent if debian else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _pg_bin()
PROBLEM_JSON = "application/problem+json"
UNAVAILABLE = "urn:participatie-ledger:problem:database-unavailable"
# What "within seconds" means for a request while the database is down: the pools wait
# 3 s for a connection, the answer must come well before a client's own timeout.
OUTAGE_ANSWER_WITHIN = 8.0


# --- processes ------------------------------------------------------------------------



@dataclass
class Procs:
    """Every process a test starts; all stopped at its end."""

    db: str
    logs: Path
    started: list[Proc] = field(default_factory=list)

    def start(self, *args: str, **env: str) -> Proc:
        proc = Proc.start(f"{len(self.started):02d}-{args[0]}", self.db, list(args), self.logs, **env)
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop(grace=10.0)


def children(pid: int) -> list[int]:
    """The child processes of `pid`, from /proc (no psutil)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def api_workers(supervisor: int) -> list[int]:
    """The API worker processes of a `ledger serve --workers N` supervisor (its other
    child is multiprocessing's resource tracker)."""
    workers = []
    for pid in children(supervisor):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            workers.append(pid)
    return sorted(workers)


def gone(pid: int) -> bool:
    """True once `pid` has exited (and been reaped, or is a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def listening_pids(port: int, pids: list[int]) -> set[int]:
    """Which of `pids` hold a socket listening on 127.0.0.1:`port` (from /proc/net/tcp)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and int(local.split(":")[1], 16) == port:
            inodes.add(f"socket:[{inode}]")
    out = set()
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in inodes:
                    out.add(pid)
                    break
            except OSError:
                continue
    return out


# --- databases --------------------------------------------------------------------------


@pytest.fixture
def procs(pg_url: str, tmp_path: Path) -> Iterator[Procs]:
    running = Procs(pg_url, tmp_path)
    try:
        yield running
    finally:
        running.stop_all()


class Cluster:
    """A PostgreSQL cluster of the test's own (initdb in a temporary directory), to crash
    and start at will. initdb refuses to run as root: then it runs as the `postgres`
    OS user, which owns the directory."""

    def __init__(self, root: Path, as_user: list[str]):
        self.root = root
        self.data = root / "data"
        self.as_user = as_user
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=timeout)

    def init(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--no-sync", "--no-instructions")

    def start(self) -> None:
        # Durable settings (the defaults): a crash must lose nothing that was committed.
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=60"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", "30", "start")

    def crash(self) -> None:
        """Stop as a crash does: no shutdown checkpoint, every connection cut."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        subprocess.run([*self.as_user, str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)


@pytest.fixture
def cluster(skip_loudly: Callable[[str], NoReturn]) -> Iterator[Cluster]:
    def unavailable(why: str) -> NoReturn:
        skip_loudly(f"no private PostgreSQL cluster for the outage test: {why}")

    if not (PG_BIN / "initdb").exists():
        unavailable(f"no initdb in {PG_BIN} (set LEDGER_TEST_PG_BIN to PostgreSQL's bin directory)")
    as_user: list[str] = []
    owner = None
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            owner = None
        if runuser is None or owner is None:
            unavailable("running as root, and no `postgres` OS user or no runuser to run initdb as")
        as_user = [runuser, "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="ledger-faults-pg-"))
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    made = Cluster(root, as_user)
    try:
        try:
            made.init()
            made.start()
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            output = getattr(e, "stderr", b"") or b""
            unavailable(f"initdb or pg_ctl failed: {e}: {output.decode(errors='replace')[-500:]}")
        yield made
    finally:
        made.stop()
        shutil.rmtree(root, ignore_errors=True)


# --- events and HTTP --------------------------------------------------------------------


def ev(kind: str, data: dict[str, Any], party: str, date: str = "2015-06-30", **extra: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "type": kind, "party": party, "effectiveDate": date, "data": data, **extra}


def registration(*parties: str) -> list[dict[str, Any]]:
    return [ev("PartyRegistered", {"name": p, "kind": "gemeente"}, p, date="2014-01-01") for p in parties]


def allocation(party: str, budget: str, cents: int) -> dict[str, Any]:
    return ev("BudgetAllocated", {"budget": budget, "source": "rijk", "amountCents": cents}, party)


def cost(party: str, cents: int, budget: str = "participatiebudget", **extra: Any) -> dict[str, Any]:
    return ev("CostBooked", {"budget": budget, "category": "uitvoering", "amountCents": cents}, party, **extra)


def tokens(db: str, *roles: tuple[str, str | None]) -> list[str]:
    read = ReadDB(db)
    try:
        store = TokenStore(read)
        return [store.create(role, party)[1] for role, party in roles]
    finally:
        read.close()


@dataclass
class Answer:
    status: int
    body: Any
    headers: Any
    seconds: float


class Http:
    def __init__(self, port: int, session: aiohttp.ClientSession):
        self.base = f"http://127.0.0.1:{port}"
        self.session = session

    async def call(self, method: str, path: str, token: str | None = None, body: Any = None,
                   timeout: float = 30, **params: Any) -> Answer:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        started = time.monotonic()
        async with self.session.request(
            method, self.base + path, headers=headers, params=params or None,
            data=None if body is None else orjson.dumps(body),
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as r:
            raw = await r.read()
            seconds = time.monotonic() - started
            try:
                parsed = orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                parsed = raw.decode(errors="replace")
            return Answer(r.status, parsed, r.headers, seconds)

    async def post(self, token: str, events: list[dict[str, Any]], timeout: float = 60) -> Answer:
        return await self.call("POST", "/v1/events", token, {"events": events}, timeout=timeout)

    async def wait_ready(self, proc: Proc, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert proc.popen.poll() is None, f"the server exited:\n{proc.text()[-3000:]}"
            try:
                if (await self.call("GET", "/healthz", timeout=2)).status == 200:
                    return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.1)
        raise AssertionError(f"the server did not answer in {timeout} s:\n{proc.text()[-3000:]}")

    async def caught_up(self, timeout: float = 30) -> dict[str, Any]:
        """Wait until /readyz says the read model is at the head of the log."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            answer = await self.call("GET", "/readyz", timeout=15)
            last = answer.body
            if answer.status == 200 and answer.body["lag"] == 0:
                return answer.body
            await asyncio.sleep(0.1)
        raise AssertionError(f"the read model did not catch up in {timeout} s: {last}")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    # A new connection per request: SO_REUSEPORT spreads connections, not requests.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True)) as s:
        yield s


def assert_unavailable(answer: Answer, what: str, type_: str = UNAVAILABLE) -> None:
    assert answer.status == 503, (what, answer.status, answer.body)
    assert answer.headers["Content-Type"].startswith(PROBLEM_JSON), (what, answer.headers)
    assert answer.body["type"] == type_ and answer.body["status"] == 503, (what, answer.body)
    assert answer.body["title"] and answer.body["detail"], (what, answer.body)
    assert 1 <= int(answer.headers["Retry-After"]) <= 30, (what, answer.headers)
    assert answer.seconds < OUTAGE_ANSWER_WITHIN, f"{what} took {answer.seconds:.1f} s while the database was down"


async def post_until_answered(http: Http, token: str, events: list[dict[str, Any]],
                              within: float = 45) -> tuple[Answer, list[int]]:
    """Post `events` again and again, as a client does after a 503 (the same ids), until
    the ledger stores or recognises them; the answer, and the 503s before it (any other
    status on the way fails the test)."""
    deadline = time.monotonic() + within
    seen: list[int] = []
    while True:
        answer = await http.post(token, events, timeout=30)
        if answer.status in (200, 201):
            return answer, seen
        seen.append(answer.status)
        assert answer.status == 503, (answer.status, answer.body)
        assert time.monotonic() < deadline, f"no recovery in {within} s without a restart: {seen}"
        await asyncio.sleep(0.5)


def exported_ids(db: str) -> list[str]:
    """The ids of every stored event, read from the event store by `ledger export`."""
    done = cli(db, "export", timeout=120)
    return [orjson.loads(line)["id"] for line in done.stdout.splitlines() if line.strip()]


# --- 1. a PostgreSQL crash --------------------------------------------------------------


def _raised_from(outer: type[Exception], inner: BaseException) -> Exception:
    try:
        try:
            raise inner
        except BaseException as e:
            raise outer(str(e)) from e
    except Exception as wrapped:
        return wrapped


def test_which_errors_mean_the_database_does_not_answer() -> None:
    """503 for a database that does not answer; a busy or refusing database is not down."""
    import sqlite3

    import psycopg_pool
    from eventsourcing.persistence import ConnectionUnavailableError, InterfaceError, OperationalError

    from api.problems import database_unavailable

    down = [
        psycopg.OperationalError("connection failed: Connection refused"),
        psycopg_pool.PoolTimeout("couldn't get a connection after 3.00 sec"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.CannotConnectNow("the database system is starting up"),
        psycopg.errors.TooManyConnections("sorry, too many clients already"),
        _raised_from(OperationalError, psycopg.OperationalError("server closed the connection unexpectedly")),
        _raised_from(InterfaceError, psycopg_pool.PoolTimeout("couldn't get a connection")),
    ]
    up = [
        _raised_from(OperationalError, sqlite3.OperationalError("database is locked")),
        ConnectionUnavailableError("timed out waiting for the writer lock"),
        psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
        psycopg.errors.SerializationFailure("could not serialize access"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        psycopg.errors.PipelineAborted("pipeline aborted"),
        psycopg.InterfaceError("the cursor is closed"),
        _raised_from(RuntimeError, ValueError("a bug")),
    ]
    assert [database_unavailable(e) for e in down] == [True] * len(down)
    assert [database_unavailable(e) for e in up] == [False] * len(up)


async def test_a_database_crash_answers_503_and_the_same_processes_recover(
    cluster: Cluster, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    procs = Procs(cluster.url, tmp_path)
    try:
        admin, = tokens(cluster.url, ("admin", None))
        port = free_port()
        # The production topology: the read model is `ledger project`'s alone, so reads
        # that are right after the outage show that this process recovered too.
        api = procs.start("serve", "--port", str(port), "--external-projector", LEDGER_READ_TIMEOUT="10")
        projector = procs.start("project")
        http = Http(port, session)
        await http.wait_ready(api)
        party = "GM0439"
        answer = await http.post(admin, [*registration(party), allocation(party, "participatiebudget", 1_000_000)])
        assert answer.status == 201, answer.body
        before = await http.call("GET", "/v1/balances", admin, party=party)
        assert before.status == 200 and before.body["results"][0]["allocatedCents"] == 1_000_000, before.body
        secret = f"factuur-{uuid.uuid4().hex}"  # must never reach a log line
        batch = [cost(party, 1_000 + i, reference=secret) for i in range(3)]

        cluster.crash()
        during = await asyncio.gather(
            http.post(admin, batch, timeout=30),
            http.call("GET", "/v1/balances", admin, timeout=30, party=party),
            http.call("GET", "/v1/events", admin, timeout=30),
            # ledger.head(): a recorder call the eventsourcing library retries 10 times
            # (0.2 s apart, each waiting for a connection) unless ledger/store.py calls it once
            http.call("GET", "/readyz", timeout=30),
            http.call("GET", "/healthz", timeout=30),
            return_exceptions=True,
        )
        failed = [(what, repr(a)) for what, a in zip(("post", "balances", "events", "readyz", "healthz"), during)
                  if isinstance(a, BaseException)]
        assert not failed, f"no answer while the database was down: {failed}\n{api.text()[-3000:]}"
        post, balances, events, ready, alive = during
        assert_unavailable(post, "POST /v1/events")
        assert_unavailable(balances, "GET /v1/balances")
        assert_unavailable(events, "GET /v1/events")
        assert_unavailable(ready, "GET /readyz", type_="urn:participatie-ledger:problem:not-ready")
        assert alive.status == 200, alive.body  # liveness is the process's, not the database's
        # A burst of clients meanwhile: each answered within seconds too, not after the
        # ones queued before it have each waited for a connection.
        burst = await asyncio.gather(
            *(http.post(admin, [cost(party, 7)], timeout=30) for _ in range(12)),
            *(http.call("GET", "/v1/balances", admin, timeout=30, party=party) for _ in range(12)),
        )
        for answer in burst:
            assert_unavailable(answer, "a request of a burst")
        assert api.popen.poll() is None and projector.popen.poll() is None

        cluster.start()
        answer, _ = await post_until_answered(http, admin, batch)
        assert answer.status == 201, f"the batch refused while the database was down was stored: {answer.body}"
        again = await http.post(admin, batch)
        assert again.status == 200 and again.body == answer.body, again.body  # and stored once

        # A crash in the middle of a large POST: the batch is stored whole or not at all,
        # and the client's retry with the same ids says which (200: it was, 201: now it is).
        big = [cost(party, 1 + i % 97) for i in range(3000)]
        sending = asyncio.create_task(http.post(admin, big, timeout=60))
        await asyncio.sleep(0.3)
        cluster.crash()
        interrupted = await sending
        assert interrupted.status in (201, 503), (interrupted.status, interrupted.body)
        if interrupted.status == 503:
            assert interrupted.body["type"] == UNAVAILABLE and "Retry-After" in interrupted.headers, interrupted.body
        cluster.start()
        stored = set(exported_ids(cluster.url)) & {e["id"] for e in big}
        assert len(stored) in (0, len(big)), f"a partial batch: {len(stored)} of {len(big)} events stored"
        answer, _ = await post_until_answered(http, admin, big)
        assert answer.status == (200 if stored else 201), (len(stored), answer.status)

        await http.caught_up()  # (positions may jump after a crash: PostgreSQL's sequences do)
        after = await http.call("GET", "/v1/balances", admin, party=party)
        assert after.status == 200, after.body
        spent = sum(e["data"]["amountCents"] for e in batch + big)
        assert after.body["results"][0]["spentCents"] == spent, after.body
        listed = await http.call("GET", "/v1/events", admin)
        assert listed.body["count"] == 2 + len(batch) + len(big), listed.body
        assert api.popen.poll() is None and projector.popen.poll() is None, "a process died of the outage"
        logged = api.text()
        assert "database unavailable: POST /v1/events answered 503" in logged, logged[-3000:]
        assert secret not in logged and admin not in logged
    finally:
        procs.stop_all()


# --- 2. kill -9 of an API worker under load ---------------------------------------------


async def until(condition: Any, within: float = 20, what: str = "") -> Any:
    """Poll `condition()` until it is truthy; return its value."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {within} s: {what}"
        await asyncio.sleep(0.05)


async def test_kill_9_of_an_api_worker_loses_no_acknowledged_event_and_leaves_no_partial_batch(
    pg_url: str, procs: Procs, session: aiohttp.ClientSession
) -> None:
    admin, = tokens(pg_url, ("admin", None))
    port = free_port()
    server = procs.start("serve", "--port", str(port), "--workers", "2", "--external-projector")
    procs.start("project")
    http = Http(port, session)
    await http.wait_ready(server)
    first, second = await until(lambda: (w := api_workers(server.pid)) and len(listening_pids(port, w)) == 2 and w,
                                what="two workers listening")
    # Eight clients, each on its own connection: the workers answer a batch in less time
    # than a client takes to build the next, so with four a killed worker sometimes had
    # no request in flight (the proof below needs one).
    parties = [f"GM{9100 + i}" for i in range(8)]
    setup = [*registration(*parties), *(allocation(p, "participatiebudget", 10**12) for p in parties)]
    assert (await http.post(admin, setup)).status == 201

    size = 200
    batches: dict[int, list[dict[str, Any]]] = {}
    acknowledged: set[int] = set()
    interrupted: list[int] = []  # the connection broke: stored or not, the client cannot know
    unexpected: list[Any] = []
    stop = asyncio.Event()

    async def client(party: str) -> None:
        while not stop.is_set():
            n = len(batches)
            batches[n] = [cost(party, 1 + n % 1000, reference=f"batch {n}") for _ in range(size)]
            try:
                answer = await http.post(admin, batches[n], timeout=60)
            except aiohttp.ClientError:  # the connection to the killed worker broke: expected
                interrupted.append(n)
                continue
            if answer.status == 201:
                acknowledged.add(n)
            else:
                unexpected.append((n, answer.status, answer.body))

    async def port_answers() -> None:
        for _ in range(10):
            answer = await http.call("GET", "/healthz", timeout=5)
            assert answer.status == 200, answer.body

    load = [asyncio.create_task(client(p)) for p in parties]
    try:
        await asyncio.sleep(2.0)
        os.kill(first, signal.SIGKILL)
        await until(lambda: gone(first), what=f"worker {first} killed")
        await port_answers()  # the other worker
        replacement = await until(lambda: [w for w in api_workers(server.pid) if w not in (first, second)],
                                  what="a replacement worker")
        await until(lambda: listening_pids(port, replacement), what="the replacement listening")
        await asyncio.sleep(1.0)
        os.kill(second, signal.SIGKILL)
        await until(lambda: gone(second), what=f"worker {second} killed")
        await port_answers()  # the replacement
        await asyncio.sleep(1.0)
    finally:
        stop.set()
        await asyncio.gather(*load)
    assert not unexpected, unexpected[:3]
    assert server.text().count("died (killed by signal 9); starting a replacement") == 2, server.text()[-3000:]
    assert interrupted, "no request was in flight on the killed workers: the test proved nothing"
    assert len(acknowledged) >= 8, f"the load was too light to mean anything: {len(acknowledged)} batches"

    await asyncio.sleep(0.5)  # the killed workers' transactions are over: committed or rolled back
    stored = exported_ids(pg_url)
    assert len(stored) == len(set(stored)), "an event is stored twice"
    found = {n: len({e["id"] for e in batch} & set(stored)) for n, batch in batches.items()}
    assert all(found[n] == size for n in acknowledged), "an acknowledged event is missing"
    assert all(found[n] in (0, size) for n in interrupted), f"a partial batch: {[found[n] for n in interrupted]}"
    assert len(stored) == len(setup) + size * sum(1 for n in batches if found[n]), "events outside any whole batch"
    for n in interrupted:  # the client's retry with the same ids: 200 if it had been stored, 201 if not
        answer = await http.post(admin, batches[n])
        assert answer.status == (200 if found[n] else 201), (n, found[n], answer.status, answer.body)
    final = exported_ids(pg_url)
    assert len(final) == len(set(final)) == len(setup) + size * len(acknowledged | set(interrupted))
    await http.caught_up()
    listed = await http.call("GET", "/v1/events", admin)
    assert listed.body["count"] == len(final), listed.body

    # SIGTERM to the supervisor alone: it stops its workers, then itself.
    workers = api_workers(server.pid)
    os.kill(server.pid, signal.SIGTERM)
    assert server.popen.wait(15) == 0, server.text()[-3000:]
    await until(lambda: all(gone(w) for w in workers), within=5, what="the workers stopped with their supervisor")


# --- 3. kill -9 of the projector in the middle of a replay --------------------------------


def read_model(db: str) -> dict[str, tuple[int, str]]:
    """Every read-model table as (rows, md5 of its sorted rows): equal means row for row equal."""
    with psycopg.connect(db) as conn:
        return {
            table: conn.execute(
                f"SELECT COUNT(*), md5(COALESCE(string_agg(r::text, '|' ORDER BY r::text), '')) FROM {table} r"
            ).fetchone()
            for table in READ_MODEL_TABLES
        }


def projected_positions(db: str) -> list[int]:
    with psycopg.connect(db) as conn:
        return [p for (p,) in conn.execute("SELECT position FROM log_events ORDER BY position")]


def figures(db: str) -> dict[str, Any]:
    from projections import queries

    read = ReadDB(db)
    try:
        return {
            "balances": queries.balances(read, parties=None),
            "reserves": queries.reserves(read, parties=None),
            "trial": queries.trial_balance(read, parties=None),
        }
    finally:
        read.close()


def kill_when(proc: Proc, db: str, condition: Any, within: float = 60) -> int:
    """Watch the read model's tracking position while `proc` replays the log; `kill -9`
    it as soon as `condition(position)` holds; the position it left behind."""
    from projections.runner import NAME

    deadline = time.monotonic() + within
    seen = []
    with psycopg.connect(db, autocommit=True) as conn:
        def position() -> int:
            row = conn.execute(f"SELECT position FROM {TRACKING} WHERE name = %s", (NAME,)).fetchone()
            return row[0] if row else -1

        while True:
            now = position()
            if not seen or seen[-1] != now:
                seen.append(now)
            if condition(now):
                os.kill(proc.pid, signal.SIGKILL)
                break
            assert proc.popen.poll() is None, f"{proc.log.name} ended before the kill: {seen}\n{proc.text()}"
            assert time.monotonic() < deadline, f"never saw the position wanted: {seen}\n{proc.text()}"
            time.sleep(0.005)
        assert proc.popen.wait(10) == -signal.SIGKILL
        return position()


def test_kill_9_of_the_projector_mid_rebuild_and_mid_catch_up_resumes_without_double_counting(
    pg_url: str, procs: Procs
) -> None:
    import random

    from ledger.application import Ledger
    from ledger.events import parse_event
    from projections.runner import NAME, Projector

    parties = [f"GM{9200 + i}" for i in range(5)]
    years = range(2015, 2019)
    budgets = ("participatiebudget", "werk-en-inkomen")
    setup = [
        *registration(*parties),
        *(ev("BudgetAllocated", {"budget": b, "source": "rijk", "amountCents": 10**11}, p, date=f"{y}-01-01")
          for p in parties for y in years for b in budgets),
        *(ev("ReserveEstablished", {"reserve": "r", "openingBalanceCents": 10**11, "purpose": "test",
                                    "revolving": False}, p, date="2015-01-01") for p in parties),
    ]
    rng = random.Random(20150101)

    def one() -> dict[str, Any]:
        party, budget, cents = rng.choice(parties), rng.choice(budgets), rng.randint(1, 10**6)
        date = f"{rng.choice(years)}-{rng.randint(1, 12):02d}-15"
        kind = rng.random()
        if kind < 0.6:
            data = {"budget": budget, "category": "uitvoering", "amountCents": cents}
            return ev("CostBooked", data, party, date=date)
        if kind < 0.75:
            return ev("IncomeBooked", {"budget": budget, "source": "opbrengst", "amountCents": cents}, party, date=date)
        if kind < 0.9:
            return ev("ReserveWithdrawn", {"reserve": "r", "budget": budget, "amountCents": cents}, party, date=date)
        return ev("ReserveAdded", {"reserve": "r", "budget": budget, "amountCents": cents}, party, date=date)

    ledger = Ledger(pg_url)
    read = ReadDB(pg_url)
    try:
        ledger.post([parse_event(e) for e in setup], "admin:test")
        for _ in range(20):
            ledger.post([parse_event(one()) for _ in range(1000)], "admin:test")
        Projector(ledger, read).catch_up()
        head = ledger.head()
    finally:
        read.close()
        ledger.close()
    before, shown, logged = read_model(pg_url), figures(pg_url), projected_positions(pg_url)
    assert len(logged) == len(setup) + 20_000 and logged[-1] == head

    rebuild = procs.start("rebuild", "--quiet")
    left = kill_when(rebuild, pg_url, lambda position: 0 < position < head // 3)
    assert 0 < left < head // 3 + 1000, left
    assert projected_positions(pg_url) == [p for p in logged if p <= left]  # what was committed, not a row more

    follower = procs.start("project")
    stopped = kill_when(follower, pg_url, lambda position: left < position < head)
    assert left < stopped < head, (left, stopped, head)
    assert projected_positions(pg_url) == [p for p in logged if p <= stopped]

    final = procs.start("project")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        deadline = time.monotonic() + 60
        while conn.execute(f"SELECT position FROM {TRACKING} WHERE name = %s", (NAME,)).fetchone()[0] < head:
            assert final.popen.poll() is None and time.monotonic() < deadline, final.text()
            time.sleep(0.05)
    after = read_model(pg_url)
    assert after == before, {t: (before[t], after[t]) for t in before if before[t] != after[t]}
    assert figures(pg_url) == shown
    final.stop()
    assert final.popen.returncode == 0, final.text()  # SIGTERM: a clean stop


# --- 4. concurrent posts against limits ----------------------------------------------------


async def test_concurrent_posts_to_one_party_never_lose_an_update_nor_break_a_limit(
    pg_url: str, procs: Procs, session: aiohttp.ClientSession
) -> None:
    admin, = tokens(pg_url, ("admin", None))
    port = free_port()
    server = procs.start("serve", "--port", str(port), "--workers", "2")
    http = Http(port, session)
    await http.wait_ready(server)
    await until(lambda: len(listening_pids(port, api_workers(server.pid))) == 2, what="two workers listening")
    party = "GM0439"
    assert (await http.post(admin, registration(party))).status == 201
    gemeente, = tokens(pg_url, ("gemeente", party))
    limits = [
        allocation(party, "participatiebudget", 50_000),
        ev("SteeringModeSet", {"budget": "participatiebudget", "mode": "kaderstellend"}, party),
        allocation(party, "algemene-middelen", 1_000),
        ev("ReserveEstablished", {"reserve": "r", "openingBalanceCents": 100_000, "purpose": "test",
                                  "revolving": False}, party, date="2015-01-01"),
    ]
    assert (await http.post(gemeente, limits)).status == 201

    clients = 32
    withdrawals = [ev("ReserveWithdrawn", {"reserve": "r", "budget": "algemene-middelen", "amountCents": 10_000}, party)
                   for _ in range(clients)]
    costs = [cost(party, 3_000) for _ in range(clients)]

    async def client(i: int) -> tuple[Answer, Answer]:
        withdrawn, booked = await asyncio.gather(http.post(gemeente, [withdrawals[i]]), http.post(gemeente, [costs[i]]))
        return withdrawn, booked

    answers = await asyncio.gather(*(client(i) for i in range(clients)))
    odd = [(a.status, a.body) for pair in answers for a in pair if a.status not in (201, 422)]
    assert not odd, odd  # no 5xx, no lost request: each accepted or refused by a rule

    def outcome(kind: int, rule: str) -> list[int]:
        accepted = []
        for i, pair in enumerate(answers):
            if pair[kind].status == 201:
                accepted.append(i)
            else:
                assert pair[kind].body["errors"][0]["rule"] == rule, pair[kind].body
        return accepted

    withdrawn = outcome(0, "reserve-below-zero")
    booked = outcome(1, "binding-budget-exceeded")
    assert len(withdrawn) == 10, f"{len(withdrawn)} withdrawals of 100.00 from a reserve of 1,000.00"
    assert len(booked) == 16, f"{len(booked)} costs of 30.00 against a binding 500.00"
    positions = [a.body["events"][0]["position"] for pair in answers for a in pair if a.status == 201]
    assert len(set(positions)) == len(positions) == 26

    reserves = await http.call("GET", "/v1/reserves", gemeente, party=party)
    (r,) = reserves.body["results"]
    assert (r["balanceCents"], r["withdrawnCents"]) == (0, 100_000), r
    balances = await http.call("GET", "/v1/balances", gemeente, party=party, year=2015)
    lines = {row["budget"]: row for row in balances.body["results"] if row["subBudget"] is None}
    binding = lines["participatiebudget"]
    assert (binding["allocatedCents"], binding["spentCents"], binding["availableCents"]) == (50_000, 48_000, 2_000)
    assert lines["algemene-middelen"]["incomeCents"] == 100_000, lines["algemene-middelen"]
    listed = await http.call("GET", "/v1/events", admin)
    assert listed.body["count"] == 1 + len(limits) + 26, listed.body

    # A supervisor killed outright leaves no worker behind holding the port.
    workers = api_workers(server.pid)
    os.kill(server.pid, signal.SIGKILL)
    await until(lambda: all(gone(w) for w in workers), within=10, what="the workers stopped without their supervisor")
