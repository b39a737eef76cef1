"""SiSa over HTTP and the CLI: the G2 indicators of ledger/sisa.py from posted events.

Every expected figure is worked out by hand from the table in ledger/sisa.py, never by
the code under test.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from api.render import DUTCH_CSV, XLSX
from ledger import sisa
from tests.conftest import Api, assert_problem, event, register
from tests.procs_ledger import cli

CODES = ["G2/01", "G2/02", None, None, None, None]
TEXTS = [
    "Besteding (jaar T) algemene bijstand",
    "Baten (jaar T) algemene bijstand (exclusief Rijk)",
    "Besteding (jaar T) IOAW",
    "Besteding (jaar T) IOAZ",
    "Besteding (jaar T) Bbz 2004 levensonderhoud beginnende zelfstandigen",
    "Besteding (jaar T) loonkostensubsidie o.g.v. artikel 10d Participatiewet",
]
COLUMNS = ["party", "year", "regeling", "part", "code", "text", "valueCents", "missing"]


async def post_ok(api: Api, token: str, *events: dict[str, Any]) -> list[dict[str, Any]]:
    status, body = await api.post(token, {"events": list(events)})
    assert status == 201, body
    return body["events"]


async def sisa_of(api: Api, token: str, party: str = "GM0439", **params: Any) -> dict[str, Any]:
    status, body = await api.get(token, "/v1/sisa", party=party, **params)
    assert status == 200, body
    return body


def values(body: dict[str, Any]) -> list[int | None]:
    return [row["valueCents"] for row in body["indicators"]]


def cost(category: str, cents: int, date: str, budget: str = "inkomensdeel", party: str = "GM0439") -> dict[str, Any]:
    return event("CostBooked", {"budget": budget, "category": category, "amountCents": cents}, party=party, date=date)


def income(budget: str, source: str, cents: int, date: str = "2016-05-01") -> dict[str, Any]:
    return event("IncomeBooked", {"budget": budget, "source": source, "amountCents": cents}, date=date)


def correction(corrects: str, date: str, cents: int | None = None) -> dict[str, Any]:
    part = {} if cents is None else {"amountCents": cents}
    return event("Correction", {"corrects": corrects, "reason": "onjuist geboekt", **part}, date=date)


def allocation(party: str = "GM0439", date: str = "2016-01-01") -> dict[str, Any]:
    return event("BudgetAllocated", {"budget": "inkomensdeel", "source": "rijk", "amountCents": 10_000_000},
                 party=party, date=date)


GRANT = {"subsidyId": "lks-1", "clientRef": "client-1", "instrument": "loonkostensubsidie",
         "loonwaardePct": 50, "wmlMonthlyCents": 160_000, "startDate": "2016-03-01"}


async def post_scenario(api: Api, gemeente: str) -> None:
    """Purmerend's 2016 bijstand, loonkostensubsidie and income, with a whole and a
    partial correction in 2016 and one of a 2016 cost in 2018."""
    benefits = cost("uitkering", 1_234_567, "2016-03-31")
    mistaken = cost("uitkering", 100_000, "2016-04-30")
    late = cost("uitkering", 5_000, "2016-11-30")
    await post_ok(
        api, gemeente,
        allocation(), benefits, mistaken, late,
        income("inkomensdeel", "opbrengst", 45_678),  # terugvordering: a baat exclusief Rijk
        income("inkomensdeel", "terugvordering", 1_000),  # any source of its own: a baat too
        income("inkomensdeel", "algemene-middelen", 500_000),  # the gemeente's own money: not a baat
        income("inkomensdeel", "meeneemregeling", 10_000),  # Rijk money carried over: not a baat
        income("participatiebudget", "opbrengst", 999),  # not the gebundelde uitkering
        cost("loonkostensubsidie", 20_000, "2016-06-30"),
        event("SubsidyGranted", GRANT, date="2016-03-01"),
        event("SubsidyPaid", {"subsidyId": "lks-1", "amountCents": 2_500}, date="2016-03-31"),
        cost("bbz", 7_000, "2016-06-30"),  # the ledger cannot tell which Bbz: not counted
        cost("begeleiding", 3_000, "2016-06-30", budget="participatiebudget"),  # re-integratie: not G2
    )
    await post_ok(api, gemeente, correction(mistaken["id"], "2016-05-15"), correction(benefits["id"], "2016-12-31", 34_567))
    await post_ok(
        api, gemeente,
        allocation(date="2018-01-01"), correction(late["id"], "2018-02-01"),
    )


# --- the figures -----------------------------------------------------------------------------


async def test_figures_to_the_cent_with_corrections_in_their_own_year(api: Api, gemeente: str) -> None:
    await post_scenario(api, gemeente)
    body = await sisa_of(api, gemeente, year=2016)
    assert {k: v for k, v in body.items() if k != "indicators"} == {
        "party": "GM0439", "year": 2016, "regeling": "G2",
        "title": "Gebundelde uitkering op grond van artikel 69 Participatiewet",
        "part": "gemeentedeel", "mappingVersion": sisa.MAPPING_VERSION,
    }
    assert [row["code"] for row in body["indicators"]] == CODES
    assert [row["text"] for row in body["indicators"]] == TEXTS
    # 1.234.567 + 100.000 (corrected whole) + 5.000 (corrected in 2018) - 34.567 (in part)
    assert values(body) == [1_205_000, 45_678 + 1_000, None, None, None, 20_000 + 2_500]
    missing = [row["missing"] for row in body["indicators"]]
    assert missing[:2] == [None, None] and missing[-1] is None
    assert all("uitkering" in m for m in missing[2:4]) and "gevestigde" in missing[4]
    # 2018 holds the correction of the 2016 cost, in its own year, and nothing else.
    assert values(await sisa_of(api, gemeente, year=2018)) == [-5_000, 0, None, None, None, 0]


async def test_as_of_leaves_out_what_was_recorded_later(api: Api, gemeente: str) -> None:
    first = await post_ok(api, gemeente, allocation(), cost("uitkering", 40_000, "2016-02-29"))
    await post_ok(api, gemeente, cost("uitkering", 2_000, "2016-03-31"))
    assert values(await sisa_of(api, gemeente, year=2016))[0] == 42_000
    assert values(await sisa_of(api, gemeente, year=2016, asOf=first[-1]["recordedAt"]))[0] == 40_000


async def test_a_gr_member_holds_its_own_bookings_and_the_gr_its_own(api: Api) -> None:
    admin = api.token("admin")
    await register(api, admin, "GM0439", "GM1680")
    status, body = await api.post(admin, event("OrganisationRegistered", {"name": "ISD", "members": ["GM0439", "GM1680"]},
                                               party="ISD-TEST", date="2016-01-01"))
    assert status == 201, body
    isd = api.token("organisation", "ISD-TEST")
    await post_ok(api, isd, allocation("ISD-TEST"), cost("uitkering", 300_000, "2016-06-30", party="ISD-TEST"),
                  cost("loonkostensubsidie", 8_000, "2016-06-30", party="ISD-TEST"))
    member = api.token("gemeente", "GM0439")
    await post_ok(api, member, allocation(), cost("uitkering", 50_000, "2016-06-30"))

    own = await sisa_of(api, member, year=2016)
    assert own["part"] == "gemeentedeel"
    assert values(own) == [50_000, 0, None, None, None, 0]
    assert values(await sisa_of(api, api.token("gemeente", "GM1680"), party="GM1680", year=2016)) == [0, 0, None, None, None, 0]
    for token in (isd, member):  # a member reads its organisation
        gr = await sisa_of(api, token, party="ISD-TEST", year=2016)
        assert gr["part"] == "deel openbaar lichaam"
        assert [row["code"] for row in gr["indicators"]] == [None] * 6  # its numbers are not confirmed
        assert [row["text"] for row in gr["indicators"]] == TEXTS
        assert values(gr) == [300_000, 0, None, None, None, 8_000]


# --- refusals ----------------------------------------------------------------------------------


async def test_scoping_years_and_bad_input(api: Api, gemeente: str) -> None:
    async def get(token: str | None, **params: str) -> tuple[int, str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = await api.client.get("/v1/sisa", params=params, headers=headers)
        return r.status, r.headers["Content-Type"], await r.json(content_type=None)

    admin = api.token("admin")
    await register(api, admin, "GM1680")
    other = api.token("gemeente", "GM1680")
    assert_problem(*await get(other, party="GM0439", year="2016"), 403)
    assert_problem(*await get(None, party="GM0439", year="2016"), 401)
    assert_problem(*await get(admin, party="GM9999", year="2016"), 404)
    for params, name in (({}, "year"), ({"year": "zestien"}, "year"), ({"year": "2016", "party": "gm 0439"}, "party")):
        status, content_type, body = await get(gemeente, **{"party": "GM0439", **params})
        assert_problem(status, content_type, body, 400)
        assert body["invalidParams"][0]["name"] == name
    for year in ("2015", "2017", "2019"):
        status, content_type, body = await get(gemeente, party="GM0439", year=year)
        assert_problem(status, content_type, body, 422)
        assert body["type"].endswith(":sisa-year-not-mapped")
        assert year in body["detail"] and "2016" in body["detail"]


# --- CSV, the Dutch CSV, XLSX, the CLI ------------------------------------------------------------


async def _table(api: Api, token: str, accept: str) -> bytes:
    r = await api.client.get("/v1/sisa", params={"party": "GM0439", "year": "2016"},
                             headers={"Authorization": f"Bearer {token}", "Accept": accept})
    assert r.status == 200, await r.text()
    return await r.read()


async def test_csv_the_dutch_csv_and_xlsx_read_back(api: Api, gemeente: str) -> None:
    await post_scenario(api, gemeente)
    rows = list(csv.reader(io.StringIO((await _table(api, gemeente, "text/csv")).decode())))
    assert rows[0] == COLUMNS
    assert [r[4] for r in rows[1:]] == ["G2/01", "G2/02", "", "", "", ""]
    assert [r[6] for r in rows[1:]] == ["1205000", "46678", "", "", "", "22500"]

    dutch = (await _table(api, gemeente, DUTCH_CSV)).decode("utf-8")
    assert dutch.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(dutch[1:]), delimiter=";"))
    assert rows[0][6] == "value (EUR)"
    assert [r[6] for r in rows[1:]] == ["12050,00", "466,78", "", "", "", "225,00"]
    assert rows[1][:4] == ["GM0439", "2016", "G2", "gemeentedeel"]

    sheet = load_workbook(io.BytesIO(await _table(api, gemeente, XLSX))).active
    table = [[c.value for c in row] for row in sheet.iter_rows()]
    assert table[0][6] == "value (EUR)"
    assert [r[6] for r in table[1:]] == [12_050, 466.78, None, None, None, 225]
    assert sheet.cell(row=2, column=7).number_format == "#,##0.00"


async def test_the_cli_prints_the_same_and_writes_the_spreadsheet(api: Api, gemeente: str, tmp_path: Path) -> None:
    await post_scenario(api, gemeente)
    path = tmp_path / "sisa.xlsx"
    done = cli(api.db_url, "sisa", "--party", "GM0439", "--year", "2016", "--xlsx", str(path))
    assert orjson.loads(done.stdout) == await sisa_of(api, gemeente, year=2016)
    sheet = load_workbook(path).active
    assert [c.value for c in sheet[1]][4:6] == ["code", "text"]
    assert sheet.cell(row=2, column=7).value == 12_050
    refused = cli(api.db_url, "sisa", "--party", "GM0439", "--year", "2017", check=False)
    assert refused.returncode == 1 and "not 2017" in refused.stderr and not refused.stdout
    unknown = cli(api.db_url, "sisa", "--party", "GM9999", "--year", "2016", check=False)
    assert unknown.returncode == 1 and "not a registered party" in unknown.stderr


# --- the property ---------------------------------------------------------------------------------

_EVENTS = st.one_of(
    st.builds(lambda c, b, a: {"type": "CostBooked", "data": {"budget": b, "category": c, "amountCents": a}},
              st.sampled_from(["uitkering", "loonkostensubsidie", "bbz", "begeleiding", "uitvoering"]),
              st.sampled_from(["inkomensdeel", "participatiebudget", "werk-en-inkomen"]), st.integers(-10**9, 10**9)),
    st.builds(lambda s, b, a: {"type": "IncomeBooked", "data": {"budget": b, "source": s, "amountCents": a}},
              st.sampled_from(["rijk", "opbrengst", "algemene-middelen", "meeneemregeling", "gemeentefonds", "verhaal"]),
              st.sampled_from(["inkomensdeel", "participatiebudget"]), st.integers(-10**9, 10**9)),
    st.builds(lambda a: {"type": "SubsidyPaid", "data": {"subsidyId": "s", "amountCents": a}}, st.integers(1, 10**9)),
)


@given(st.lists(_EVENTS, max_size=20), st.data())
def test_corrections_cancel_what_they_reverse_and_each_event_fills_at_most_one_measure(
    events: list[dict[str, Any]], data: st.DataObject
) -> None:
    """Whatever is booked, a correction of each event brings every measure back to zero,
    and an event adds to one measure at most (no cent counted twice)."""
    corrected = data.draw(st.lists(st.booleans(), min_size=len(events), max_size=len(events)))
    totals = dict.fromkeys(sisa.MEASURES, 0)
    expected = dict.fromkeys(sisa.MEASURES, 0)
    for entry, undo in zip(events, corrected):
        own = sisa.amounts(entry)
        assert len(own) <= 1 and set(own) <= set(sisa.MEASURES)
        for measure, cents in own.items():
            totals[measure] += cents
            expected[measure] += 0 if undo else cents
        if undo:
            for measure, cents in sisa.amounts({"type": "Correction", "data": {}}, {"original": entry}).items():
                totals[measure] += cents
    assert totals == expected
