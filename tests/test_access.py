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


@pytest.mark.parametrize("path", ["/v1/openapi.json", "/healthz", "/readyz", "/v1/healthz", "/v1/readyz"])
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
    by_id = "{id}" in path  # one event is named by its id alone: another party's is not found
    for party, status in ((OUTSIDER, 200), (MEMBER, 404 if by_id else 403)):
        event_id = await an_event_of(world, party)
        params = {} if by_id else {"party": party}
        r, body = await call(world, "GET", path.format(id=event_id), token, params=params)
        assert r.status == status, body
        if status != 200:
            problem(r, body, status)


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


# --- one event by id: no existence oracle ---------------------------------------------------


@pytest.mark.parametrize(("role", "party"), [("gemeente", OUTSIDER), ("controller", OUTSIDER), ("organisation", ORG)])
async def test_an_event_the_token_may_not_read_is_not_found_like_an_unknown_one(world: Api, role: str, party: str) -> None:
    token = world.token(role, party)
    r, unknown = await call(world, "GET", "/v1/events/00000000-0000-0000-0000-000000000000", token)
    problem(r, unknown, 404)
    for other in EVERYONE - {party}:
        r, body = await call(world, "GET", f"/v1/events/{await an_event_of(world, other)}", token)
        problem(r, body, 404)
        assert body == unknown  # the same answer: nothing says another party logged it


# --- a former member reads its organisation for the years it was a member ------------------

LEFT_ON = "2016-07-01"  # OTHER_MEMBER leaves ORG: a member for some of 2016, none of 2017 on
MEMBER_YEARS = {2014, 2015, 2016}


def dated(kind: str, data: dict[str, Any], date: str) -> dict[str, Any]:
    return event(kind, data, party=ORG, date=date)


@pytest.fixture
async def left(world: Api) -> Api:
    """The world, with ORG's figures in 2015, 2016 and 2019, and OTHER_MEMBER gone since LEFT_ON."""
    budget = {"budget": "participatiebudget", "source": "rijk", "amountCents": 300_000}
    key = {"basis": "vast", "weights": {MEMBER: 1, OTHER_MEMBER: 1}, "policy": "solidariteit"}
    status, body = await world.post(world.token("admin"), {"events": [
        dated("AllocationKeySet", key, "2015-01-01"),
        dated("WinstRealised", {"source": "opdrachten", "amountCents": 100}, "2015-05-01"),
        dated("BudgetAllocated", budget, "2016-02-01"),
        dated("MembershipChanged", {"member": OTHER_MEMBER, "change": "left"}, LEFT_ON),
        dated("BudgetAllocated", budget, "2019-02-01"),
        dated("WinstRealised", {"source": "opdrachten", "amountCents": 7_000}, "2019-05-01"),
        dated("ReserveAdded", {"reserve": "participatie", "amountCents": 5_000}, "2019-06-01"),
    ]})
    assert status == 201, body
    return world


FORMER = [pytest.param("gemeente", id="former-member"), pytest.param("controller", id="its-controller")]
BY_YEAR = {  # every read of one party in one year: (path, params) for a year
    "balances": lambda y: ("/v1/balances", {"party": ORG, "year": y}),
    "reserves": lambda y: ("/v1/reserves", {"party": ORG, "year": y}),
    "winst": lambda y: ("/v1/winst", {"party": ORG, "year": y}),
    "kpis": lambda y: ("/v1/kpis", {"party": ORG, "year": y}),
    "iv3": lambda y: ("/v1/iv3", {"party": ORG, "year": y}),
    "journal": lambda y: ("/v1/journal", {"party": ORG, "year": y}),
    "cost-split": lambda y: (f"/v1/organisations/{ORG}/cost-split", {"year": y}),
    "trail": lambda y: (f"/v1/balances/{ORG}/{y}/participatiebudget/trail", {}),
}


