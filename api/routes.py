"""The HTTP routes of api.md. Handlers parse, authorise and render; the work runs in
`ledger` and `projections`, in a thread (both are synchronous and touch the database)."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from aiohttp import web

from api import iv3_sheets, state, templates, uploads
from api.access import READ_ALL, authenticate, check_may_post, check_read, may_read, refused_posts, verified_by_issuer
from api.logs import PRINCIPAL_ID
from api.problems import Problem, bad_param, bad_request, forbidden, not_found
from api.render import (
    XLSX, int_param, json_response, page_of, rows_response, table_response, wants_table, whole_number, window, window_of,
    workbook_response,
)
from api.tokens import Principal
from ledger.application import BatchRefused, IdReused, Ledger, PostResult, rfc3339
from ledger import iv3_cbs, sisa, split
from ledger.audit import MAX_POSITION, parse_anchor
from ledger.bounds import FIRST_YEAR, LAST_YEAR
from ledger.events import CODE, LEDGER_ONLY_TYPES, PARTY_CODE, REF, Event, InvalidBatch, InvalidParam, parse_batch
from ledger.pseudonyms import pseudonym
from projections import iv3 as iv3_report
from projections import queries
from projections import sisa as sisa_report
from projections.db import ReadDB
from projections.scope import Scope, Years, years_of

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
T = TypeVar("T")
NDJSON = "application/x-ndjson"


async def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking database work off the event loop, on the read pool (api/waiting.py),
    in this request's context (its log lines keep its request id)."""
    return await asyncio.to_thread(fn, *args, **kwargs)


_LIMITING = threading.Lock()  # the rate limiter's buckets are shared by the read threads


def admit(request: web.Request) -> Principal:
    """Who is calling (401 if nobody valid), within their token's rate limit (429)."""
    principal = authenticate(request, request.app[state.TOKENS])
    request[PRINCIPAL_ID] = principal.token_id
    with _LIMITING:
        request.app[state.LIMITER].check(principal.token_id)
    return principal


async def principal_of(request: web.Request) -> Principal:
    """`admit` for a route that is no read of the read model (a post, the log's verification)."""
    return await run(admit, request)


async def read(request: web.Request, work: Callable[[Principal, ReadDB], T]) -> T:
    """`work(principal, db)` for the admitted caller: one hop to a read thread and one
    transaction for the token, the scope and the query (on PostgreSQL one pooled
    connection; on SQLite one snapshot)."""
    return await run(_read, request, work)


def _read(request: web.Request, work: Callable[[Principal, ReadDB], T]) -> T:
    db = request.app[state.DB]
    # A JWT needs no database, and its issuer's keys may have to be fetched first: no
    # pooled connection (nor SQLite snapshot) is held meanwhile.
    early = admit(request) if verified_by_issuer(request) else None
    with db.transaction():
        return work(early or admit(request), db)


def scope_of(request: web.Request, principal: Principal, db: ReadDB) -> Scope:
    """The parties (and their years) this read covers: `?party=` if allowed (in `?year=`,
    where the route has one), else all readable."""
    party, as_of, year = party_param(request), as_of_param(request), optional_year(request)
    return check_read(principal, db, party, as_of, year)


async def read_scoped(request: web.Request, query: Callable[[ReadDB, Scope], T]) -> T:
    """`query(db, scope)` over what this read covers, in one hop (`read`)."""
    return await read(request, lambda principal, db: query(db, scope_of(request, principal, db)))


def as_of_param(request: web.Request) -> str | None:
    raw = request.query.get("asOf")
    if raw is None:
        return None
    try:
        instant = datetime.fromisoformat(raw)
    except ValueError:
        raise bad_param("asOf", "must be an RFC 3339 instant, e.g. 2017-03-01T00:00:00Z", "date-time") from None
    if instant.tzinfo is None:
        raise bad_param("asOf", "must carry a time zone (Z or an offset)", "date-time")
    try:
        return rfc3339(instant)
    except OverflowError:  # its offset takes it before year 1 or past 9999 in UTC: before or after every event
        return rfc3339((datetime.min if instant.year == 1 else datetime.max).replace(tzinfo=UTC))


