"""Turning results into responses: JSON, a table (CSV on `Accept: text/csv`, a
spreadsheet on `Accept: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`),
and pages.

Lists answer `{count, next, previous, results}`; `next` and `previous` are full
URLs of the neighbouring pages (or null). The table of a list has the same rows as its
`results`, one column per member; nested values are written as JSON. In the
spreadsheet, a column of cents (`...Cents`) is a column of euros: numbers, exact to the
cent, formatted with two decimals, so a controller can add them up as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson
from aiohttp import web
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from api.problems import bad_param

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EURO_FORMAT = "#,##0.00"  # Excel shows it in the reader's locale: 1.234.567,89 in Dutch


def wants_table(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return CSV in accept or XLSX in accept


def table_response(request: web.Request, rows: list[Mapping[str, Any]], filename: str) -> web.Response:
    """`rows` as the spreadsheet or the CSV the request accepts (the spreadsheet if both)."""
    if XLSX in request.headers.get("Accept", ""):
        return xlsx_response(rows, filename)
    return csv_response(rows, filename)


def xlsx_response(rows: list[Mapping[str, Any]], filename: str) -> web.Response:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(filename[:31])
    columns = list(rows[0]) if rows else []
    sheet.append([_heading(c) for c in columns])
    for row in rows:
        sheet.append([_cell(sheet, c, row[c]) for c in columns])
    out = io.BytesIO()
    book.save(out)
    return web.Response(
        body=out.getvalue(),
        content_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'},
    )


def _heading(column: str) -> str:
    return f"{column.removesuffix('Cents')} (EUR)" if column.endswith("Cents") else column


def _cell(sheet: Any, column: str, value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    if column.endswith("Cents") and isinstance(value, int) and not isinstance(value, bool):
        cell = WriteOnlyCell(sheet, value=Decimal(value).scaleb(-2))  # exact: written as its decimal digits
        cell.number_format = EURO_FORMAT
        return cell
    return value


def csv_response(rows: list[Mapping[str, Any]], filename: str) -> web.Response:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: orjson.dumps(v).decode() if isinstance(v, (dict, list)) else v for k, v in row.items()}
            )
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


def int_param(request: web.Request, name: str, default: int | None, low: int, high: int) -> int | None:
    """The query parameter `name` as a whole number in [low, high], `default` if absent."""
    raw = request.query.get(name)
    return default if raw is None else whole_number(name, raw, low, high)


def whole_number(name: str, raw: str, low: int, high: int) -> int:
    """`raw` as a whole number in [low, high], else 400 naming the parameter `name`."""
    try:
        value = int(raw)
    except ValueError:
        raise bad_param(name, "must be a whole number", "integer") from None
    if not low <= value <= high:
        raise bad_param(name, f"must be between {low} and {high}", "range")
    return value


def page_params(request: web.Request) -> tuple[int, int]:
    """?page= (from 1) and ?pageSize=."""
    page = int_param(request, "page", 1, 1, 10**9) or 1
    size = int_param(request, "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE
    return page, size


def paged(request: web.Request, results: list[dict[str, Any]], count: int, page: int, size: int) -> web.Response:
    """The ADR list shape: {count, next, previous, results}."""

    def link(n: int) -> str:
        return str(request.url.update_query(page=n, pageSize=size))

    return json_response(
        {
            "count": count,
            "next": link(page + 1) if page * size < count else None,
            "previous": link(page - 1) if page > 1 else None,
            "results": results,
        }
    )


def page_of(request: web.Request, rows: list[dict[str, Any]], filename: str) -> web.Response:
    """One page of `rows` (?page=, ?pageSize=), or every row as a table."""
    if wants_table(request):
        return table_response(request, rows, filename)
    page, size = page_params(request)
    start = (page - 1) * size
    return paged(request, rows[start : start + size], len(rows), page, size)
