"""Test fixtures: a fresh ledger on SQLite and on PostgreSQL, served over real HTTP.

Every test that takes `store` runs once per store. The PostgreSQL run gets its own
database, dropped afterwards; where PostgreSQL is unreachable those runs are skipped
and the session ends with a loud notice saying so. `demo_server` is the demo served
by a real `ledger serve` process, for the browser and contract tests.
"""

from __future__ import annotations

import os
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import orjson
import psycopg
import pytest
from aiohttp.test_utils import TestClient

from api.app import create_app
from api.tokens import TokenStore
from ledger import demo
from ledger.config import Settings
from projections.db import ReadDB
from tests.procs_ledger import Proc, cli, free_port, readyz, token

PG_ADMIN = os.environ.get("LEDGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
_pg_unreachable: list[str] = []
_missing_tools: dict[str, list[str]] = {}  # a program `make test` installs where it may: the tests skipped for want of it


def _pg_admin_conn() -> psycopg.Connection:
    return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards; where PostgreSQL
    is unreachable the test is skipped and the session ends with a loud notice."""
    yield from _new_database(request)


@pytest.fixture
def other_pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A second one, for a test that moves a ledger from one database to another."""
    yield from _new_database(request)


def create_pg_database() -> str:
    """The URL of a new, empty PostgreSQL database (psycopg.OperationalError if unreachable)."""
    name = f"ledger_test_{uuid.uuid4().hex[:12]}"
    with _pg_admin_conn() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"


def drop_pg_database(url: str) -> None:
    with _pg_admin_conn() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _new_database(request: pytest.FixtureRequest) -> Iterator[str]:
    try:
        url = create_pg_database()
    except psycopg.OperationalError as e:
        _pg_unreachable.append(request.node.nodeid)
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN}: {e}")
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def skip_loudly(request: pytest.FixtureRequest) -> Callable[[str], NoReturn]:
    """Skip this test for want of PostgreSQL, counted in the session's loud notice (a
    test module importing `_pg_unreachable` gets a copy pytest never reports)."""

    def skip(why: str) -> NoReturn:
        _pg_unreachable.append(request.node.nodeid)
        pytest.skip(why)

    return skip


@pytest.fixture
def skip_for_want_of(request: pytest.FixtureRequest) -> Callable[[str, str], NoReturn]:
    """Skip this test for want of a program (`make test` installs them where it may),
    counted in the session's loud notice: `skip(program, why)`."""

    def skip(program: str, why: str) -> NoReturn:
        _missing_tools.setdefault(program, []).append(request.node.nodeid)
        pytest.skip(why)

    return skip


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A database URL for an empty ledger."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/ledger.db"
    return request.getfixturevalue("pg_url")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _pg_unreachable:
        terminalreporter.section("PostgreSQL NOT TESTED", sep="!", red=True, bold=True)
        terminalreporter.write_line(
            f"PostgreSQL was unreachable at {PG_ADMIN}: {len(_pg_unreachable)} PostgreSQL runs were skipped. "
            "Start it (pg_ctlcluster ... main start) or set LEDGER_TEST_PG to test the production store."
        )
    for program, skipped in _missing_tools.items():
        terminalreporter.section(f"{program.upper()} MISSING: NOT TESTED", sep="!", red=True, bold=True)
        terminalreporter.write_line(
            f"{len(skipped)} tests were skipped for want of {program}. `make test` installs it where it may "
            "(Debian's packages as root or with sudo, npm packages into .tools/)."
        )


@dataclass
class Api:
    """A running ledger over HTTP, with a token per role for the tests to use."""

    client: TestClient
    db_url: str
    tokens: TokenStore

    def token(self, role: str, party: str | None = None) -> str:
        return self.tokens.create(role, party)[1]

    async def post(self, token: str, body: Any) -> tuple[int, Any]:
        r = await self.client.post("/v1/events", json=body, headers={"Authorization": f"Bearer {token}"})
        return r.status, await r.json(content_type=None)

    async def get(self, token: str, path: str, **params: Any) -> tuple[int, Any]:
        r = await self.client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
        return r.status, await r.json(content_type=None)


@pytest.fixture
async def api(store: str, aiohttp_client: Any) -> AsyncIterator[Api]:
    app = create_app(Settings(db=store, read_timeout=10, rate_limit=0))  # the limit: tests/test_limits.py
    client = await aiohttp_client(app)
    db = ReadDB(store)
    try:
        yield Api(client=client, db_url=store, tokens=TokenStore(db))
    finally:
        db.close()


def event(kind: str, data: dict[str, Any], party: str = "GM0439", date: str = "2015-06-30", **extra: Any) -> dict[str, Any]:
    """A new event with a fresh id, as a client would build it."""
    return {"id": str(uuid.uuid4()), "type": kind, "party": party, "effectiveDate": date, "data": data, **extra}


@pytest.fixture
async def gemeente(api: Api) -> str:
    """A token of Purmerend (GM0439), registered by the admin, with nothing posted yet."""
    await register(api, api.token("admin"), "GM0439")
    return api.token("gemeente", "GM0439")


def assert_problem(status: int, content_type: str, body: dict[str, Any], expected: int) -> None:
    """An RFC 9457 problem as api.md and the ADR rules ask: problem+json with status, title, detail."""
    assert status == expected, body
    assert content_type.startswith("application/problem+json")
    assert body["status"] == expected and body["title"] and body["detail"]


async def load_demo(api: Api) -> str:
    """Post the demo's batches as an admin, as `ledger demo` stores them; the admin token."""
    admin = api.token("admin")
    for batch in demo.batches():
        status, body = await api.post(admin, {"events": batch.events})
        assert status == 201, (batch.title, body)
    return admin


async def register(api: Api, admin: str, *codes: str) -> None:
    """Register gemeenten by CBS code, as an admin does before they post."""
    status, body = await api.post(
        admin, {"events": [event("PartyRegistered", {"name": c, "kind": "gemeente"}, party=c, date="2014-01-01") for c in codes]}
    )
    assert status == 201, body


@dataclass(frozen=True)
class Served:
    """A `ledger serve` process holding the demo, with an admin token."""

    base: str
    db: str
    admin: str

    def get(self, path: str, **params: Any) -> Any:
        """GET `path` as the admin; its JSON."""
        url = f"{self.base}{path}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.admin}"})
        with urllib.request.urlopen(request) as r:
            return orjson.loads(r.read())


@contextmanager
def serve_demo(folder: Path, **env: str) -> Iterator[tuple[Served, Proc]]:
    """`make run` in small: the demo in a fresh SQLite ledger in `folder`, served by
    `ledger serve` with `env` added to its environment; and the process, for its log."""
    db = f"sqlite:///{folder}/ledger.db"
    cli(db, "demo", timeout=120)
    port = free_port()
    proc = Proc.start("serve", db, ["serve", "--port", str(port)], folder, **env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while readyz(base)[0] != 200:
            assert proc.alive(), proc.text()
            assert time.monotonic() < deadline, proc.text()
            time.sleep(0.2)
        yield Served(base, db, token(db, "admin")), proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The demo served by `ledger serve`, for the browser and contract tests."""
    with serve_demo(tmp_path_factory.mktemp("demo")) as (served, _):
        yield served
