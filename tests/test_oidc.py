"""OIDC JWT access tokens beside the CLI's tokens (issue 19), through real HTTP.

`issuer` is a real local issuer: an HTTP server on loopback serving its discovery
document and JWKS (counting the requests), with RSA and EC key pairs of its own and
tokens signed with PyJWT. The ledger is served as conftest's `api` fixture serves it,
with LEDGER_OIDC_* settings pointing at that issuer.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from api.app import create_app
from api.tokens import TokenStore
from ledger.config import Settings
from projections.db import ReadDB
from tests.conftest import Api, assert_problem, event, register, serve_demo
from tests.procs_ledger import ROOT, cli_env

AUDIENCE = "participatie-ledger"
SUB = "8f2c1e0a-5b7d-4c3e-9a61-2d4f0b8e7c15"
NAME = "Jan de Vries"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Issuer:
    """An OpenID Connect issuer on 127.0.0.1: its discovery document, its JWKS of the
    keys it publishes, and tokens signed with its private keys."""

    def __init__(self) -> None:
        self.private: dict[str, Any] = {}
        self.published: list[str] = []
        self.requests: Counter[str] = Counter()
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.requests[self.path] += 1
                if self.path == issuer.path + "/.well-known/openid-configuration":
                    body: dict[str, Any] = {"issuer": issuer.url, "jwks_uri": issuer.url + "/protocol/certs"}
                elif self.path == issuer.path + "/protocol/certs":
                    body = {"keys": [issuer.jwk(kid) for kid in issuer.published]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.path = "/realms/gemeenten"
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.add_key("rsa-1", "RSA")
        self.add_key("ec-1", "EC")

    @property
    def jwks_fetches(self) -> int:
        return self.requests[self.path + "/protocol/certs"]

    def add_key(self, kid: str, kind: str = "RSA") -> None:
        self.private[kid] = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if kind == "RSA"
                             else ec.generate_private_key(ec.SECP256R1()))
        self.published.append(kid)

    def retire(self, kid: str) -> None:
        self.published.remove(kid)

    def jwk(self, kid: str) -> dict[str, Any]:
        key = self.private[kid].public_key()
        if isinstance(key, rsa.RSAPublicKey):  # no `alg`, as Azure AD publishes them: RS256 and PS256 alike
            return {**RSAAlgorithm.to_jwk(key, as_dict=True), "kid": kid, "use": "sig"}
        return {**ECAlgorithm.to_jwk(key, as_dict=True), "kid": kid, "use": "sig", "alg": "ES256"}

    def public_pem(self, kid: str) -> bytes:
        return self.private[kid].public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def claims(self, **changes: Any) -> dict[str, Any]:
        """A gemeente's claims for GM0439; a change of None leaves that claim out."""
        now = int(time.time())
        claims = {"iss": self.url, "aud": AUDIENCE, "sub": SUB, "name": NAME, "iat": now, "exp": now + 300,
                  "ledger_role": "gemeente", "ledger_party": "GM0439", **changes}
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, kid: str | None = "rsa-1", alg: str | None = None, key: Any = None, **changes: Any) -> str:
        signing = key or self.private["rsa-1" if kid is None else kid]
        alg = alg or ("ES256" if isinstance(signing, ec.EllipticCurvePrivateKey) else "RS256")
        headers = {"kid": kid} if kid is not None else None
        return jwt.encode(self.claims(**changes), signing, algorithm=alg, headers=headers)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    issuer = Issuer()
    try:
        yield issuer
    finally:
        if issuer.thread.is_alive():
            issuer.stop()


Serve = Callable[..., Awaitable[Api]]


@pytest.fixture
async def serve(issuer: Issuer, aiohttp_client: Any, tmp_path: Any) -> AsyncIterator[Serve]:
    """`await serve(db=..., **settings)`: the ledger over HTTP, as conftest's `api`, with
    OIDC pointing at `issuer` (unless `oidc_issuer=None`)."""
    opened: list[ReadDB] = []

    async def start(db: str | None = None, **changes: Any) -> Api:
        url = db or f"sqlite:///{tmp_path}/ledger-{len(opened)}.db"
        values: dict[str, Any] = {"oidc_issuer": issuer.url, "oidc_audience": AUDIENCE, **changes}
        if values["oidc_issuer"] is None:
            values["oidc_audience"] = None
        client = await aiohttp_client(create_app(Settings(db=url, read_timeout=10, rate_limit=0, **values)))
        opened.append(ReadDB(url))
        return Api(client=client, db_url=url, tokens=TokenStore(opened[-1]))

    try:
        yield start
    finally:
        for db in opened:
            db.close()


