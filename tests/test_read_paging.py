"""The trail paged in the database and the KPIs counted in SQL answer as before (issue 16).

`queries.trail` used to read every movement of a budget line with its event, and the
route cut the page afterwards; it now reads only the page asked for, and counts the
line from its index. `queries.kpis` used to read all of a party's placements and
grants into Python; it now counts them in SQL. The old ways are kept here, as the
reference: through the real HTTP API, on SQLite and PostgreSQL, every page of the trail
of a few budget lines (in several page sizes, as known now and at earlier instants) is
the same bytes as the old full list cut into that page, and the KPIs of every party in
the years around its events are the same as the old count, now and at earlier
instants. The ledger holds a generated year (benchmarks/generate.py: payments moving a
line's spent and its commitment at one position, corrections, grants and placements
ending) and a hand-made history across years (placements and grants running from one
year into the next, hours of a quarter, an end recorded after an instant read).
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import orjson
from yarl import URL

from ledger.book import placement_measure
from ledger.subsidy import exact
from projections.db import ReadDB
from projections.queries import recorded_by
from tests.conftest import Api, event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from generate import generate  # noqa: E402

HANDMADE = "GM0439"


# --- the old ways, for reference -------------------------------------------------------


def old_trail(db: ReadDB, party: str, year: int, budget: str, as_of: str | None) -> list[dict[str, Any]]:
    """The whole trail as `queries.trail` read it before it was paged."""
    where, params = recorded_by("m.recorded_at", as_of)
    with db.transaction() as cur:
        rows = cur.execute(
            "SELECT m.position, m.sub_budget, m.allocated, m.income, m.spent, m.committed, e.body "
            "FROM budget_movements m JOIN log_events e ON e.position = m.position "
            f"WHERE m.party = ? AND m.year = ? AND m.budget = ?{where} "
            "ORDER BY m.position, m.sub_budget, CASE WHEN m.committed = 0 THEN 0 ELSE 1 END, "
            "m.allocated, m.income, m.spent, m.committed",
            [party, year, budget, *params],
        ).fetchall()
    out = []
    for position, sub, allocated, income, spent, committed, body in rows:
        e = orjson.loads(body)
        out.append({"position": int(position), "id": e["id"], "type": e["type"], "effectiveDate": e["effectiveDate"],
                    "reference": e.get("reference"), "recordedAt": e["recordedAt"], "postedBy": e["postedBy"],
                    "subBudget": sub or None, "allocatedCents": int(allocated), "incomeCents": int(income),
                    "spentCents": int(spent), "committedCents": int(committed)})
    return out


def _granted_in(row: tuple[Any, ...], first: str, last: str, as_of: str | None) -> bool:
    start, end, granted_at, ended_on, ended_at = row
    if as_of is not None and granted_at > as_of:
        return False
    if ended_on is not None and (as_of is None or ended_at <= as_of):
        end = ended_on if end is None else min(end, ended_on)
    return bool(start <= last and (end is None or end >= first))


def _number(value: Fraction) -> int | float:
    return value.numerator if value.denominator == 1 else float(value)


def old_kpis(db: ReadDB, party: str, year: int, as_of: str | None) -> dict[str, Any]:
    """The KPIs as `queries.kpis` counted them before, placement by placement in Python."""
    first, last = f"{year}-01-01", f"{year}-12-31"
    where, params = recorded_by("recorded_at", as_of)
    with db.transaction() as cur:
        placements = cur.execute("SELECT kind, hours, started, started_recorded, ended, ended_recorded FROM placements "
                                 "WHERE party = ?", (party,)).fetchall()
        targets = cur.execute(f"SELECT kind, places, binding FROM placement_targets WHERE party = ? AND year = ?{where} "
                              "ORDER BY position", [party, year, *params]).fetchall()
        outflows = cur.execute(f"SELECT extent, SUM(clients), SUM(avoided) FROM outflows WHERE party = ? AND year = ?{where} "
                               "GROUP BY extent", [party, year, *params]).fetchall()
        committed = cur.execute(f"SELECT COALESCE(SUM(committed), 0) FROM budget_movements WHERE party = ? AND year = ?{where}",
                                [party, year, *params]).fetchone()
        subsidies = cur.execute("SELECT start_date, end_date, granted_recorded, ended_on, ended_recorded FROM subsidies "
                                "WHERE party = ?", (party,)).fetchall()
    kinds: dict[str, dict[str, Any]] = {}

    def kind_row(kind: str) -> dict[str, Any]:
        return kinds.setdefault(kind, {"kind": kind, "started": 0, "ended": 0, "active": 0, "activeHoursPerWeek": 0,
                                       "target": None, "binding": False})

    hours_of: dict[str, Fraction] = {}
    measure: dict[str, Fraction] = {}
    for kind, hours, started, started_at, ended, ended_at in placements:
        if as_of is not None and started_at > as_of:
            continue
        if as_of is not None and (ended_at is None or ended_at > as_of):
            ended = None
        row = kind_row(kind)
        row["started"] += first <= started <= last
        row["ended"] += ended is not None and first <= ended <= last
        if started <= last and (ended is None or ended > last):
            row["active"] += 1
            per_week = orjson.loads(hours)
            hours_of[kind] = hours_of.get(kind, Fraction(0)) + exact(per_week)
            measure[kind] = measure.get(kind, Fraction(0)) + placement_measure(kind, per_week)
    for kind, total in hours_of.items():
        kinds[kind]["activeHoursPerWeek"] = _number(total)
    for kind, places, binding in targets:
        row = kind_row(kind)
        row["target"], row["binding"] = orjson.loads(places), bool(binding)
    clients = {extent: int(n) for extent, n, _ in outflows}
    beschut = kinds.get("beschut-werk")
    return {
        "party": party,
        "year": year,
        "placements": [kinds[k] for k in sorted(kinds)],
        "banenafspraakJobs": round(float(measure.get("banenafspraak", 0)), 2),
        "beschutWerk": {"places": beschut["active"] if beschut else 0,
                        "cap": beschut["target"] if beschut and beschut["binding"] else None,
                        "target": beschut["target"] if beschut else None},
        "outflow": {"volledig": clients.get("volledig", 0), "gedeeltelijk": clients.get("gedeeltelijk", 0),
                    "avoidedBenefitCents": sum(int(a) for _, _, a in outflows)},
        "subsidies": {"active": sum(_granted_in(row, first, last, as_of) for row in subsidies),
                      "committedCents": int(committed[0]) if committed else 0},
    }


# --- the ledger read -------------------------------------------------------------------


def _handmade() -> list[list[dict[str, Any]]]:
    """Batches of one gemeente's history over 2015-2016, the later ones ending what the
    earlier ones started (an as-of read between them knows the start, not the end)."""
    def placement(pid: str, kind: str, hours: float, date: str) -> dict[str, Any]:
        return event("PlacementStarted", {"placementId": pid, "clientRef": f"c-{pid}", "kind": kind, "hoursPerWeek": hours},
                     party=HANDMADE, date=date)

    def grant(sid: str, start: str, end: str | None = None) -> dict[str, Any]:
        data = {"subsidyId": sid, "clientRef": f"c-{sid}", "instrument": "loonkostensubsidie", "loonwaardePct": 50,
                "wmlMonthlyCents": 150_000, "startDate": start, **({"endDate": end} if end else {})}
        return event("SubsidyGranted", data, party=HANDMADE, date=start)

    def ended(kind: str, key: str, ident: str, date: str, **data: Any) -> dict[str, Any]:
        return event(kind, {key: ident, **data}, party=HANDMADE, date=date)

    allocations = [event("BudgetAllocated", {"budget": "inkomensdeel", "source": "rijk", "amountCents": 50_000_000},
                         party=HANDMADE, date=f"{y}-01-01") for y in (2015, 2016)]
    target = event("PlacementTargetSet", {"kind": "beschut-werk", "places": 3, "binding": True}, party=HANDMADE, date="2015-01-01")
    outflow = event("OutflowRegistered", {"clientRef": "c-o", "extent": "volledig", "reason": "werk", "avoidedBenefitCents": 12_000},
                    party=HANDMADE, date="2015-05-01")
    return [
        [*allocations, target, placement("b1", "beschut-werk", 32, "2015-02-01"), placement("j1", "banenafspraak", 0.1, "2015-03-01"),
         placement("j2", "banenafspraak", 0.2, "2015-04-01"), placement("j3", "banenafspraak", 12.5, "2015-12-31"),
         placement("r1", "regulier", 24, "2016-01-01"), grant("s1", "2015-02-01"), grant("s2", "2015-03-01", "2015-06-30"),
         grant("s3", "2016-01-01"), outflow],
        [ended("PlacementEnded", "placementId", "b1", "2016-01-01", reason="uitstroom"),
         ended("PlacementEnded", "placementId", "j1", "2015-12-31", reason="uitstroom"),
         ended("SubsidyEnded", "subsidyId", "s1", "2015-12-31"),
         event("SubsidyPaid", {"subsidyId": "s3", "amountCents": 50_000}, party=HANDMADE, date="2016-02-28"),
         event("Correction", {"corrects": outflow["id"], "reason": "onjuist"}, party=HANDMADE, date="2015-10-01")],
        [ended("PlacementEnded", "placementId", "j2", "2016-06-01", reason="uitstroom"),
         ended("SubsidyEnded", "subsidyId", "s3", "2016-03-31")],
    ]


async def _post_ledger(api: Api) -> list[str]:
    """Post the generated year and the hand-made history; the recorded instants between
    the batches (the instants the as-of reads are read at)."""
    admin = api.token("admin")
    generated = list(generate(2, 2024, 5, 600))
    registrations = [event("PartyRegistered", {"name": "Purmerend", "kind": "gemeente"}, party=HANDMADE, date="2014-01-01")]
    batches = [registrations, *(generated[i:i + 400] for i in range(0, len(generated), 400)), *_handmade()]
    instants = []
    for batch in batches:
        status, body = await api.post(admin, {"events": batch})
        assert status == 201, body
        instants.append(body["events"][-1]["recordedAt"])
    return instants[1::2]


async def _get(api: Api, token: str, path: str, **params: Any) -> tuple[URL, bytes]:
    r = await api.client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
    assert r.status == 200, await r.text()
    return r.url, await r.read()


def _page(url: URL, rows: list[dict[str, Any]], page: int, size: int) -> bytes:
    """Page `page` of `rows` as the route answered it when it cut the whole list."""
    def link(n: int) -> str:
        return str(url.update_query(page=n, pageSize=size))

    start = (page - 1) * size
    return orjson.dumps({"count": len(rows), "next": link(page + 1) if page * size < len(rows) else None,
                         "previous": link(page - 1) if page > 1 else None, "results": rows[start:start + size]})


# --- the tests --------------------------------------------------------------------------


async def test_every_page_of_a_trail_is_the_old_list_cut_into_pages(api: Api) -> None:
    instants = await _post_ledger(api)
    auditor, db = api.token("auditor"), ReadDB(api.db_url)
    try:
        with db.transaction() as cur:
            lines = cur.execute("SELECT party, year, budget, COUNT(*) FROM budget_movements GROUP BY party, year, budget "
                                "ORDER BY COUNT(*) DESC, party, budget").fetchall()
        busiest, quietest = lines[:2], lines[-1:]
        handmade = [line for line in lines if line[0] == HANDMADE]
        assert busiest[0][3] > 250 and handmade
        for party, year, budget, _ in busiest + quietest + handmade:
            path = f"/v1/balances/{party}/{year}/{budget}/trail"
            for as_of in (None, *instants):
                rows = old_trail(db, party, year, budget, as_of)
                known = {} if as_of is None else {"asOf": as_of}
                url, body = await _get(api, auditor, path, **known)  # the first page, as the benchmark reads it
                assert body == _page(url, rows, 1, 100)
                for size in (1, 7, 100) if len(rows) < 60 else (37, 100):
                    for page in range(1, len(rows) // size + 3):  # to one page past the last
                        url, body = await _get(api, auditor, path, page=page, pageSize=size, **known)
                        assert body == _page(url, rows, page, size), (path, as_of, size, page)
            r = await api.client.get(path, headers={"Authorization": f"Bearer {auditor}", "Accept": "text/csv"})
            assert len((await r.text()).strip().splitlines()) == 1 + len(old_trail(db, party, year, budget, None))
    finally:
        db.close()


async def test_the_kpis_are_the_old_count(api: Api) -> None:
    instants = await _post_ledger(api)
    auditor, db = api.token("auditor"), ReadDB(api.db_url)
    try:
        with db.transaction() as cur:
            parties = [p for (p,) in cur.execute("SELECT code FROM parties ORDER BY code").fetchall()]
        seen = []
        for party in parties:
            for year in (2014, 2015, 2016, 2023, 2024, 2025):
                for as_of in (None, *instants):
                    expected = old_kpis(db, party, year, as_of)
                    _, body = await _get(api, auditor, "/v1/kpis", party=party, year=year, **({} if as_of is None else {"asOf": as_of}))
                    assert body == orjson.dumps(expected), (party, year, as_of)
                    seen.append(expected)
        # the comparison saw what it is about: placements active, started and ended, grants, commitments
        assert any(k["active"] and k["ended"] for e in seen for k in e["placements"])
        assert any(isinstance(k["activeHoursPerWeek"], float) for e in seen for k in e["placements"])
        assert any(e["subsidies"]["active"] and e["subsidies"]["committedCents"] for e in seen)
    finally:
        db.close()
