"""Turning results into responses: JSON, a table (CSV on `Accept: text/csv`, the Dutch
CSV on `Accept: text/csv; dialect=nl`, a spreadsheet on
`Accept: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`), and pages.

The Dutch CSV is the one Excel-NL opens as it is: `;` between cells, UTF-8 with a byte
order mark, amounts (`...Cents` columns, headed `... (EUR)`) in euros with a decimal comma
and no thousands separator (`-1234,56`), other fractions with a comma too, booleans
`ja`/`nee`. The default CSV writes every value as JSON does (`true`, `1.5`, cents).

Lists answer `{count, next, previous, results}`; `next` and `previous` are full
URLs of the neighbouring pages (or null). The table of a list has the same rows as its
`results`, one column per member; nested values are written as JSON. In the
spreadsheet, a column of cents (`...Cents`) is a column of euros: numbers, exact to the
cent, formatted with two decimals, so a controller can add them up as they are.

A table's columns are declared per table (TABLES, from the OpenAPI row schemas), not
taken from its first row: a member a row lacks is an empty cell. Exports are attack
surface, so no text is ever a formula: in the spreadsheet every text is a text cell, a
character XML cannot hold shown as U+FFFD (no 500 on a control character in an old log);
in the CSV a text starting with = + - @ tab, CR or NUL gets a ' in front and is quoted,
as OWASP recommends, and so does each part of it after a semicolon (where Dutch Excel
starts a new cell). Numbers, booleans and nested values are written as JSON writes them.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
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
    return web.Response(status=status, body=orjson.dumps(body, default=_exact), content_type="application/json")


def _exact(value: Any) -> Any:
    """A Decimal (the Iv3 delivery's thousands of euros) as a JSON number, digit for digit."""
    if isinstance(value, Decimal):
        return orjson.Fragment(f"{value:f}")
    raise TypeError(f"{type(value).__name__} is not JSON")


CSV = "text/csv"
DUTCH_CSV = "text/csv; dialect=nl"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EURO_FORMAT = "#,##0.00"  # Excel shows it in the reader's locale: 1.234.567,89 in Dutch
TABLES = web.AppKey("tables", dict)  # each table's columns by its name (api/openapi.py's table_columns)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")  # OWASP's and ASVS 1.2.10's
_FORMULA_CHAR = "[" + re.escape("".join(FORMULA_START)) + "]"
# Dutch Excel splits a CSV at semicolons, so a text's part after one starts a cell too.
FORMULA_AFTER_SEMICOLON = re.compile(f";(?={_FORMULA_CHAR})")
GUARDED_AFTER_SEMICOLON = re.compile(f";'(?={_FORMULA_CHAR})")
NOT_IN_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")  # XML 1.0's Char
MAX_CELL_TEXT = 32_767  # Excel's limit on the text of a cell


def wants_table(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return CSV in accept or XLSX in accept


def table_response(request: web.Request, rows: list[Mapping[str, Any]], name: str) -> web.Response:
    """`rows` as the spreadsheet or the CSV the request accepts (the spreadsheet if both),
    in the columns declared for the table `name` (TABLES), whatever members a row has."""
    return rows_response(request, rows, request.app[TABLES][name], name)


def rows_response(request: web.Request, rows: list[Mapping[str, Any]], columns: list[str], name: str) -> web.Response:
    """`rows` in `columns` as the spreadsheet, the Dutch CSV or the CSV the request accepts."""
    accept = request.headers.get("Accept", "")
    if XLSX in accept:
        return xlsx_response(rows, columns, name)
    if wants_dutch_csv(accept):
        return dutch_csv_response(rows, columns, name)
    return csv_response(rows, columns, name)


def wants_dutch_csv(accept: str) -> bool:
    """Whether an Accept header asks for text/csv with the parameter dialect=nl."""
    for media_range in accept.split(","):
        kind, *params = (part.strip().lower() for part in media_range.split(";"))
        if kind == CSV and "dialect=nl" in (p.replace(" ", "") for p in params):
            return True
    return False


def xlsx_response(rows: list[Mapping[str, Any]], columns: list[str], filename: str) -> web.Response:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(filename[:31])
    sheet.append([_xlsx_cell(sheet, "", _heading(c)) for c in columns])
    for row in rows:
        sheet.append([_xlsx_cell(sheet, c, row.get(c)) for c in columns])
    out = io.BytesIO()
    book.save(out)
    return workbook_response(out.getvalue(), filename)


def workbook_response(body: bytes, filename: str) -> web.Response:
    """An .xlsx file as a download named `filename`.xlsx."""
    return web.Response(body=body, content_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'})


def _heading(column: str) -> str:
    return f"{column.removesuffix('Cents')} (EUR)" if column.endswith("Cents") else column


def _xlsx_cell(sheet: Any, column: str, value: Any) -> Any:
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        if not column.endswith("Cents"):
            return value
        cell = WriteOnlyCell(sheet, value=Decimal(value).scaleb(-2))  # exact: written as its decimal digits
        cell.number_format = EURO_FORMAT
        return cell
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    if len(text) > MAX_CELL_TEXT:
        text = text[: MAX_CELL_TEXT - 1] + "\u2026"
    cell = WriteOnlyCell(sheet, value=NOT_IN_XML.sub("\ufffd", text))
    cell.data_type = "s"  # text, whatever it starts with: never a formula (=...) or an error code (#N/A)
    return cell


def csv_response(rows: list[Mapping[str, Any]], columns: list[str], filename: str) -> web.Response:
    body = _csv_text([_csv_field(c) for c in columns], ([_csv_field(row.get(c)) for c in columns] for row in rows), ",")
    return web.Response(
        text=body, content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


def dutch_csv_response(rows: list[Mapping[str, Any]], columns: list[str], filename: str) -> web.Response:
    header = [_csv_field(_heading(c), ";") for c in columns]
    body = _csv_text(header, ([_dutch_field(c, row.get(c)) for c in columns] for row in rows), ";")
    return web.Response(
        body=("\ufeff" + body).encode(),
        headers={"Content-Type": f"{DUTCH_CSV}; charset=utf-8",
                 "Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


def _csv_text(header: list[str], rows: Iterable[list[str]], separator: str) -> str:
    return "".join(separator.join(fields) + "\r\n" for fields in (header, *rows))


def _dutch_field(column: str, value: Any) -> str:
    """A cell as Excel-NL reads it: euros with a decimal comma for cents, 1,5 for a
    fraction (numbers, never taken for a formula), ja/nee, and text as in the CSV."""
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, int) and column.endswith("Cents"):
        return f"{Decimal(value).scaleb(-2):f}".replace(".", ",")
    if isinstance(value, float):
        return repr(value).replace(".", ",")
    return _csv_field(value, ";")


def _csv_field(value: Any, separator: str = ",") -> str:
    """Text as it is, quoted where RFC 4180 needs it; a text a spreadsheet would take for a
    formula with a ' in front, and quoted (OWASP); anything else as JSON writes it (true,
    1.5, [2015]); null empty."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    formula = isinstance(value, str) and (text.startswith(FORMULA_START) or bool(FORMULA_AFTER_SEMICOLON.search(text)))
    if formula:
        text = FORMULA_AFTER_SEMICOLON.sub(";'", text)
        text = "'" + text if text.startswith(FORMULA_START) else text
    if formula or any(c in text for c in f'{separator}"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def unguarded(text: str) -> str:
    """A text as it was before `_csv_field` guarded it against a spreadsheet taking it
    for a formula (a ' before = + - @ at its start and after a semicolon), so that a
    downloaded list posts back the texts it holds (api/spreadsheet.py)."""
    if text.startswith("'") and text[1:2] and text[1] in FORMULA_START:
        text = text[1:]
    return GUARDED_AFTER_SEMICOLON.sub(";", text)


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


def window(request: web.Request) -> tuple[int, int | None]:
    """The rows a list paged in the database reads: the offset and limit of ?page= and
    ?pageSize=, or every row (limit None) for a table."""
    if wants_table(request):
        return 0, None
    page, size = page_params(request)
    return (page - 1) * size, size


def window_of(request: web.Request, rows: list[dict[str, Any]], count: int, filename: str) -> web.Response:
    """The rows read by `window`, of `count` in all: one page, or every row as a table."""
    if wants_table(request):
        return table_response(request, rows, filename)
    return paged(request, rows, count, *page_params(request))


def page_of(request: web.Request, rows: list[dict[str, Any]], filename: str) -> web.Response:
    """One page of `rows` (?page=, ?pageSize=), or every row as a table."""
    if wants_table(request):
        return table_response(request, rows, filename)
    page, size = page_params(request)
    start = (page - 1) * size
    return paged(request, rows[start : start + size], len(rows), page, size)
