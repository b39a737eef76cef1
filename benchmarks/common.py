"""What the benchmark scripts share: databases, the server, the data, results.

- `fresh_db(store)`: a new SQLite file or PostgreSQL database, dropped afterwards
  (`BENCH_PG` is the PostgreSQL admin URL, default postgresql://postgres@127.0.0.1:5432/postgres;
  `BENCH_WORKDIR` where SQLite files and server logs go, default /tmp/ledger-bench).
- `Server`: `ledger serve` as a subprocess (optionally `--workers N --external-projector`
  plus a `ledger project` process), stopped by its own process group.
- `dataset(n)`: the first n events of a generated year (benchmarks/generate.py).
- `Row` and `report()`: one result, printed beside the raw figure and appended to
  benchmarks/results.jsonl with the date, machine, git commit, store and sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import platform
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results.jsonl"
PG_ADMIN = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
WORKDIR = Path(os.environ.get("BENCH_WORKDIR", Path(tempfile.gettempdir()) / "ledger-bench"))
ADMIN_ONLY = frozenset({"PartyRegistered", "OrganisationRegistered"})

sys.path.insert(0, str(HERE))
from generate import generate  # noqa: E402


# --- the machine and the code ----------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    mem_kb = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "host": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ramGB": round(mem_kb / 1024 / 1024, 1),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "kernel": platform.release(),
    }


def git_commit() -> str:
    """HEAD, with '+dirty' when the tree differs from it (read-only git commands)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def pg_version() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]
    except psycopg.Error:
        return None


# --- databases -------------------------------------------------------------------------


def _pg_url(name: str) -> str:
    return f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"


def create_db(store: str, label: str) -> str:
    """A new empty database for `store`; its URL."""
    name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    if store == "sqlite":
        WORKDIR.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{WORKDIR / name}.db"
    if store != "postgres":
        raise ValueError(f"store must be sqlite or postgres, not {store!r}")
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return _pg_url(name)


def ensure_db(url: str) -> None:
    """Create the database of `url` if it does not exist (for --reuse of a new name)."""
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        return
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            admin.execute(f'CREATE DATABASE "{name}"')


def drop_db(url: str) -> None:
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
        return
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


@contextmanager
def fresh_db(store: str, label: str, keep: bool = False) -> Iterator[str]:
    url = create_db(store, label)
    try:
        yield url
    finally:
        if keep:
            print(f"kept database {url}", file=sys.stderr)
        else:
            drop_db(url)


def reused_or_fresh(args: argparse.Namespace, label: str) -> Any:
    """The database to run on: `--reuse URL` (created if missing, always kept), or a
    fresh one of `--db` (dropped afterwards unless `--keep`)."""
    if args.reuse:
        ensure_db(args.reuse)
        return nullcontext(args.reuse)
    return fresh_db(args.db, label, args.keep)


def store_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite:///") else "postgres"


def raw_connect(url: str) -> Any:
    """A plain connection to the same database, for the raw figures. SQLite in WAL mode with
    the default synchronous=FULL, as the event store's own connection (the library sets WAL
    and leaves synchronous alone)."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None, timeout=60, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn
    return psycopg.connect(url, autocommit=True)


def raw_table(url: str, name: str = "bench_raw") -> None:
    """A plain table: a bigint identity, the event id as text and its JSON payload."""
    conn = raw_connect(url)
    if url.startswith("sqlite:///"):
        conn.execute(f"DROP TABLE IF EXISTS {name}")
        conn.execute(f"CREATE TABLE {name} (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, payload TEXT NOT NULL)")
    else:
        conn.execute(f"DROP TABLE IF EXISTS {name}")
        conn.execute(f"CREATE TABLE {name} (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                     "id TEXT NOT NULL, payload JSON NOT NULL)")
    conn.close()


def raw_insert_sql(url: str, name: str = "bench_raw") -> str:
    mark = "?" if url.startswith("sqlite:///") else "%s"
    return f"INSERT INTO {name} (id, payload) VALUES ({mark}, {mark})"


def raw_insert_batch(conn: Any, url: str, rows: Sequence[tuple[str, str]], name: str = "bench_raw") -> None:
    """One transaction holding `rows`."""
    sql = raw_insert_sql(url, name)
    if url.startswith("sqlite:///"):
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
    else:
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(sql, rows)


def raw_insert_one(conn: Any, url: str, row: tuple[str, str], name: str = "bench_raw") -> None:
    """One row, one transaction (the plain single-event post): both connections autocommit."""
    conn.execute(raw_insert_sql(url, name), row)


def raw_threads(url: str, inputs: Sequence[Any], work: Any) -> float:
    """Run `work(conn, input)` for each input on a thread and connection of its own, all
    released at once; the seconds until the last is done. A thread's error is raised."""
    conns = [raw_connect(url) for _ in inputs]
    barrier = threading.Barrier(len(inputs) + 1)
    errors: list[BaseException] = []

    def run(conn: Any, item: Any) -> None:
        barrier.wait()
        try:
            work(conn, item)
        except BaseException as e:  # noqa: BLE001 - raised below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(c, i)) for c, i in zip(conns, inputs, strict=True)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    for c in conns:
        c.close()
    if errors:
        raise errors[0]
    return elapsed


