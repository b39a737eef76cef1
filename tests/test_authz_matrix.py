"""The authorisation matrix through the real HTTP app: every role × every route of the
OpenAPI document × a party of its own, its organisation, a party and an organisation of
others × a year of membership and one since × every representation the route declares
(JSON, CSV, XLSX, NDJSON).

The expected answer is api.md's table, written out here (`may_read`) rather than taken
from api/access.py: 200 for what the token may read, 403 for what it may not (404 for
one event by id: no existence oracle), 401 without a token, never a 5xx. A JSON or NDJSON
list must hold no row of a party and year the token may not read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from tests.conftest import Api, event, register

MEMBER, FORMER, OUTSIDER = "GM0439", "GM0363", "GM0405"
ORG, OTHER_ORG = "WERKBEDRIJF-WATERLAND", "WERKBEDRIJF-ZAAN"
GEMEENTEN, ORGANISATIONS = (MEMBER, FORMER, OUTSIDER), (ORG, OTHER_ORG)
IN, SINCE = 2015, 2019  # FORMER leaves ORG on 2016-07-01: a member in 2015, not in 2019
MEMBERS = {ORG: {MEMBER: None, FORMER: {2014, 2015, 2016}}, OTHER_ORG: {OUTSIDER: None}}
ONE_PARTY = {"/winst", "/kpis", "/journal", "/iv3", "/sisa"}  # without ?party= the token's own; a token of no party must name one
NDJSON = "application/x-ndjson"


@dataclass(frozen=True)
class Principal:
    role: str
    party: str | None = None


PRINCIPALS = [
    Principal("admin"),
    Principal("auditor"),
    Principal("gemeente", MEMBER),
    Principal("controller", MEMBER),
    Principal("organisation", ORG),
    Principal("gemeente", FORMER),
    Principal("controller", FORMER),
]


def may_read(who: Principal, party: str, year: int | None) -> bool:
    """api.md: admin and auditor read everything; a party its own; a member gemeente and
    its controller their organisation, in the years they were a member (any, if no year)."""
    if who.role in ("admin", "auditor") or party == who.party:
        return True
    if who.role == "organisation" or party not in MEMBERS or who.party not in MEMBERS[party]:
        return False
    years = MEMBERS[party][who.party]
    return years is None or year is None or year in years


async def ledger(api: Api) -> dict[tuple[str, int], str]:
    """Three gemeenten, two organisations, figures in IN and SINCE for every party; FORMER
    leaves ORG on 2016-07-01. The id of one event per party and year."""
    admin = api.token("admin")
    await register(api, admin, *GEMEENTEN)
    books: list[dict[str, Any]] = []
    for org in ORGANISATIONS:
        members = sorted(MEMBERS[org])
        books += [
            event("OrganisationRegistered", {"name": org, "members": members}, party=org, date="2014-01-01"),
            event("AllocationKeySet", {"basis": "vast", "weights": dict.fromkeys(members, 1), "policy": "solidariteit"},
                  party=org, date=f"{IN}-01-01"),
        ]
    for party in GEMEENTEN + ORGANISATIONS:
        for year in (IN, SINCE):
            data = {"budget": "participatiebudget", "source": "rijk", "amountCents": 500_000}
            books.append(event("BudgetAllocated", data, party=party, date=f"{year}-01-01", reference=f"begroting {year}"))
        data = {"reserve": "participatie", "openingBalanceCents": 1000, "purpose": "reintegratie"}
        books.append(event("ReserveEstablished", data, party=party, date=f"{IN}-01-01"))
    books.append(event("MembershipChanged", {"member": FORMER, "change": "left"}, party=ORG, date="2016-07-01"))
    status, body = await api.post(admin, {"events": books})
    assert status == 201, body
    status, body = await api.get(api.token("auditor"), "/v1/events", limit=1000)
    return {(e["party"], e["year"]): e["id"] for e in reversed(body["results"])}


@dataclass(frozen=True)
class Case:
    path: str  # as the document names it, relative to /v1
    target: str | None  # the party named (by ?party=, the path or the event's id), or none
    year: int | None
    accept: str
    query: dict[str, Any]

    def url(self, ids: dict[tuple[str, int], str]) -> str:
        names = {"party": self.target, "code": self.target, "year": self.year, "budget": "participatiebudget",
                 "reserve": "participatie", "type": "CostBooked",
                 "id": ids.get((self.target or "", self.year or IN))}
        return "/v1" + self.path.format(**names)


def cases(doc: dict[str, Any]) -> Iterator[Case]:
    """Every read of the document, with each party, year and representation that applies."""
    for path, operations in doc["paths"].items():
        op = operations.get("get")
        if not op or not op.get("security", True):
            continue
        params = {p["name"]: p for p in op.get("parameters", [])}
        if "year" in params or "id" in params:
            optional = "year" in params and not params["year"].get("required")
            years: list[int | None] = [IN, SINCE] + ([None] if optional else [])
        else:
            years = [None]
        targets: list[str | None] = [*GEMEENTEN, *ORGANISATIONS] if {"party", "code", "id"} & set(params) else []
        in_query = {name for name, p in params.items() if p["in"] == "query"}
        if not {"party", "code", "id"} & (set(params) - in_query):  # a party is not named in the path
            targets.append(None)
        for accept in op["responses"]["200"]["content"]:
            for target in targets:
                for year in years:
                    query = {"party": target, "year": year}
                    query = {k: v for k, v in query.items() if k in in_query and v is not None}
                    yield Case(path, target, year, accept, query)


def expected(case: Case, who: Principal) -> int:
    status = _access(case, who)
    # IN and SINCE are years the SiSa mapping lacks (ledger/sisa.py): refused once read
    if status == 200 and case.path == "/iv3":
        # IN is before the taakvelden (iv3-before-taakvelden); the organisations have no
        # cbsNumber (cbs-number-missing): read, and refused by a rule
        return 422 if case.year == IN or (case.target or who.party) in ORGANISATIONS else status
    return 422 if status == 200 and case.path == "/sisa" else status


def _access(case: Case, who: Principal) -> int:
    if case.path == "/audit/verify":
        return 200 if who.role in ("admin", "auditor") else 403
    if case.target is None:
        return 400 if case.path in ONE_PARTY and who.party is None else 200
    if not may_read(who, case.target, case.year):
        return 404 if case.path == "/events/{id}" else 403
    if "{code}" in case.path and case.target not in ORGANISATIONS:
        return 404  # not a shared organisation
    return 200


def rows_of(accept: str, content: bytes) -> list[dict[str, Any]]:
    """The rows of a JSON list, a trial balance or an NDJSON stream (one object has none to check)."""
    if accept == NDJSON:
        return [orjson.loads(line) for line in content.splitlines() if line]
    body = orjson.loads(content)
    return body.get("results", body.get("accounts", [])) if isinstance(body, dict) else []


def leaks(who: Principal, case: Case, rows: list[dict[str, Any]]) -> list[Any]:
    """Rows (or a party's years) of a party and year the token may not read."""
    out: list[Any] = []
    for row in rows:
        party = row.get("party", row.get("code"))
        if party is None:
            continue
        years = row["years"] if "years" in row and "code" in row else [row.get("year", case.year)]
        out += [(party, y) for y in years if not may_read(who, party, y)]
    return out


async def test_every_role_route_party_year_and_representation_answers_as_api_md_says(api: Api) -> None:
    ids = await ledger(api)
    doc = await (await api.client.get("/v1/openapi.json")).json()
    tokens = {who: api.token(who.role, who.party) for who in PRINCIPALS}
    wrong: list[str] = []
    requests = 0
    for case in cases(doc):
        path, query = case.url(ids), case.query
        for who, token in tokens.items():
            headers = {"Authorization": f"Bearer {token}", "Accept": case.accept}
            r = await api.client.get(path, params=query, headers=headers)
            content = await r.read()
            requests += 1
            want = expected(case, who)
            label = f"{who.role}/{who.party} GET {path}?{query} Accept {case.accept}: {r.status}"
            if r.status != want:
                wrong.append(f"{label}, not {want}: {content[:200]!r}")
            elif want >= 400 and not r.headers["Content-Type"].startswith("application/problem+json"):
                wrong.append(f"{label} is not a problem: {r.headers['Content-Type']}")
            elif want == 200 and not r.headers["Content-Type"].startswith(case.accept):
                wrong.append(f"{label} answered {r.headers['Content-Type']}")
            elif want == 200 and case.accept in ("application/json", NDJSON) and (bad := leaks(who, case, rows_of(case.accept, content))):
                wrong.append(f"{label} holds rows it may not read: {sorted(set(bad))}")
    assert requests > 1000
    assert not wrong, f"{len(wrong)} of {requests} requests:\n" + "\n".join(wrong[:40])


async def test_every_secured_route_is_a_401_without_a_valid_token(api: Api) -> None:
    ids = await ledger(api)
    doc = await (await api.client.get("/v1/openapi.json")).json()
    wrong = []
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            if not isinstance(op, dict) or not op.get("security", True):
                continue
            url = "/v1" + path.format(party=MEMBER, code=ORG, year=IN, budget="participatiebudget", reserve="participatie",
                                       type="CostBooked", id=ids[(MEMBER, IN)])
            for headers in ({}, {"Authorization": "Bearer plg_" + "x" * 43}, {"Authorization": "Basic eDp4"}):
                r = await api.client.request(method, url, headers=headers, json={} if method == "post" else None)
                if r.status != 401 or not r.headers["Content-Type"].startswith("application/problem+json"):
                    wrong.append(f"{method.upper()} {url} with {headers}: {r.status}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("who", PRINCIPALS, ids=lambda p: f"{p.role}-{p.party}")
async def test_every_role_posts_for_its_own_party_only(api: Api, who: Principal) -> None:
    await ledger(api)
    token = api.token(who.role, who.party)
    for party in (*GEMEENTEN, *ORGANISATIONS):
        data = {"budget": "participatiebudget", "source": "rijk", "amountCents": 100}
        status, body = await api.post(token, event("BudgetAllocated", data, party=party, date=f"{IN}-03-01"))
        writes = who.role == "admin" or (who.role in ("gemeente", "organisation") and party == who.party)
        assert status == (201 if writes else 403), (party, body)
