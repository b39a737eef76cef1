"""Every list the API gives as CSV also comes as a spreadsheet (`Accept:` the XLSX
type), with the same rows, and amounts as numbers in euros, exact to the cent: a
controller opens it in Excel and adds them up, nothing to convert."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook

from api.render import XLSX
from tests.conftest import Api, event

LISTS = [
    ("/v1/balances", {"party": "GM0439", "year": "2015"}),
    ("/v1/reserves", {"party": "GM0439"}),
    ("/v1/journal", {"party": "GM0439", "year": "2015"}),
    ("/v1/trial-balance", {"party": "GM0439"}),
    ("/v1/events", {"party": "GM0439"}),
]


async def _ledger(api: Api, gemeente: str) -> None:
    allocation = {"budget": "participatiebudget", "source": "rijk", "amountCents": 123_456_789}
    cost = {"budget": "participatiebudget", "category": "re-integratie", "amountCents": 1_000_001}
    reserve = {"reserve": "r", "openingBalanceCents": 50_005, "purpose": "test"}
    body = {"events": [event("BudgetAllocated", allocation), event("CostBooked", cost),
                       event("ReserveEstablished", reserve)]}
    status, answer = await api.post(gemeente, body)
    assert status == 201, answer


async def _sheet(api: Api, token: str, path: str, params: dict[str, str]) -> list[tuple[Any, ...]]:
    r = await api.client.get(path, params=params, headers={"Authorization": f"Bearer {token}", "Accept": XLSX})
    assert r.status == 200, await r.text()
    assert r.headers["Content-Type"].startswith(XLSX)
    assert r.headers["Content-Disposition"].endswith('.xlsx"')
    book = load_workbook(io.BytesIO(await r.read()))
    return list(book.active.iter_rows(values_only=True))


async def _csv_header(api: Api, token: str, path: str, params: dict[str, str]) -> list[str]:
    r = await api.client.get(path, params=params, headers={"Authorization": f"Bearer {token}", "Accept": "text/csv"})
    assert r.status == 200
    return (await r.text()).splitlines()[0].split(",")


@pytest.mark.parametrize(("path", "params"), LISTS)
async def test_a_list_as_a_spreadsheet_has_the_rows_of_its_csv(api: Api, gemeente: str, path: str, params: dict[str, str]) -> None:
    await _ledger(api, gemeente)
    rows = await _sheet(api, gemeente, path, params)
    header = await _csv_header(api, gemeente, path, params)
    assert list(rows[0]) == [f"{c.removesuffix('Cents')} (EUR)" if c.endswith("Cents") else c for c in header]
    r = await api.client.get(path, params=params, headers={"Authorization": f"Bearer {gemeente}", "Accept": "text/csv"})
    assert len(rows) == len((await r.text()).splitlines())


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