# --- data ----------------------------------------------------------------------------------


def dataset_iter(n: int, seed: int = 1, year: int = 2024, municipalities: int | None = None) -> Iterator[dict[str, Any]]:
    """The first `n` events of a generated year: ~3,000 events per gemeente, as many gemeenten
    as that takes (at most 342; beyond that each gemeente gets more events)."""
    m = municipalities or min(342, max(3, math.ceil(n / 2800)))
    per = max(3000, math.ceil(n / m * 1.1))
    return itertools.islice(generate(m, year, seed, per), n)


def dataset(n: int, seed: int = 1, year: int = 2024, municipalities: int | None = None) -> list[dict[str, Any]]:
    return list(dataset_iter(n, seed, year, municipalities))


def split_registration(events: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The admin-only registrations (they come first) and the rest."""
    k = 0
    while k < len(events) and events[k]["type"] in ADMIN_ONLY:
        k += 1
    return list(events[:k]), list(events[k:])


def partition(events: Sequence[dict[str, Any]], k: int) -> list[list[dict[str, Any]]]:
    """`k` streams with disjoint parties, about equal in size, each in log order (a party's
    events only depend on its own earlier events and on the registrations)."""
    sizes: dict[str, int] = {}
    for e in events:
        sizes[e["party"]] = sizes.get(e["party"], 0) + 1
    load = [0] * k
    owner: dict[str, int] = {}
    for party, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        i = load.index(min(load))
        owner[party] = i
        load[i] += size
    streams: list[list[dict[str, Any]]] = [[] for _ in range(k)]
    for e in events:
        streams[owner[e["party"]]].append(e)
    return streams


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def load_direct(url: str, events: Iterable[dict[str, Any]], batch: int = 1000, label: str = "load") -> tuple[int, float]:
    """Post `events` through `Ledger.post` in this process (no HTTP, no projection): the
    fast way to fill a log. Returns how many and the seconds it took."""
    from ledger.application import Ledger
    from ledger.events import parse_event

    ledger = Ledger(url)
    done = 0
    start = last = time.perf_counter()
    source = iter(events)
    while chunk := list(itertools.islice(source, batch)):
        ledger.post([parse_event(e) for e in chunk], "admin:bench-load")
        done += len(chunk)
        now = time.perf_counter()
        if now - last > 15:
            print(f"  {label}: {done:,} events loaded, {done / (now - start):,.0f}/s", file=sys.stderr, flush=True)
            last = now
    elapsed = time.perf_counter() - start
    ledger.close()
    return done, elapsed


def project_all(url: str) -> float:
    """Bring the read model to the head of the log in this process; the seconds it took."""
    from ledger.application import Ledger
    from projections.db import ReadDB
    from projections.runner import Projector

    ledger, db = Ledger(url), ReadDB(url)
    start = time.perf_counter()
    Projector(ledger, db).catch_up()
    elapsed = time.perf_counter() - start
    db.close()
    ledger.close()
    return elapsed


def head_of(url: str) -> int:
    """How many events the log holds (0 for a new database)."""
    conn = raw_connect(url)
    try:
        row = conn.execute("SELECT MAX(position) FROM ledger_receipts").fetchone()
    except (sqlite3.Error, psycopg.Error):
        return 0
    finally:
        conn.close()
    return (row[0] if row else 0) or 0


def tokens(url: str, *specs: tuple[str, str | None]) -> list[str]:
    """New API tokens, one per (role, party), made in the token table directly."""
    from api.tokens import TokenStore
    from projections.db import ReadDB

    db = ReadDB(url)
    store = TokenStore(db)
    secrets = [store.create(role, party)[1] for role, party in specs]
    db.close()
    return secrets


# --- the server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`ledger serve` (and with `external_projector` a `ledger project`) on `url`, each in its
    own process group, stopped with SIGINT to that group (SIGKILL after 20 s)."""

    def __init__(self, url: str, workers: int = 1, external_projector: bool = False):
        self.url = url
        self.workers = workers
        self.external_projector = external_projector
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen[bytes]] = []

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen[bytes]:
        WORKDIR.mkdir(parents=True, exist_ok=True)
        log = open(WORKDIR / log_name, "ab")  # noqa: SIM115
        env = {**os.environ, "LEDGER_DB": self.url, "LEDGER_RATE_LIMIT": "0"}  # a benchmark is a flood on purpose
        proc = subprocess.Popen([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.procs.append(proc)
        return proc

    def start(self, timeout: float = 180) -> Server:
        args = ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.workers > 1:
            args += ["--workers", str(self.workers)]
        if self.external_projector:
            args.append("--external-projector")
            self._spawn(["project"], f"project-{self.port}.log")
        self.server = self._spawn(args, f"serve-{self.port}.log")
        deadline = time.monotonic() + timeout
        while True:
            for p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"ledger exited with {p.returncode}; see {WORKDIR}/*-{self.port}.log")
            try:
                with urllib.request.urlopen(f"{self.base}/readyz", timeout=5) as r:
                    body = orjson.loads(r.read())
                if body.get("lag", 0) == 0:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"ledger serve not ready after {timeout} s")
            time.sleep(0.2)

    def peak_rss_mb(self) -> float:
        """The largest VmHWM among the server's processes (a worker, or the single process)."""
        peak = 0
        for proc in self.procs:
            for pid in [proc.pid, *_children(proc.pid)]:
                peak = max(peak, _vm_hwm_kb(pid))
        return round(peak / 1024, 1)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGINT)
                except ProcessLookupError:
                    pass
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _vm_hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# --- HTTP load -------------------------------------------------------------------------------


