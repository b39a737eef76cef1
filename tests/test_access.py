"""Authentication, roles and the response conventions (api.md "Authentication and
roles" and the ADR rules of its introduction), proven through the HTTP API.

The `world` fixture holds three gemeenten and one organisation of two of them, each
with a budget and a reserve, so every read has rows of every party to leak or hide.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import ClientResponse

from api import pages
from api.app import SECURITY_HEADERS
from api.openapi import document_path
from ledger.events import PAYLOADS
from tests.conftest import Api, assert_problem, event, register

ORG = "WERKBEDRIJF-WATERLAND"
MEMBER, OTHER_MEMBER, OUTSIDER = "GM0439", "GM0363", "GM0405"
EVERYONE = {MEMBER, OTHER_MEMBER, OUTSIDER, ORG}
READ_ROUTES = ["/v1/events", "/v1/events/{id}", "/v1/balances", "/v1/reserves"]


def allocation(party: str) -> dict[str, Any]:
    data = {"budget": "participatiebudget", "source": "rijk", "amountCents": 500_000}
    return event("BudgetAllocated", data, party=party, date="2015-01-01")


def reserve(party: str) -> dict[str, Any]:
    data = {"reserve": "participatie", "openingBalanceCents": 1000, "purpose": "reintegratie"}
    return event("ReserveEstablished", data, party=party, date="2015-01-01")


def registration_of(party: str) -> dict[str, Any]:
    """A PartyRegistered: only an admin may post one, whatever its party."""
    return event("PartyRegistered", {"name": party, "kind": "gemeente"}, party=party, date="2014-01-01")


@pytest.fixture
async def world(api: Api) -> Api:
    """Three gemeenten, the organisation of MEMBER and OTHER_MEMBER, a budget and a reserve each."""
    admin = api.token("admin")
    await register(api, admin, MEMBER, OTHER_MEMBER, OUTSIDER)
    members = {"name": "Werkbedrijf", "members": [MEMBER, OTHER_MEMBER]}
    organisation = event("OrganisationRegistered", members, party=ORG, date="2014-01-01")
    books = [make(p) for p in sorted(EVERYONE) for make in (allocation, reserve)]
    status, body = await api.post(admin, {"events": [organisation, *books]})
    assert status == 201, body
    return api


async def call(api: Api, method: str, path: str, token: str | None = None, **kw: Any) -> tuple[ClientResponse, Any]:
    """One request (with a bearer token if given): the response and its parsed body."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = await api.client.request(method, path, headers=headers, **kw)
    return r, await r.json(content_type=None)


def problem(r: ClientResponse, body: dict[str, Any], status: int) -> None:
    assert_problem(r.status, r.headers["Content-Type"], body, status)


async def an_event_of(api: Api, party: str) -> str:
    """The id of one logged event of `party`."""
    status, body = await api.get(api.token("auditor"), "/v1/events", party=party)
    assert status == 200, body
    return body["results"][0]["id"]


async def parties_read(api: Api, token: str, path: str) -> set[str]:
    """The parties of the rows a read without `party` answers."""
    status, body = await api.get(token, path)
    assert status == 200, body
    return {row["party"] for row in body["results"]}


# --- authentication ---------------------------------------------------------------------

NO_TOKENS = [pytest.param(None, id="no-token"), pytest.param("plg_" + "x" * 43, id="unknown-token")]


@pytest.mark.parametrize("token", NO_TOKENS)
@pytest.mark.parametrize("route", ["POST /v1/events", *(f"GET {p}" for p in READ_ROUTES)])
async def test_no_or_an_unknown_token_is_a_401(world: Api, route: str, token: str | None) -> None:
    method, path = route.split()
    kw = {"json": allocation(MEMBER)} if method == "POST" else {}
    r, body = await call(world, method, path.format(id=await an_event_of(world, MEMBER)), token, **kw)
    problem(r, body, 401)
    assert r.headers["WWW-Authenticate"].lower().startswith("bearer")


async def test_a_revoked_token_is_a_401(world: Api) -> None:
    info, secret = world.tokens.create("gemeente", MEMBER)
    assert (await world.get(secret, "/v1/balances", party=MEMBER))[0] == 200
    assert world.tokens.revoke(info.token_id)
    r, body = await call(world, "GET", "/v1/balances", secret, params={"party": MEMBER})
    problem(r, body, 401)
    r, body = await call(world, "POST", "/v1/events", secret, json=allocation(MEMBER))
    problem(r, body, 401)


@pytest.mark.parametrize("path", ["/v1/openapi.json", "/healthz", "/readyz"])
async def test_service_routes_need_no_token(api: Api, path: str) -> None:
    r, _ = await call(api, "GET", path)
    assert r.status == 200


async def test_the_openapi_document_covers_every_route_and_event_type(api: Api) -> None:
    r, doc = await call(api, "GET", "/v1/openapi.json")
    assert doc["openapi"].startswith("3.")
    for route in api.client.app.router.routes():
        if route.method != "HEAD" and not pages.is_page(route.resource.canonical):  # the dashboard, not the API
            assert route.method.lower() in doc["paths"][document_path(route.resource.canonical)], route
    assert set(PAYLOADS) <= set(doc["components"]["schemas"])


# --- the response conventions -------------------------------------------------------------