def allocation(party: str = "GM0439") -> dict[str, Any]:
    data = {"budget": "participatiebudget", "source": "rijk", "amountCents": 500_000}
    return event("BudgetAllocated", data, party=party, date="2015-01-01")


async def answer(api: Api, token: str, path: str = "/v1/events") -> tuple[int, str, dict[str, Any], Any]:
    """GET `path` with `token`: status, content type, headers and body."""
    r = await api.client.get(path, headers={"Authorization": f"Bearer {token}"})
    return r.status, r.headers.get("Content-Type", ""), dict(r.headers), await r.json(content_type=None)


def refused(status: int, content_type: str, body: Any, token: str, reason: str) -> None:
    """A 401 problem whose detail names `reason` and which quotes no part of the token."""
    assert_problem(status, content_type, body, 401)
    assert reason in body["detail"], body["detail"]
    text = orjson.dumps(body).decode()
    assert all(part not in text for part in [token, *(p for p in token.split(".") if len(p) > 8)]), text


# --- the happy path ----------------------------------------------------------------


async def test_a_gemeente_jwt_posts_for_its_party_and_the_log_names_the_person(
    store: str, serve: Serve, issuer: Issuer
) -> None:
    api = await serve(store)
    await register(api, api.token("admin"), "GM0439", "GM0363")
    token = issuer.token()
    posted = allocation()
    status, body = await api.post(token, posted)
    assert status == 201, body
    poster = f"gemeente:GM0439:oidc:{SUB} ({NAME})"
    status, read = await api.get(token, f"/v1/events/{posted['id']}")
    assert status == 200 and read["postedBy"] == poster, read
    status, listed = await api.get(token, "/v1/events")
    assert [e["postedBy"] for e in listed["results"] if e["id"] == posted["id"]] == [poster]
    status, trail = await api.get(token, "/v1/balances/GM0439/2015/participatiebudget/trail")
    assert status == 200 and [r["postedBy"] for r in trail["results"]] == [poster], trail
    # Another party's: neither posted nor read.
    status, body = await api.post(token, allocation("GM0363"))
    assert status == 403, body
    assert (await api.get(token, "/v1/events", party="GM0363"))[0] == 403
    # The same person with an ES256 token of the issuer's EC key, and PS256 with its RSA key.
    for other in (issuer.token("ec-1"), issuer.token(alg="PS256")):
        status, read = await api.get(other, f"/v1/events/{posted['id']}")
        assert status == 200 and read["postedBy"] == poster, read


async def test_an_admin_jwt_by_a_list_role_claim(serve: Serve, issuer: Issuer) -> None:
    api = await serve(oidc_role_claim="realm_access.roles")
    admin = issuer.token(ledger_role=None, ledger_party=None, name=None, sub="kc-admin",
                         realm_access={"roles": ["offline_access", "admin", "uma_authorization"]})
    data = {"name": "Purmerend", "kind": "gemeente"}
    registration = event("PartyRegistered", data, party="GM0439", date="2014-01-01")
    status, body = await api.post(admin, registration)
    assert status == 201, body
    status, read = await api.get(admin, f"/v1/events/{registration['id']}")
    assert read["postedBy"] == "admin:oidc:kc-admin", read
    # The role claim's path, not the default claim, is read.
    status, _, _, body = await answer(api, issuer.token(ledger_role="admin", ledger_party=None))
    assert status == 401 and "no ledger role" in body["detail"]


async def test_cli_tokens_and_jwts_work_at_once(serve: Serve, issuer: Issuer) -> None:
    api = await serve()
    await register(api, api.token("admin"), "GM0439")
    cli = api.token("gemeente", "GM0439")
    status, body = await api.post(cli, allocation())
    assert status == 201, body
    status, body = await api.post(issuer.token(), allocation())
    assert status == 201, body
    for token in (cli, issuer.token()):
        status, listed = await api.get(token, "/v1/events", party="GM0439")
        assert status == 200 and len(listed["results"]) == 3  # the registration and the two allocations
    posters = {e["postedBy"].split(":")[2] for e in listed["results"] if e["type"] == "BudgetAllocated"}
    assert posters == {"tok_" + cli[4:16], "oidc"}
    status, _, _, body = await answer(api, "plg_0123456789ab_" + "x" * 43)
    assert status == 401 and body["detail"] == "send a valid token as 'Authorization: Bearer <token>'"