async def post_streams(base: str, streams: Sequence[Sequence[bytes]], auth: Sequence[str],
                       latencies: list[float] | None = None) -> float:
    """Each stream's bodies POSTed in order by its own client (one keep-alive connection
    each), all clients at once; the seconds until the last answer. Any answer but 200/201
    stops the run: every generated event must be accepted."""
    import aiohttp

    async def client(bodies: Sequence[bytes], token: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        timeout = aiohttp.ClientTimeout(total=None, sock_read=600)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1), timeout=timeout) as session:
            for body in bodies:
                t0 = time.perf_counter()
                async with session.post(f"{base}/v1/events", data=body, headers=headers) as r:
                    answer = await r.read()
                    if r.status not in (200, 201):
                        raise RuntimeError(f"POST answered {r.status}: {answer[:2000].decode(errors='replace')} "
                                           f"(server logs in {WORKDIR})")
                if latencies is not None:
                    latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(client(s, t) for s, t in zip(streams, auth, strict=True)))
    return time.perf_counter() - start


def post_batches(base: str, token: str, events: Sequence[dict[str, Any]], batch: int = 1000) -> float:
    """Post `events` in batches, one client; the seconds it took."""
    bodies = [orjson.dumps({"events": list(b)}) for b in chunks(events, batch)]
    return asyncio.run(post_streams(base, [bodies], [token]))


# --- figures -----------------------------------------------------------------------------------


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max (nearest rank) and mean, in milliseconds of `values` in seconds."""
    if not values:
        return {}
    s = sorted(values)

    def rank(p: float) -> float:
        return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))] * 1000

    return {"p50": rank(50), "p95": rank(95), "p99": rank(99), "max": s[-1] * 1000, "mean": sum(s) / len(s) * 1000}


@dataclass
class Row:
    """One result: our figure beside the raw figure of the same work on the same database."""

    bench: str
    store: str
    case: str
    metric: str  # e.g. "events/s", "p99 ms"
    value: float
    raw: float | None = None
    higher_is_better: bool = True
    target: float | None = None
    sizes: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """How many times the raw cost ours is (>1: slower than raw)."""
        if self.raw is None or not self.value or not self.raw:
            return None
        return self.raw / self.value if self.higher_is_better else self.value / self.raw

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    @property
    def target_text(self) -> str:
        if self.target is None:
            return ""
        return f"{'≥' if self.higher_is_better else '≤'} {fmt(self.target)} {self.metric}"

    def line(self) -> str:
        raw = f"raw {fmt(self.raw)}" if self.raw is not None else "raw -"
        ratio = f"x{self.ratio:.2f}" if self.ratio is not None else ""
        verdict = {True: "PASS", False: "FAIL", None: ""}[self.passed]
        return (f"[{self.store}] {self.bench}: {self.case}: {fmt(self.value)} {self.metric} | {raw} | {ratio}"
                f"{' | target ' + self.target_text + ' ' + verdict if self.target is not None else ''}")


def fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


_MACHINE: dict[str, Any] | None = None


def report(rows: Sequence[Row], record: bool = True) -> None:
    """Print each row and append it to benchmarks/results.jsonl."""
    global _MACHINE
    if _MACHINE is None:
        _MACHINE = {**machine(), "postgres": pg_version()}
    commit = git_commit()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for row in rows:
        print(row.line(), flush=True)
        if not record:
            continue
        doc = {"date": now, "run": os.environ.get("BENCH_RUN_ID"), "machine": _MACHINE, "commit": commit,
               **asdict(row), "ratio": row.ratio, "pass": row.passed, "targetText": row.target_text}
        with RESULTS.open("ab") as f:
            f.write(orjson.dumps(doc) + b"\n")


def parser(description: str, events: int) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite", help="the store (default sqlite)")
    p.add_argument("--events", type=int, default=events, help=f"events (default {events:,})")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the databases (their URLs are printed)")
    p.add_argument("--no-record", action="store_true", help="print only; do not append to results.jsonl")
    return p