def party_code(value: str, name: str = "party") -> str:
    """`value` if it is a party code (api.md: [A-Z0-9-]{2,40}), else 400 naming `name`."""
    if not re.fullmatch(PARTY_CODE, value):
        raise bad_param(name, "must be a party code such as GM0439")
    return value


def party_param(request: web.Request) -> str | None:
    party = request.query.get("party")
    return None if party is None else party_code(party)


_CLIENT_REF = re.compile(REF)
NO_CLIENT = ""  # matches no stored clientRef (none is empty): a client without a key has no events to show


def client_param(request: web.Request, ledger: Ledger) -> str | None:
    """`?clientRef=` as the ledger stores it: its pseudonym under the key of `?party=`'s
    client (ledger/pseudonyms.py), which the read then filters on; NO_CLIENT when the
    client has no key (it never posted, or was erased)."""
    raw = request.query.get("clientRef")
    if raw is None:
        return None
    if not _CLIENT_REF.fullmatch(raw):
        raise bad_param("clientRef", "must be 1-64 of A-Z, a-z, 0-9 and . _ : / -", "pattern")
    party = party_param(request)
    if party is None:
        raise bad_param("clientRef", "names a client of one party: give party too", "requires-party")
    key = ledger.client_keys.find(party, raw)
    return NO_CLIENT if key is None else pseudonym(key.key, raw)


# --- service --------------------------------------------------------------------


@routes.get("/v1/healthz")
@routes.get("/healthz")  # outside /v1 too: the deployments' health checks (api/openapi.py PROBES)
async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


@routes.get("/v1/readyz")
@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    try:
        head, position = await run(
            lambda: (request.app[state.LEDGER].head(), request.app[state.PROJECTOR].position())
        )
    except Exception as e:  # any database failure means: not ready
        log.warning("readiness check failed: %s", type(e).__name__)
        problem = Problem(503, "not-ready", "Service unavailable", "the database does not answer")
        problem.headers["Retry-After"] = "5"
        raise problem from None
    return json_response({"status": "ready", "head": head, "projected": position, "lag": head - position})