@pytest.mark.parametrize("role", FORMER)
@pytest.mark.parametrize("read", list(BY_YEAR))
async def test_a_former_member_reads_its_membership_years_and_no_year_since(left: Api, role: str, read: str) -> None:
    token = left.token(role, OTHER_MEMBER)
    ok = 422 if read == "iv3" else 200  # read, then refused: no Iv3 before 2018 for a GR, nor without its cbsNumber
    for year, status in ((2015, ok), (2016, ok), (2017, 403), (2019, 403)):
        path, params = BY_YEAR[read](year)
        r, body = await call(left, "GET", path, token, params=params)
        assert r.status == status, (year, body)
        if status == 403:
            problem(r, body, 403)
        path, params = BY_YEAR[read](year)
        assert (await left.get(left.token("gemeente", MEMBER), path, **params))[0] == ok  # a member still reads them


def years_in(body: dict[str, Any]) -> set[int]:
    return {row["year"] for row in body["results"]}


@pytest.mark.parametrize("role", FORMER)
@pytest.mark.parametrize("path", ["/v1/events", "/v1/balances", "/v1/journal"])
async def test_without_a_year_a_former_member_lists_its_membership_years_only(left: Api, role: str, path: str) -> None:
    status, everything = await left.get(left.token("auditor"), path, party=ORG)
    assert status == 200 and 2019 in years_in(everything), everything
    token = left.token(role, OTHER_MEMBER)
    status, body = await left.get(token, path, party=ORG)
    assert status == 200, body
    assert years_in(body) == years_in(everything) & MEMBER_YEARS
    if path != "/v1/journal":  # a list of every readable party: the organisation's rows in those years too
        status, body = await left.get(token, path)
        assert {r["year"] for r in body["results"] if r["party"] == ORG} == years_in(everything) & MEMBER_YEARS


@pytest.mark.parametrize("role", FORMER)
async def test_without_a_year_a_former_member_reads_reserves_and_winst_as_they_stood_in_its_years(
    left: Api, role: str
) -> None:
    token = left.token(role, OTHER_MEMBER)
    for who, balance, realised in ((left.token("auditor"), 6_000, 7_100), (token, 1_000, 100)):
        status, body = await left.get(who, "/v1/reserves", party=ORG)
        assert status == 200 and [r["balanceCents"] for r in body["results"]] == [balance], body
        status, body = await left.get(who, "/v1/winst", party=ORG)
        assert status == 200 and body["realisedCents"] == realised, body
    status, body = await left.get(token, "/v1/reserves")  # every readable party: the organisation's as it stood
    assert {r["party"]: r["balanceCents"] for r in body["results"]} == {OTHER_MEMBER: 1_000, ORG: 1_000}


@pytest.mark.parametrize("role", FORMER)
async def test_the_trial_balance_of_a_former_member_covers_its_membership_years(left: Api, role: str) -> None:
    token = left.token(role, OTHER_MEMBER)
    status, journal = await left.get(token, "/v1/journal", party=ORG, pageSize=1000)
    assert status == 200, journal
    status, trial = await left.get(token, "/v1/trial-balance", party=ORG)
    assert status == 200, trial
    assert sum(a["debitCents"] for a in trial["accounts"]) == sum(p["debitCents"] for p in journal["results"])
    status, everything = await left.get(left.token("auditor"), "/v1/trial-balance", party=ORG)
    assert everything["debitCents"] > trial["debitCents"]


@pytest.mark.parametrize("role", FORMER)
async def test_the_parties_a_former_member_reads_list_its_membership_years(left: Api, role: str) -> None:
    status, everyone = await left.get(left.token("auditor"), "/v1/parties")
    assert status == 200, everyone
    all_years = {p["code"]: p["years"] for p in everyone["results"]}
    assert 2019 in all_years[ORG]
    status, body = await left.get(left.token(role, OTHER_MEMBER), "/v1/parties")
    assert status == 200, body
    assert {p["code"]: p["years"] for p in body["results"]} == {
        OTHER_MEMBER: all_years[OTHER_MEMBER], ORG: [y for y in all_years[ORG] if y in MEMBER_YEARS]}


