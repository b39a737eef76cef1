"""Abuse limits: body and batch size (413), per-token rate (429), token expiry and
revocation (401), and the constant-time token check. Each refusal is a problem+json
and changes nothing."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from api import tokens as tokens_module
from api.app import create_app
from api.limits import RateLimiter
from api.problems import Problem
from api.tokens import TokenStore
from ledger.config import Settings
from projections.db import ReadDB
from tests.conftest import Api, assert_problem, register
from tests.test_access import allocation
from tests.procs_ledger import cli

PARTY = "GM0439"


async def limited(aiohttp_client: Any, tmp_path: Path, **settings: Any) -> AsyncIterator[Api]:
    db_url = f"sqlite:///{tmp_path}/ledger.db"
    client = await aiohttp_client(create_app(Settings(db=db_url, read_timeout=10, **settings)))
    db = ReadDB(db_url)
    try:
        yield Api(client=client, db_url=db_url, tokens=TokenStore(db))
    finally:
        db.close()


@pytest.fixture
async def small(aiohttp_client: Any, tmp_path: Path) -> AsyncIterator[Api]:
    """A ledger taking bodies of at most 4 KiB and batches of at most 3 events, with Purmerend registered."""
    async for api in limited(aiohttp_client, tmp_path, max_body=4096, max_batch=3, rate_limit=0):
        await register(api, api.token("admin"), PARTY)
        yield api


async def head(api: Api, token: str) -> int:
    status, log = await api.get(token, "/v1/events")
    assert status == 200, log
    return log["count"]


async def refused(api: Api, token: str, body: bytes, expected: int) -> dict[str, Any]:
    r = await api.client.post("/v1/events", data=body, headers={"Authorization": f"Bearer {token}",
                                                                "Content-Type": "application/json"})
    problem = await r.json(content_type=None)
    assert_problem(r.status, r.headers["Content-Type"], problem, expected)
    return problem


async def test_a_body_over_the_limit_is_a_413_problem_and_stores_nothing(small: Api) -> None:
    token = small.token("gemeente", PARTY)
    before = await head(small, token)
    padded = allocation(PARTY) | {"reference": "x" * 5000}
    problem = await refused(small, token, orjson.dumps(padded), 413)
    assert problem["type"].endswith(":payload-too-large")
    assert await head(small, token) == before


async def test_a_batch_over_the_limit_is_a_413_problem_and_stores_nothing(small: Api) -> None:
    token = small.token("gemeente", PARTY)
    before = await head(small, token)
    problem = await refused(small, token, orjson.dumps({"events": [allocation(PARTY) for _ in range(4)]}), 413)
    assert problem["type"].endswith(":batch-too-large") and "at most 3 events" in problem["detail"]
    assert await head(small, token) == before
    status, body = await small.post(token, {"events": [allocation(PARTY) for _ in range(3)]})
    assert status == 201, body


async def test_a_token_over_its_rate_is_a_429_with_retry_after_and_others_go_on(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    async for api in limited(aiohttp_client, tmp_path, rate_limit=0.5, rate_burst=3):
        admin, other = api.token("admin"), api.token("auditor")
        await register(api, admin, PARTY)  # 1
        assert await head(api, admin) == 1  # 2
        assert (await api.get(admin, "/v1/balances"))[0] == 200  # 3: the burst is spent
        r = await api.client.post("/v1/events", json=allocation(PARTY), headers={"Authorization": f"Bearer {admin}"})
        problem = await r.json(content_type=None)
        assert_problem(r.status, r.headers["Content-Type"], problem, 429)
        assert problem["type"].endswith(":too-many-requests")
        assert 1 <= int(r.headers["Retry-After"]) <= 2  # one request back at 0.5 a second
        assert await head(api, other) == 1  # the refused post stored nothing; another token is not held up
        r = await api.client.get("/v1/events", headers={"Authorization": "Bearer plg_nonsense"})
        assert r.status == 401  # no valid token: a 401 before any limit


def test_a_bucket_refills_at_the_rate_up_to_the_burst() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=3, clock=lambda: now[0])
    for _ in range(3):
        limiter.check("a")
    with pytest.raises(Problem) as refused_at_once:
        limiter.check("a")
    assert refused_at_once.value.status == 429 and refused_at_once.value.headers["Retry-After"] == "1"
    now[0] = 0.5  # one request back (2 a second)
    limiter.check("a")
    with pytest.raises(Problem):
        limiter.check("a")
    now[0] = 100.0  # long idle: back to the burst, not more
    for _ in range(3):
        limiter.check("a")
    with pytest.raises(Problem):
        limiter.check("a")
    limiter.check("b")  # each token has its own bucket


def test_full_buckets_are_forgotten_when_there_are_many(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RateLimiter, "PRUNE_AT", 3)
    now = [0.0]
    limiter = RateLimiter(rate=1.0, burst=2, clock=lambda: now[0])
    for key in "abc":
        limiter.check(key)
    limiter.check("c")  # c's bucket is empty, a and b have one left
    now[0] = 1.0  # a and b are full again, c has one
    limiter.check("d")
    assert set(limiter._buckets) == {"c", "d"}
    limiter.check("c")
    with pytest.raises(Problem):
        limiter.check("c")  # c's count survived the pruning


async def test_an_expired_token_is_a_401_saying_so(api: Api) -> None:
    _, token = api.tokens.create("auditor", valid_for=timedelta(seconds=1))
    assert (await api.get(token, "/v1/events"))[0] == 200
    await asyncio.sleep(2.1)  # expiry instants are whole seconds
    status, problem = await api.get(token, "/v1/events")
    assert status == 401 and "expired" in problem["detail"], problem


async def test_a_revoked_token_is_a_401_saying_so(api: Api) -> None:
    info, token = api.tokens.create("auditor")
    assert api.tokens.revoke(info.token_id)
    status, problem = await api.get(token, "/v1/events")
    assert status == 401 and "revoked" in problem["detail"], problem


async def test_a_token_is_checked_in_constant_time(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A known id with a wrong secret, an unknown id, and the right token each go through
    one `hmac.compare_digest` of whole hashes: no early exit that a stopwatch could see."""
    calls: list[tuple[str, str]] = []
    constant_time = hmac.compare_digest

    def compare(a: str, b: str) -> bool:
        calls.append((a, b))
        return constant_time(a, b)

    monkeypatch.setattr(tokens_module.hmac, "compare_digest", compare)
    info, token = api.tokens.create("auditor")
    key = info.token_id.removeprefix("tok_")
    wrong_secret = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    unknown_id = token.replace(key, "0" * 12 if key != "0" * 12 else "1" * 12)
    for tried, expected in ((wrong_secret, 401), (unknown_id, 401), (token, 200)):
        calls.clear()
        assert (await api.get(tried, "/v1/events"))[0] == expected
        assert len(calls) == 1 and all(len(h) == 64 for h in calls[0])