async def test_without_oidc_a_jwt_is_a_plain_401(serve: Serve, issuer: Issuer) -> None:
    api = await serve(oidc_issuer=None)
    token = issuer.token()
    status, content_type, _, body = await answer(api, token)
    refused(status, content_type, body, token, "send a valid token")
    assert issuer.requests == Counter()  # never asked


async def test_a_token_without_kid_needs_an_issuer_of_one_key(serve: Serve, issuer: Issuer) -> None:
    api = await serve()
    token = issuer.token(kid=None)
    status, content_type, _, body = await answer(api, token)
    refused(status, content_type, body, token, "names no key")
    issuer.retire("ec-1")
    api = await serve()
    assert (await answer(api, token))[0] == 200


# --- refusals ------------------------------------------------------------------------


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def _alg_none(issuer: Issuer) -> str:
    return _unsigned({"alg": "none", "typ": "JWT", "kid": "rsa-1"}, issuer.claims()) + "."


def _hs256_with_the_public_key(issuer: Issuer) -> str:
    """The algorithm-confusion attack: the issuer's public key (which anyone may fetch)
    as an HMAC secret, in the hope the verifier uses it as one."""
    signing_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, issuer.claims(ledger_role="admin",
                                                                                           ledger_party=None))
    mac = hmac.new(issuer.public_pem("rsa-1"), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _forged(issuer: Issuer) -> str:
    """The issuer's kid, another key."""
    return issuer.token("rsa-1", key=rsa.generate_private_key(public_exponent=65537, key_size=2048))


REFUSALS: dict[str, tuple[Callable[[Issuer], str], str, str | None]] = {
    # case: (token, what the detail names, a raw claim value the answer must not quote)
    "expired": (lambda i: i.token(exp=int(time.time()) - 3600), "expired at 20", None),
    "not yet valid": (lambda i: i.token(nbf=int(time.time()) + 3600), "not yet valid: not before 20", None),
    "wrong issuer": (lambda i: i.token(iss="https://login.example.net/other"), "wrong issuer", "login.example.net"),
    "wrong audience": (lambda i: i.token(aud="someone-else"), "wrong audience", "someone-else"),
    "unknown kid": (lambda i: i.token("kid-of-nobody", key=i.private["rsa-1"]), "unknown key", "kid-of-nobody"),
    "forged": (_forged, "bad signature", None),
    "alg none": (_alg_none, "algorithm not allowed", None),
    "HS256 with the public key": (_hs256_with_the_public_key, "algorithm not allowed", None),
    "no role": (lambda i: i.token(ledger_role=None), "no ledger role", None),
    "two roles": (lambda i: i.token(ledger_role=["gemeente", "controller"]), "2 ledger roles", None),
    "no party": (lambda i: i.token(ledger_party=None), "needs a party code", None),
    "bad party": (lambda i: i.token(ledger_party="gm 0439; drop"), "needs a party code", "drop"),
    "admin with a party": (lambda i: i.token(ledger_role="admin"), "bound to no party", None),
    "control character in name": (lambda i: i.token(name="Jan\x1b[2J de Vries"), "name claim", "\x1b"),
    "name too long": (lambda i: i.token(name="J" * 201), "name claim", "J" * 50),
    "space in sub": (lambda i: i.token(sub="jan de vries"), "sub claim", "jan de vries"),
    "no sub": (lambda i: i.token(sub=None), "no sub claim", None),
    "sub not text": (lambda i: i.token(sub=4711), "malformed token", None),
    "no exp": (lambda i: i.token(exp=None), "no exp claim", None),
    "not a JWT": (lambda i: "eyJub3QiOiJq.c29u.YQ", "malformed token", None),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_a_bad_jwt_is_a_401_naming_why(serve: Serve, issuer: Issuer, case: str) -> None:
    api = await serve()
    make, reason, raw = REFUSALS[case]
    token = make(issuer)
    status, content_type, headers, body = await answer(api, token)
    refused(status, content_type, body, token, reason)
    assert headers["WWW-Authenticate"].startswith("Bearer")
    if raw is not None:
        assert raw not in orjson.dumps(body).decode() and raw not in json.dumps(body)


# --- the issuer's keys ---------------------------------------------------------------


async def test_rotated_keys_are_picked_up_and_retired_ones_dropped(serve: Serve, issuer: Issuer) -> None:
    api = await serve(oidc_jwks_ttl=1.0, oidc_jwks_refresh=0.2)
    assert (await answer(api, issuer.token("rsa-1")))[0] == 200
    assert issuer.jwks_fetches == 1
    issuer.add_key("rsa-2")
    await asyncio.sleep(0.25)  # past the refetch interval
    assert (await answer(api, issuer.token("rsa-2")))[0] == 200  # an unknown kid: fetched again
    assert issuer.jwks_fetches == 2
    issuer.retire("rsa-1")
    old = issuer.token("rsa-1")
    assert (await answer(api, old))[0] == 200  # the cached set still holds it
    await asyncio.sleep(1.1)  # past the cache's lifespan
    status, content_type, _, body = await answer(api, old)
    refused(status, content_type, body, old, "unknown key")
    assert (await answer(api, issuer.token("rsa-2")))[0] == 200


async def test_unknown_kids_refetch_at_most_once_per_interval(serve: Serve, issuer: Issuer) -> None:
    api = await serve(oidc_jwks_refresh=0.5)
    assert (await answer(api, issuer.token()))[0] == 200
    assert issuer.jwks_fetches == 1
    made_up = [issuer.token(uuid.uuid4().hex, key=issuer.private["rsa-1"]) for _ in range(20)]
    for token in made_up[:10]:  # within the interval of the first fetch: none fetches
        assert (await answer(api, token))[0] == 401
    assert issuer.jwks_fetches == 1
    await asyncio.sleep(0.6)
    for token in made_up[10:]:  # the first fetches again, the rest wait for the next interval
        assert (await answer(api, token))[0] == 401
    assert issuer.jwks_fetches == 2
    assert issuer.requests[issuer.path + "/.well-known/openid-configuration"] == 1  # discovered once


async def test_an_issuer_that_does_not_answer_is_a_503(
    serve: Serve, issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    api = await serve(oidc_jwks_ttl=1.0, oidc_jwks_refresh=0.2)
    cached = await serve(oidc_jwks_ttl=1.0, oidc_jwks_refresh=0.2)
    await register(cached, cached.token("admin"), "GM0439")
    assert (await answer(cached, issuer.token()))[0] == 200
    issuer.stop()
    status, content_type, headers, body = await answer(api, issuer.token())
    assert_problem(status, content_type, body, 503)
    assert body["type"].endswith(":identity-provider-unavailable") and int(headers["Retry-After"]) >= 1
    assert any("discovery document" in r.getMessage() and "cannot be read" in r.getMessage() for r in caplog.records)
    assert (await answer(api, api.token("auditor")))[0] == 200  # CLI tokens do not need the issuer
    assert (await answer(cached, issuer.token()))[0] == 200  # its keys are cached a while
    await asyncio.sleep(0.25)  # past the refetch interval: a new kid asks the issuer, in vain
    assert (await answer(cached, issuer.token("rsa-new", key=issuer.private["rsa-1"])))[0] == 503
    assert (await answer(cached, issuer.token()))[0] == 200  # which leaves the cached keys be
    await asyncio.sleep(1.1)
    status, content_type, _, body = await answer(cached, issuer.token())
    assert_problem(status, content_type, body, 503)


# --- settings and the document ---------------------------------------------------------


@pytest.mark.parametrize(("env", "says"), [
    ({"LEDGER_OIDC_ALGORITHMS": "RS256,HS256"}, "HS256"),
    ({"LEDGER_OIDC_ALGORITHMS": "none"}, "none"),
    ({"LEDGER_OIDC_AUDIENCE": ""}, "LEDGER_OIDC_AUDIENCE"),
    ({"LEDGER_OIDC_ISSUER": "http://login.example.org/realms/x"}, "https"),
    ({"LEDGER_OIDC_JWKS_URL": "file:///etc/passwd"}, "LEDGER_OIDC_JWKS_URL"),
    ({"LEDGER_OIDC_LEEWAY": "half a minute"}, "LEDGER_OIDC_LEEWAY"),
])
def test_settings_refuse_what_cannot_be_verified_safely(env: dict[str, str], says: str) -> None:
    base = {"LEDGER_OIDC_ISSUER": "https://login.example.org/realms/x", "LEDGER_OIDC_AUDIENCE": AUDIENCE}
    with pytest.raises(ValueError, match=says):
        Settings.from_env({**base, **env})
    assert Settings.from_env(base).oidc_algorithms == ("RS256", "ES256", "PS256")


def test_settings_read_from_the_environment() -> None:
    settings = Settings.from_env({
        "LEDGER_OIDC_ISSUER": "https://login.example.org/realms/x", "LEDGER_OIDC_AUDIENCE": AUDIENCE,
        "LEDGER_OIDC_JWKS_URL": "https://login.example.org/certs", "LEDGER_OIDC_ALGORITHMS": " ES256 , PS256 ",
        "LEDGER_OIDC_ROLE_CLAIM": "realm_access.roles", "LEDGER_OIDC_PARTY_CLAIM": "gemeente",
        "LEDGER_OIDC_LEEWAY": "5", "LEDGER_OIDC_JWKS_TTL": "60", "LEDGER_OIDC_JWKS_REFRESH": "2.5",
    })
    assert (settings.oidc_issuer, settings.oidc_audience, settings.oidc_jwks_url, settings.oidc_algorithms) == (
        "https://login.example.org/realms/x", AUDIENCE, "https://login.example.org/certs", ("ES256", "PS256"))
    assert (settings.oidc_role_claim, settings.oidc_party_claim) == ("realm_access.roles", "gemeente")
    assert (settings.oidc_leeway, settings.oidc_jwks_ttl, settings.oidc_jwks_refresh) == (5, 60, 2.5)
    assert Settings.from_env({}).oidc_issuer is None


async def test_the_document_offers_either_scheme(serve: Serve, issuer: Issuer) -> None:
    for api, url in ((await serve(), issuer.url + "/.well-known/openid-configuration"),
                     (await serve(oidc_issuer=None), "https://issuer.example.org/.well-known/openid-configuration")):
        document = orjson.loads(await (await api.client.get("/v1/openapi.json")).read())
        assert document["security"] == [{"bearerAuth": []}, {"oidc": []}]
        schemes = document["components"]["securitySchemes"]
        assert schemes["oidc"]["type"] == "openIdConnect" and schemes["oidc"]["openIdConnectUrl"] == url
        assert schemes["bearerAuth"]["scheme"] == "bearer"


def _request(base: str, token: str, path: str, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(base + path, data=None if body is None else orjson.dumps(body),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, orjson.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, orjson.loads(e.read())


def test_ledger_serve_takes_the_issuers_tokens_from_its_environment(
    issuer: Issuer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """As an operator runs it: `ledger serve` with LEDGER_OIDC_* set, a JWT posting and a
    CLI token beside it; and settings that cannot be verified safely stop it at once."""
    folder = tmp_path_factory.mktemp("serve-oidc")
    with serve_demo(folder, LEDGER_OIDC_ISSUER=issuer.url, LEDGER_OIDC_AUDIENCE=AUDIENCE) as (served, _):
        posted = allocation()
        status, body = _request(served.base, issuer.token(), "/v1/events", posted)
        assert status == 201, body
        status, read = _request(served.base, served.admin, f"/v1/events/{posted['id']}")
        assert status == 200 and read["postedBy"] == f"gemeente:GM0439:oidc:{SUB} ({NAME})"
        status, refused = _request(served.base, issuer.token(aud="another-api"), "/v1/parties")
        assert status == 401 and "audience" in refused["detail"]
    bad = subprocess.run([sys.executable, "-m", "api.cli", "serve", "--port", "0"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env=cli_env(served.db, LEDGER_OIDC_ISSUER=issuer.url,
                                                            LEDGER_OIDC_AUDIENCE=AUDIENCE, LEDGER_OIDC_ALGORITHMS="HS256"))
    assert bad.returncode != 0 and "LEDGER_OIDC_ALGORITHMS" in bad.stderr and "Traceback" not in bad.stderr