async def test_every_response_carries_api_version_and_errors_are_problems(api: Api) -> None:
    admin = api.token("admin")
    await register(api, admin, MEMBER)
    controller = api.token("controller", MEMBER)
    answers = [
        (await call(api, "GET", "/healthz"), 200),
        (await call(api, "POST", "/v1/events", admin, json=allocation(MEMBER)), 201),
        (await call(api, "GET", "/v1/balances", admin, params={"year": "twenty"}), 400),
        (await call(api, "GET", "/v1/balances"), 401),
        (await call(api, "POST", "/v1/events", controller, json=allocation(MEMBER)), 403),
        (await call(api, "GET", "/v1/no-such-route", admin), 404),
        (await call(api, "DELETE", "/v1/balances", admin), 405),
        (await call(api, "GET", "/v1/openapi.json"), 200),
    ]
    doc_version = answers[-1][0][1]["info"]["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", doc_version)  # semver, as the header carries it
    for (r, body), status in answers:
        assert r.status == status, body
        assert r.headers["API-Version"] == doc_version
        for name, value in SECURITY_HEADERS.items():
            assert r.headers[name] == value, (name, status)
        if status >= 400:
            problem(r, body, status)


@pytest.mark.parametrize(("path", "params", "name"), [
    ("/v1/balances", {"party": MEMBER, "yaer": "2018"}, "yaer"),  # a typo is refused, not ignored
    ("/v1/events/00000000-0000-0000-0000-000000000000", {"party": MEMBER}, "party"),
    ("/v1/balances", {"year": ""}, "year"),  # an empty number is not "no year"
    ("/v1/events", {"after": ""}, "after"),
    ("/v1/balances/gm0439/2018/participatiebudget/trail", {}, "party"),  # not a party code
    ("/v1/balances/GM0439/1200/participatiebudget/trail", {}, "year"),
    ("/v1/organisations/Drentsche Aa/cost-split", {"year": "2015"}, "code"),
])
async def test_a_bad_or_unknown_parameter_is_a_400_naming_it(api: Api, path: str, params: dict[str, str], name: str) -> None:
    r, body = await call(api, "GET", path, api.token("admin"), params=params)
    problem(r, body, 400)
    assert [p["name"] for p in body["invalidParams"]] == [name]


# --- roles: posting -------------------------------------------------------------------------


async def test_a_gemeente_posts_for_its_own_party_only(world: Api) -> None:
    token = world.token("gemeente", MEMBER)
    assert (await world.post(token, allocation(MEMBER)))[0] == 201
    for refused in (allocation(OUTSIDER), registration_of(MEMBER)):
        r, body = await call(world, "POST", "/v1/events", token, json=refused)
        problem(r, body, 403)


@pytest.mark.parametrize("role", ["controller", "auditor"])
async def test_readers_never_post(world: Api, role: str) -> None:
    token = world.token(role, MEMBER if role == "controller" else None)
    r, body = await call(world, "POST", "/v1/events", token, json=allocation(MEMBER))
    problem(r, body, 403)


async def test_an_organisation_posts_for_its_organisation_only(world: Api) -> None:
    token = world.token("organisation", ORG)
    assert (await world.post(token, allocation(ORG)))[0] == 201
    r, body = await call(world, "POST", "/v1/events", token, json=allocation(MEMBER))
    problem(r, body, 403)


async def test_a_refused_batch_lists_the_refused_indexes_and_stores_nothing(world: Api) -> None:
    token = world.token("gemeente", MEMBER)
    own = allocation(MEMBER)
    batch = [own, allocation(OUTSIDER), registration_of(MEMBER)]
    r, body = await call(world, "POST", "/v1/events", token, json={"events": batch})
    problem(r, body, 403)
    assert [e["index"] for e in body["errors"]] == [1, 2]
    assert (await world.get(token, f"/v1/events/{own['id']}"))[0] == 404


# --- roles: reading ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", READ_ROUTES)
async def test_a_controller_reads_its_own_party_but_no_other(world: Api, path: str) -> None:
    token = world.token("controller", OUTSIDER)
    for party, status in ((OUTSIDER, 200), (MEMBER, 403)):
        event_id = await an_event_of(world, party)
        params = {} if "{id}" in path else {"party": party}  # one event is named by its id alone
        r, body = await call(world, "GET", path.format(id=event_id), token, params=params)
        assert r.status == status, body
        if status == 403:
            problem(r, body, 403)


@pytest.mark.parametrize("path", ["/v1/events", "/v1/balances", "/v1/reserves"])
async def test_an_auditor_reads_everything(world: Api, path: str) -> None:
    token = world.token("auditor")
    assert await parties_read(world, token, path) == EVERYONE
    for party in EVERYONE:
        assert (await world.get(token, path, party=party))[0] == 200


async def test_a_member_gemeente_reads_its_organisation_and_an_outsider_does_not(world: Api) -> None:
    member = world.token("gemeente", MEMBER)
    status, body = await world.get(member, "/v1/balances", party=ORG)
    assert status == 200 and {row["party"] for row in body["results"]} == {ORG}
    r, body = await call(world, "GET", "/v1/balances", world.token("gemeente", OUTSIDER), params={"party": ORG})
    problem(r, body, 403)


@pytest.mark.parametrize("path", ["/v1/events", "/v1/balances", "/v1/reserves"])
@pytest.mark.parametrize(
    ("role", "party", "readable"),
    [
        pytest.param("gemeente", MEMBER, {MEMBER, ORG}, id="member"),
        pytest.param("controller", OTHER_MEMBER, {OTHER_MEMBER, ORG}, id="controller-of-member"),
        pytest.param("gemeente", OUTSIDER, {OUTSIDER}, id="outsider"),
        pytest.param("organisation", ORG, {ORG}, id="organisation"),
    ],
)
async def test_a_read_without_party_returns_only_readable_parties(
    world: Api, path: str, role: str, party: str, readable: set[str]
) -> None:
    assert await parties_read(world, world.token(role, party), path) == readable