async def test_a_token_of_the_old_form_is_refused(api: Api) -> None:
    assert (await api.get("plg_" + "A" * 43, "/v1/events"))[0] == 401


def test_tokens_are_listed_with_their_expiry_and_revocation_never_their_secret(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/ledger.db"
    made = cli(db, "token", "create", "--role", "auditor", "--expires-in", "30m")
    secret = made.stdout.strip()
    token_id = "tok_" + secret.split("_")[1]
    assert f"created {token_id} (auditor), valid until " in made.stderr
    assert cli(db, "token", "revoke", token_id).returncode == 0
    listed = cli(db, "token", "list")
    (row,) = [orjson.loads(line) for line in listed.stdout.splitlines()]
    assert row["id"] == token_id and row["role"] == "auditor" and row["revokedAt"]
    created = time.strptime(row["createdAt"], "%Y-%m-%dT%H:%M:%SZ")
    expires = time.strptime(row["expiresAt"], "%Y-%m-%dT%H:%M:%SZ")
    assert time.mktime(expires) - time.mktime(created) == 30 * 60
    assert secret not in listed.stdout + listed.stderr
    bad = cli(db, "token", "create", "--role", "auditor", "--expires-in", "forever", check=False)
    assert bad.returncode == 2 and "not a duration" in bad.stderr and not bad.stdout