async def test_a_former_member_finds_no_event_of_a_year_since(left: Api) -> None:
    token = left.token("gemeente", OTHER_MEMBER)
    status, everything = await left.get(left.token("auditor"), "/v1/events", party=ORG)
    assert status == 200, everything
    for e in everything["results"]:
        r, body = await call(left, "GET", f"/v1/events/{e['id']}", token)
        assert r.status == (200 if e["year"] in MEMBER_YEARS else 404), (e, body)


async def test_as_of_before_the_leave_was_recorded_a_former_member_reads_no_wider_than_now(left: Api) -> None:
    """As known before the leave was recorded, the member had not left; but what it may
    read now it has left must not come back by asking about an earlier instant."""
    status, log = await left.get(left.token("auditor"), "/v1/events", party=ORG)
    (leave,) = [e for e in log["results"] if e["type"] == "MembershipChanged"]
    before = log["results"][0]["recordedAt"]  # the organisation's registration: a member then
    assert before < leave["recordedAt"]
    token = left.token("gemeente", OTHER_MEMBER)
    r, body = await call(left, "GET", "/v1/balances", token, params={"party": ORG, "year": 2019, "asOf": before})
    problem(r, body, 403)
    status, body = await left.get(token, "/v1/balances", party=ORG, year=2015, asOf=before)
    assert status == 200, body


async def test_as_of_before_joining_was_recorded_a_new_member_reads_nothing_of_the_organisation(world: Api) -> None:
    admin = world.token("admin")
    status, log = await world.get(admin, "/v1/events", party=ORG)
    before = log["results"][-1]["recordedAt"]
    status, body = await world.post(admin, dated("MembershipChanged", {"member": OUTSIDER, "change": "joined"}, "2015-01-01"))
    assert status == 201, body
    token = world.token("gemeente", OUTSIDER)
    assert (await world.get(token, "/v1/balances", party=ORG, year=2015))[0] == 200
    r, body = await call(world, "GET", "/v1/balances", token, params={"party": ORG, "year": 2015, "asOf": before})
    problem(r, body, 403)
    assert await parties_read(world, token, f"/v1/balances?asOf={before}") == {OUTSIDER}


async def test_a_member_that_rejoins_reads_the_years_it_is_back_and_not_the_gap(left: Api) -> None:
    gap = dated("BudgetAllocated", {"budget": "participatiebudget", "source": "rijk", "amountCents": 1}, "2017-05-01")
    back = dated("MembershipChanged", {"member": OTHER_MEMBER, "change": "joined"}, "2018-03-01")
    status, body = await left.post(left.token("admin"), {"events": [gap, back]})
    assert status == 201, body
    token = left.token("controller", OTHER_MEMBER)
    for year, status in ((2016, 200), (2017, 403), (2018, 200), (2019, 200)):
        assert (await left.get(token, "/v1/balances", party=ORG, year=year))[0] == status, year
    status, body = await left.get(token, "/v1/parties", party=ORG)
    assert body["results"][0]["years"] == [2014, 2015, 2016, 2018, 2019]  # ORG's years with events, but the gap's


async def test_a_member_that_leaves_on_1_january_was_not_a_member_that_year(world: Api) -> None:
    leave = dated("MembershipChanged", {"member": OTHER_MEMBER, "change": "left"}, "2016-01-01")
    status, body = await world.post(world.token("admin"), leave)
    assert status == 201, body
    token = world.token("gemeente", OTHER_MEMBER)
    assert (await world.get(token, "/v1/balances", party=ORG, year=2015))[0] == 200
    r, body = await call(world, "GET", "/v1/balances", token, params={"party": ORG, "year": 2016})
    problem(r, body, 403)