@routes.get("/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[state.OPENAPI], content_type="application/json")


# --- posting ------------------------------------------------------------------------


def _parse_batch(body: Any, max_batch: int) -> tuple[list[Event], bool]:
    """Validate a single event or `{"events": [...]}`; raise 400 naming every bad field."""
    single = not (isinstance(body, dict) and set(body) == {"events"})
    raws = [body] if single else body["events"]
    if not isinstance(raws, list) or not raws:
        raise bad_request("'events' must be a non-empty list", [{"name": "events", "code": "list", "reason": "a non-empty list of events"}])
    if len(raws) > max_batch:
        raise Problem(413, "batch-too-large", "Batch too large", f"at most {max_batch} events in one batch")
    try:
        events = parse_batch(raws, lambda i: f"events[{i}]")
    except InvalidBatch as e:
        params = [
            p.as_dict() if single else InvalidParam(f"events[{i}].{p.name}", p.code, p.reason).as_dict(i) for i, p in e.params
        ]
        raise bad_request(f"{len({i for i, _ in e.params})} of {len(raws)} events are invalid; nothing was stored", params) from None
    return events, single


@routes.post("/v1/events")
async def post_events(request: web.Request) -> web.Response:
    principal = await principal_of(request)
    check_may_post(principal)
    dry_run = bool_param(request, "dryRun")
    max_batch = request.app[state.SETTINGS].max_batch
    if request.content_type in uploads.SHEETS:
        upload = await run(uploads.sheet_upload, request.content_type, request.charset, await request.read(), max_batch)
    else:
        upload = uploads.json_upload(await request.read())
    try:
        return await _post(request, principal, upload.body, dry_run)
    except Problem as p:
        raise upload.located(p) from None


def bool_param(request: web.Request, name: str) -> bool:
    raw = request.query.get(name, "false")
    if raw not in ("true", "false"):
        raise bad_param(name, "must be true or false", "boolean")
    return raw == "true"


async def _post(request: web.Request, principal: Principal, body: Any, dry_run: bool) -> web.Response:
    events, _ = _parse_batch(body, request.app[state.SETTINGS].max_batch)
    refused = refused_posts(principal, events)
    if refused:
        raise forbidden(f"{len(refused)} of {len(events)} events may not be posted with this token", errors=refused)
    try:
        result: PostResult = await request.app[state.WRITER].post(events, principal.name, dry_run)
    except IdReused as e:
        raise Problem(
            409,
            "id-reused",
            "Event id reused",
            "an id was posted before with different content; a new event needs a new id",
            errors=[{"index": i, "id": events[i].id} for i in e.indexes],
        ) from None
    except BatchRefused as e:
        first = e.violations[0][1]
        raise Problem(
            422,
            first.rule,
            first.title,
            f"{len(e.violations)} of {len(events)} events break the ledger's rules; nothing was stored",
            errors=[
                {"index": i, "type": "urn:participatie-ledger:problem:" + v.rule, "rule": v.rule, "title": v.title, "detail": v.detail}
                for i, v in e.violations
            ],
        ) from None
    if result.dry_run:
        would = len(events) - len(result.results)
        return json_response({"dryRun": True, "events": len(events), "wouldStore": would, "alreadyStored": len(result.results)})
    if not result.projected:  # not in its own transaction (the projector follows another process, or fell behind)
        request.app[state.PROJECTOR].wake()
        if not await request.app[state.ADVANCES].reached(result.last_position, request.app[state.SETTINGS].read_timeout):
            log.warning("read model behind position %s after the read timeout", result.last_position)
    return json_response(
        {
            "events": [
                {"id": r.id, "position": r.position, "recordedAt": r.recorded_at, "chainHash": r.chain_hash}
                for r in result.results
            ]
        },
        status=201 if result.created else 200,
    )


@routes.get("/v1/templates/{type}")
async def event_template(request: web.Request) -> web.Response:
    """A spreadsheet to fill in for one event type: its header row and an example row."""
    await principal_of(request)
    kind = request.match_info["type"]
    found = templates.template(kind)
    if kind in LEDGER_ONLY_TYPES:
        raise not_found(f"a {kind} is recorded by `ledger erase-client`, never posted: it has no template")
    if found is None:
        raise not_found(f"no event type {kind}")
    columns, example = found
    return rows_response(request, [example], columns, kind)


# --- reading ----------------------------------------------------------------------


def after_param(request: web.Request) -> int:
    return int_param(request, "after", 0, 0, MAX_POSITION) or 0


def limit_param(request: web.Request) -> int:
    return int_param(request, "limit", 100, 1, 1000) or 100


@routes.get("/v1/events")
async def list_events(request: web.Request) -> web.StreamResponse:
    ledger = request.app[state.LEDGER]
    if NDJSON in request.headers.get("Accept", ""):
        parties, after, client = await read_scoped(
            request, lambda db, parties: (parties, after_param(request), client_param(request, ledger))
        )
        return await _stream_events(request, parties, after, as_of_param(request), client)

    def page(db: ReadDB, parties: Scope) -> tuple[list[dict[str, Any]], int, int, int]:
        after, as_of, limit = after_param(request), as_of_param(request), limit_param(request)
        client = client_param(request, ledger)
        # One row past the page says whether a next page exists (a full last page has none).
        rows, count = queries.events(db, parties=parties, after=after, limit=limit + 1, as_of=as_of, client=client)
        return rows, count, after, limit

    rows, count, after, limit = await read_scoped(request, page)
    more, rows = len(rows) > limit, rows[:limit]
    if wants_table(request):
        return table_response(request, rows, "events")
    return json_response(
        {
            "count": count,
            "next": str(request.url.update_query(after=rows[-1]["position"], limit=limit)) if more else None,
            "previous": None if after == 0 else str(request.url.update_query(after=0, limit=limit)),
            "results": rows,
        }
    )


async def _stream_events(
    request: web.Request, parties: Scope, after: int, as_of: str | None, client: str | None
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": NDJSON})
    await response.prepare(request)
    db = request.app[state.DB]
    while True:
        rows, _ = await run(queries.events, db, parties=parties, after=after, limit=1000, as_of=as_of, client=client)
        if not rows:
            break
        await response.write(b"".join(orjson.dumps(r) + b"\n" for r in rows))
        after = rows[-1]["position"]
    await response.write_eof()
    return response


@routes.get("/v1/events/{id}")
async def get_event(request: web.Request) -> web.Response:
    def readable_event(principal: Principal, db: ReadDB) -> dict[str, Any]:
        as_of = as_of_param(request)
        event = queries.event(db, request.match_info["id"].lower(), as_of)
        # One answer for an event that does not exist and one the token may not read: a
        # 403 would tell that another party logged it.
        if event is None or not may_read(principal, db, event["party"], event["year"], as_of):
            raise not_found("no event with that id")
        return event

    return json_response(await read(request, readable_event))


@routes.get("/v1/balances")
async def balances(request: web.Request) -> web.Response:
    def rows(db: ReadDB, parties: Scope) -> list[dict[str, Any]]:
        year, (first, last), budget = optional_year(request), year_range(request), request.query.get("budget")
        return queries.balances(db, parties=parties, year=year, from_year=first, to_year=last, budget=budget,
                                as_of=as_of_param(request))

    return page_of(request, await read_scoped(request, rows), "balances")


@routes.get("/v1/reserves")
async def reserves(request: web.Request) -> web.Response:
    rows = await read_scoped(
        request, lambda db, parties: queries.reserves(db, parties=parties, year=optional_year(request), as_of=as_of_param(request))
    )
    return page_of(request, rows, "reserves")


@routes.get("/v1/reserves/{party}/{reserve}/runway")
async def reserve_runway(request: web.Request) -> web.Response:
    """When the reserve runs dry: its balance year by year, planned withdrawals included."""

    def years(db: ReadDB, party: str, _: None, readable: Years | None) -> dict[str, Any]:
        reserve = request.match_info["reserve"]
        if not re.fullmatch(CODE, reserve):
            raise bad_param("reserve", "must be a reserve code such as participatie")
        found = queries.runway(db, party, reserve, readable, as_of_param(request))
        if found is None:
            raise not_found(f"{party} has no reserve {reserve}")
        return found

    body = await read_party(request, lambda _: None, years, "party")
    if wants_table(request):
        return table_response(request, [{"party": body["party"], "reserve": body["reserve"], **y} for y in body["years"]],
                              "runway")
    return json_response(body)


@routes.get("/v1/commitments")
async def list_commitments(request: web.Request) -> web.Response:
    rows = await read_scoped(
        request,
        lambda db, parties: queries.commitments(db, parties=parties, year=optional_year(request), as_of=as_of_param(request)),
    )
    return page_of(request, rows, "commitments")


@routes.get("/v1/parties")
async def list_parties(request: web.Request) -> web.Response:
    """The parties this token may read, with the years they have figures for."""
    rows = await read_scoped(request, lambda db, parties: queries.parties(db, parties=parties, as_of=as_of_param(request)))
    return page_of(request, rows, "parties")


Y = TypeVar("Y")
PartyQuery = Callable[[ReadDB, str, Y, Years | None], T]


async def read_party(
    request: web.Request, year_of: Callable[[web.Request], Y], query: PartyQuery[Y, T], path_param: str | None = None
) -> T:
    """`query(db, party, year, years)` in one hop (`read`): the one party this read is
    about (the path's `path_param`, else `?party=`, else the token's own), its year
    (`year_of` the request) and the years the token may read of it (None: every year);
    refused unless the token may read it then."""

    def work(principal: Principal, db: ReadDB) -> T:
        if path_param is not None:
            party: str | None = party_code(request.match_info[path_param], path_param)
        else:
            party = party_param(request) or principal.party
        if party is None:
            raise bad_param("party", "name the party, e.g. ?party=GM0439", "required")
        year = year_of(request)
        scope = check_read(principal, db, party, as_of_param(request), year)
        return query(db, party, year, years_of(scope, party))

    return await read(request, work)


def optional_year(request: web.Request) -> int | None:
    return int_param(request, "year", None, FIRST_YEAR, LAST_YEAR)


def year_range(request: web.Request) -> tuple[int | None, int | None]:
    """`fromYear` and `toYear` (inclusive, either may be left out): the years of a
    meerjarenraming in one read. Not beside `year`, which names one."""
    first = int_param(request, "fromYear", None, FIRST_YEAR, LAST_YEAR)
    last = int_param(request, "toYear", None, FIRST_YEAR, LAST_YEAR)
    if (first is not None or last is not None) and "year" in request.query:
        raise bad_param("year", "name one year, or a range with fromYear and toYear, not both")
    if first is not None and last is not None and first > last:
        raise bad_param("toYear", f"must not be before fromYear ({first})")
    return first, last


def required_year(request: web.Request) -> int:
    year = optional_year(request)
    if year is None:
        raise bad_param("year", "name the year, e.g. ?year=2015", "required")
    return year


def path_year(request: web.Request) -> int:
    return whole_number("year", request.match_info["year"], FIRST_YEAR, LAST_YEAR)


def policy_param(request: web.Request) -> str | None:
    policy = request.query.get("policy")
    if policy is not None and policy not in split.POLICIES:
        raise bad_param("policy", f"must be one of {', '.join(split.POLICIES)}")
    return policy


def no_key(e: split.NoKey) -> Problem:
    return Problem(404, "no-allocation-key", "No allocation key", f"{e}; post an AllocationKeySet for that year")


@routes.get("/v1/organisations/{code}/cost-split")
async def cost_split(request: web.Request) -> web.Response:
    def shares(db: ReadDB, code: str, year: int, _: Years | None) -> dict[str, Any]:
        policy, as_of = policy_param(request), as_of_param(request)
        if queries.party_kind(db, code, as_of) != "organisation":
            raise not_found(f"{code} is not a shared organisation")
        try:
            return queries.cost_split(db, code, year, policy, as_of)
        except split.NoKey as e:
            raise no_key(e) from None

    body = await read_party(request, required_year, shares, "code")
    if wants_table(request):
        rows = [{"organisation": body["organisation"], "year": body["year"], "policy": body["policy"], **s} for s in body["shares"]]
        return table_response(request, rows, "cost-split")
    return json_response(body)


@routes.get("/v1/winst")
async def winst(request: web.Request) -> web.Response:
    def figures(db: ReadDB, party: str, year: int | None, years: Years | None) -> dict[str, Any]:
        return queries.winst(db, party, year, policy_param(request), as_of_param(request), years)

    return json_response(await read_party(request, optional_year, figures))


@routes.get("/v1/kpis")
async def kpis(request: web.Request) -> web.Response:
    body = await read_party(request, required_year, lambda db, party, year, _: queries.kpis(db, party, year, as_of_param(request)))
    if wants_table(request):
        return table_response(request, body["placements"], "kpis")
    return json_response(body)


@routes.get("/v1/trial-balance")
async def trial_balance(request: web.Request) -> web.Response:
    def totals(db: ReadDB, parties: Scope) -> dict[str, Any]:
        position = int_param(request, "position", None, 0, MAX_POSITION)
        return queries.trial_balance(db, parties=parties, position=position, as_of=as_of_param(request))

    body = await read_scoped(request, totals)
    if wants_table(request):
        return table_response(request, body.get("accounts", []), "trial-balance")
    return json_response(body)


@routes.get("/v1/audit/verify")
async def audit_verify(request: web.Request) -> web.Response:
    """Recompute the hash chain over the stored log, for an auditor (or admin); 200 either
    way, `intact` says which. `?anchor=POSITION:HASH` (repeatable) also checks chain
    hashes the auditor holds outside the database, such as a YearClosed's; `?asOf=` checks
    the log as it stood then (what was recorded by that instant is a prefix of it)."""
    principal = await principal_of(request)
    if principal.role not in READ_ALL:
        raise forbidden("only an auditor or an admin verifies the whole log")
    try:
        anchors = dict(parse_anchor(a) for a in request.query.getall("anchor", []))
    except ValueError as e:
        raise bad_param("anchor", str(e)) from None
    result = await run(request.app[state.LEDGER].verify, anchors, as_of_param(request))
    return json_response(result.as_dict())


@routes.get("/v1/journal")
async def journal(request: web.Request) -> web.Response:
    """One party's postings, paged in the database (a journal grows with every event)."""
    def postings(db: ReadDB, party: str, year: int | None, years: Years | None) -> tuple[list[dict[str, Any]], int]:
        offset, limit = window(request)
        return queries.journal(db, party=party, year=year, years=years, as_of=as_of_param(request), offset=offset, limit=limit)

    rows, count = await read_party(request, optional_year, postings)
    return window_of(request, rows, count, "journal")


@routes.get("/v1/balances/{party}/{year}/{budget}/trail")
async def trail(request: web.Request) -> web.Response:
    """Every event behind a budget's figures, for the auditor tracing a euro back: paged
    in the database (a busy budget line has thousands), whole as a table."""
    def events(db: ReadDB, party: str, year: int, _: Years | None) -> tuple[list[dict[str, Any]], int]:
        offset, limit = window(request)
        return queries.trail(db, party, year, request.match_info["budget"], as_of_param(request), offset, limit)

    rows, count = await read_party(request, path_year, events, "party")
    return window_of(request, rows, count, "trail")


# --- Iv3 ---------------------------------------------------------------------------


@routes.get("/v1/iv3")
async def get_iv3(request: web.Request) -> web.Response:
    """A party's Iv3 delivery as CBS takes it for a budget year and period (0 begroting,
    1-4 the quarters cumulative, 5 jaarrekening); the spreadsheet in the sheets of CBS's
    Excel model; CSV: one row per line, with its section."""
    def figures(db: ReadDB, party: str, year: int, _: Years | None) -> dict[str, Any]:
        period = int_param(request, "period", iv3_report.JAARREKENING, 0, 5)
        try:
            body = iv3_report.report(db, party, year, period, as_of_param(request), request.app[state.SETTINGS].iv3_contact)
        except iv3_cbs.BeforeTaakvelden as e:
            raise Problem(422, "iv3-before-taakvelden", "Iv3 before taakvelden", str(e), firstYear=e.first) from None
        except iv3_report.NoCbsNumber as e:
            raise Problem(422, "cbs-number-missing", "CBS number missing", str(e)) from None
        if body is None:
            raise not_found(f"{party} is not a registered party")
        return body

    body = await read_party(request, required_year, figures)
    if XLSX in request.headers.get("Accept", ""):
        name = f"iv3-{body['metadata']['overheidsnummer']}-{body['metadata']['boekjaar']}-{body['metadata']['periode']}"
        return workbook_response(await run(iv3_sheets.workbook, body), name)
    if wants_table(request):
        return table_response(request, iv3_report.rows(body), "iv3")
    return json_response(body)


# --- SiSa --------------------------------------------------------------------------


@routes.get("/v1/sisa")
async def get_sisa(request: web.Request) -> web.Response:
    """A party's SiSa G2 indicators for a bijlage year (ledger/sisa.py); CSV: one row per
    indicator, with the party, year, regeling and part."""
    def indicators(db: ReadDB, party: str, year: int, _: Years | None) -> dict[str, Any]:
        try:
            body = sisa_report.report(db, party, year, as_of_param(request))
        except sisa.YearNotMapped as e:
            raise Problem(422, "sisa-year-not-mapped", "SiSa year not mapped", str(e)) from None
        if body is None:
            raise not_found(f"{party} is not a registered party")
        return body

    body = await read_party(request, required_year, indicators)
    if wants_table(request):
        return table_response(request, sisa_report.rows(body), "sisa")
    return json_response(body)
