"""Spreadsheets posted as events: one event a row, read into the dicts a JSON batch holds.

The columns are the envelope's (`id`, `type`, `party`, `effectiveDate`, `year`,
`reference`) and then data fields by name. A cell's text is read as its field's JSON
type asks (a whole number, a number, ja/nee, a date), so the event then goes through
the same `parse_event` as JSON, strictly, and the batch stays atomic exactly as JSON's.
An amount comes as `amountCents` (whole cents) or `amount` in euros (api/euros.py); any
field `...Cents` so (`openingBalance`, and `... (EUR)` as the Dutch CSV and the
spreadsheet downloads head it). A nested field is a column per key: `weights.GM0200`
holds that member's weight, `members.GM0200` says ja to that member. An empty cell is
an absent field. The events list's own columns round-trip: its `data` (the payload as
JSON) is read as the data, and what the ledger added to a logged event (position,
hashes, recordedAt, postedBy, derived) is not the poster's to send and is passed over.

A text the ledger's own CSV guarded against being taken for a formula (a ' before it)
posts back as it was. Spreadsheets are attack surface too: a formula is refused (post
its value), as are a
cell beyond the last heading, two columns of one heading, a file that is no CSV or
workbook, and a workbook whose contents unpack far beyond what it holds (a zip bomb).
No more rows are read than a batch may hold.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson

from api.euros import NotAnAmount, cents_of_number, cents_of_text, unsigned_decimal
from api.render import unguarded
from ledger.events import PAYLOADS

ENVELOPE = ("id", "type", "party", "effectiveDate", "year", "reference")
# What the ledger adds to a logged event: in the events list's CSV, not the poster's to send.
LOGGED = frozenset({"derived", "contentHash", "position", "recordedAt", "postedBy", "previousHash", "chainHash"})
EUR = " (EUR)"
TRUE = frozenset({"ja", "true", "waar", "j", "x", "1"})
FALSE = frozenset({"nee", "false", "onwaar", "n", "0"})
WHOLE = re.compile(r"[+-]?\d{1,20}", re.ASCII)
DUTCH_DATE = re.compile(r"(\d{1,2})-(\d{1,2})-(\d{4})", re.ASCII)  # 31-3-2018, as Excel-NL writes a date
MAX_SHEET_ROWS = 1_048_576  # Excel's last row: a workbook naming a row beyond it is no sheet of Excel's
MAX_UNPACKED = 256 * 1024 * 1024  # bytes a workbook may unpack to
MAX_RATIO = 200  # how far one part of a workbook may unpack beyond its compressed size


@dataclass(frozen=True, slots=True)
class CellError:
    """A bad cell (or heading, or file), as the user finds it: the row with the header as
    row 1, and the column's heading (`column N` where it has none)."""

    row: int
    column: str | None
    code: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        name = f"row {self.row}" if self.column is None else f"row {self.row}, {self.column}"
        out: dict[str, Any] = {"name": name, "code": self.code, "reason": self.reason, "row": self.row}
        if self.column is not None:
            out["column"] = self.column
        return out


class SheetRefused(Exception):
    """The file cannot be read as events; `errors` names each bad cell."""

    def __init__(self, detail: str, errors: list[CellError]):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class TooManyRows(Exception):
    """More rows than a batch may hold events."""


@dataclass(frozen=True, slots=True)
class SheetRow:
    """One row read as an event: its row number, the event as JSON would hold it, and
    which column each field came from (by the field's name in `invalidParams`:
    `data.amountCents`), to name the column a refusal is about."""

    row: int
    raw: dict[str, Any]
    columns: dict[str, str] = field(default_factory=dict)

    def column_of(self, name: str) -> str | None:
        """The column behind the field `name` (or the nearest field it is inside)."""
        while name:
            if name in self.columns:
                return self.columns[name]
            name = name.rpartition(".")[0]
        return None


# --- files --------------------------------------------------------------------------


def read_csv(body: bytes, charset: str | None, max_rows: int) -> list[SheetRow]:
    """A CSV as Excel-NL (`;`, Windows-1252 or UTF-8 with a BOM) or anyone else (`,`,
    UTF-8) writes it: the separator is the header's, the encoding the charset given, else
    UTF-8 (with or without a BOM), else Windows-1252."""
    text = _decoded(body, charset)
    header = text.partition("\n")[0]
    separator = ";" if header.count(";") > header.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    try:
        return _rows(enumerate(reader, start=1), max_rows, dutch=separator == ";")
    except csv.Error as e:
        raise SheetRefused(f"the CSV cannot be read: {e}", [CellError(reader.line_num or 1, None, "csv", str(e))]) from None


def _decoded(body: bytes, charset: str | None) -> str:
    if body.startswith(codecs.BOM_UTF8):
        body, charset = body[len(codecs.BOM_UTF8) :], "utf-8"
    names = [charset] if charset else ["utf-8", "windows-1252"]
    for name in names:
        try:
            return body.decode(name)
        except LookupError:
            raise _file_error("charset", f"the charset {name} is not one this ledger knows: send UTF-8") from None
        except UnicodeDecodeError:
            continue
    raise _file_error("encoding", f"the file is not text in {' or '.join(names)}: save it as CSV (UTF-8)")


def read_xlsx(body: bytes, max_rows: int) -> list[SheetRow]:
    """The first sheet of a workbook (Excel's, LibreOffice's), read as it is streamed."""
    from openpyxl import load_workbook

    _check_zip(body)
    try:
        book = load_workbook(io.BytesIO(body), read_only=True, data_only=False)
    except Exception as e:  # noqa: BLE001 - openpyxl raises many kinds on a broken workbook: each is a bad file
        raise _file_error("xlsx", f"the workbook cannot be read ({type(e).__name__}): save it again as .xlsx") from None
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # a row as long as its cells, not as the dimension the file claims
        return _rows(enumerate(sheet.iter_rows(values_only=True), start=1), max_rows, dutch=False)
    except (SheetRefused, TooManyRows):
        raise
    except Exception as e:  # noqa: BLE001 - a part broken inside the workbook shows only as its rows are read
        raise _file_error("xlsx", f"the workbook cannot be read ({type(e).__name__}): save it again as .xlsx") from None
    finally:
        book.close()


def _check_zip(body: bytes) -> None:
    """A workbook is a zip; refuse one that is not, or that unpacks beyond reason."""
    try:
        parts = zipfile.ZipFile(io.BytesIO(body)).infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise _file_error("xlsx", "the file is not an XLSX workbook (not a zip)") from None
    unpacked = sum(p.file_size for p in parts)
    if unpacked > MAX_UNPACKED or any(p.file_size > MAX_RATIO * max(p.compress_size, 1024) for p in parts):
        raise _file_error("xlsx", "the workbook unpacks far beyond its size: it is refused unread")


def _file_error(code: str, reason: str) -> SheetRefused:
    return SheetRefused(reason, [CellError(1, None, code, reason)])


# --- rows ---------------------------------------------------------------------------


def _rows(numbered: Iterable[tuple[int, Iterable[Any]]], max_rows: int, dutch: bool) -> list[SheetRow]:
    rows = iter(numbered)
    headings = _headings(rows)
    errors: list[CellError] = []
    out: list[SheetRow] = []
    for number, cells in rows:
        if number > MAX_SHEET_ROWS:
            raise _file_error("rows", f"the sheet goes beyond row {MAX_SHEET_ROWS}, Excel's last")
        values = [_blank_to_none(v) for v in cells]
        if all(v is None for v in values):
            continue  # Excel leaves empty rows (;;;;) at the end of a sheet
        if len(out) == max_rows:
            raise TooManyRows(f"at most {max_rows} events in one batch")
        beyond = [i for i, v in enumerate(values[len(headings) :], start=len(headings)) if v is not None]
        errors += [CellError(number, f"column {i + 1}", "extra_cell", "a cell beyond the last heading") for i in beyond]
        row = _event(number, dict(zip(headings, values, strict=False)), dutch, errors)
        out.append(row)
    if errors:
        bad = len({e.row for e in errors})
        raise SheetRefused(f"{bad} of {len(out)} rows hold cells that cannot be read; nothing was stored", errors)
    if not out:
        raise _file_error("empty", "the file holds no events: a header row, then one event a row")
    return out


def _headings(rows: Iterator[tuple[int, Iterable[Any]]]) -> list[str]:
    first = next(rows, None)
    if first is None:
        raise _file_error("empty", "the file is empty: a header row, then one event a row")
    cells = [_blank_to_none(v) for v in first[1]]
    while cells and cells[-1] is None:
        cells.pop()
    if not cells:
        raise _file_error("empty", "the first row holds no headings: id, type, party, effectiveDate, ...")
    errors = []
    headings: list[str] = []
    for i, cell in enumerate(cells):
        heading = "" if cell is None else str(cell).strip()
        if not heading:
            errors.append(CellError(1, f"column {i + 1}", "heading", "the column has no heading"))
        elif heading.startswith("="):
            errors.append(CellError(1, f"column {i + 1}", "formula", "a heading is a name, not a formula"))
        elif heading in headings:
            errors.append(CellError(1, heading, "duplicate_heading", f"column {i + 1} has the heading of column "
                                    f"{headings.index(heading) + 1}: which one holds the field?"))
        headings.append(heading)
    if errors:
        raise SheetRefused("the header row cannot be read; nothing was stored", errors)
    return headings


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _event(number: int, cells: dict[str, Any], dutch: bool, errors: list[CellError]) -> SheetRow:
    """One row as the raw event JSON would send; bad cells go to `errors`."""
    kind = cells.get("type")
    fields = FIELDS.get(kind, {}) if isinstance(kind, str) else {}
    raw: dict[str, Any] = {}
    data: dict[str, Any] = {}
    columns: dict[str, str] = {}
    for heading, value in cells.items():
        if value is None or heading in LOGGED:
            continue
        try:
            if isinstance(value, str) and value.lstrip().startswith("="):
                raise ValueError("is a formula: post its value")
            if heading in ENVELOPE:
                raw[heading] = _value(ENVELOPE_KINDS[heading], value, dutch)
                columns[heading] = heading
            elif heading == "data":
                _put_data_json(data, value, columns)
            else:
                name, converted = _data_field(heading, value, fields, dutch)
                _put(data, name, converted, heading, columns)
        except (ValueError, NotAnAmount) as e:
            errors.append(CellError(number, heading, "cell", f"{_shown(value)} {e}"))
    if data or "data" in cells:
        raw["data"] = data
    return SheetRow(number, raw, columns)


def _data_field(heading: str, value: Any, fields: dict[str, str], dutch: bool) -> tuple[str, Any]:
    """The data field a column fills, and the cell as that field's value."""
    base = heading.removesuffix(EUR)
    if heading.endswith(EUR) or (base + "Cents" in fields and base not in fields):
        if base + "Cents" not in fields and fields:
            raise ValueError(f"is in euros, but this event type has no field {base}Cents")
        cents = cents_of_number(value) if _is_number(value) else cents_of_text(str(value), dutch)
        return base + "Cents", cents
    outer, dot, _ = heading.partition(".")
    if dot and fields.get(outer) == "object":
        return heading, _value("number", value, dutch)
    if dot and fields.get(outer) == "array":
        return heading, _value("boolean", value, dutch)
    if fields.get(heading) in ("object", "array"):
        raise ValueError(f"is a list of values: write each in a column of its own, {heading}.GM0200")
    return heading, _value(fields.get(heading, "string"), value, dutch)


def _put(data: dict[str, Any], name: str, value: Any, heading: str, columns: dict[str, str]) -> None:
    outer, dot, key = name.partition(".")
    nested = list if isinstance(value, bool) else dict  # members.GM0200: ja; weights.GM0200: 1,5
    if dot and not isinstance(data.setdefault(outer, nested()), nested):
        raise ValueError(f"gives {outer} a second time (the data column holds it too)")
    if dot and isinstance(value, bool):
        if value:
            data[outer].append(key)
        columns.setdefault(f"data.{outer}", heading)
        return
    if dot:
        data[outer][key] = value
        columns[f"data.{name}"] = heading
        columns.setdefault(f"data.{outer}", heading)
        return
    if name in data:
        raise ValueError(f"gives {name} a second time (the data column holds it too)")
    data[name] = value
    columns[f"data.{name}"] = heading


def _put_data_json(data: dict[str, Any], value: Any, columns: dict[str, str]) -> None:
    """The events list's `data` column: the payload as JSON."""
    try:
        payload = orjson.loads(str(value))
    except orjson.JSONDecodeError:
        raise ValueError("is not the JSON object of an event's data") from None
    if not isinstance(payload, dict):
        raise ValueError("is not the JSON object of an event's data")
    for name, item in payload.items():
        if name in data:
            raise ValueError(f"gives {name} a second time (a column holds it too)")
        data[name] = item
        columns[f"data.{name}"] = "data"


# --- cells --------------------------------------------------------------------------


def _value(kind: str, value: Any, dutch: bool) -> Any:
    """A cell as the JSON value its field's kind takes; ValueError saying why not."""
    if kind == "integer":
        return _whole(value)
    if kind == "number":
        return _number(value, dutch)
    if kind == "boolean":
        return _boolean(value)
    if kind == "date":
        return _date(value)
    if isinstance(value, bool):
        return value  # the model names what it wanted
    if isinstance(value, (datetime, date)):
        return _date(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return unguarded(str(value).strip())


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and WHOLE.fullmatch(value.strip()):
        return int(value)
    raise ValueError("must be a whole number (an amount in cents has no decimals: or write it in euros, as amount)")


def _number(value: Any, dutch: bool) -> int | float:
    if _is_number(value):
        if isinstance(value, float) and not Decimal(value).is_finite():
            raise ValueError("must be a finite number")
        return value
    text = str(value).strip()
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text)
    magnitude = unsigned_decimal(digits, dutch or "," in digits)
    if magnitude is None:
        raise ValueError("must be a number, such as 1,5 or 1.5")
    return sign * (int(magnitude) if magnitude == magnitude.to_integral_value() else float(magnitude))


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError("must be ja or nee (true or false)")


def _date(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    dutch = DUTCH_DATE.fullmatch(text)
    if dutch:
        day, month, year = (int(g) for g in dutch.groups())
        try:
            return date(year, month, day).isoformat()
        except ValueError:
            raise ValueError("is not a real calendar date") from None
    return text


def _shown(value: Any) -> str:
    """The cell as a refusal quotes it: a long text cut short."""
    return repr(value[:40] + "..." if isinstance(value, str) and len(value) > 40 else value)


# --- the fields of each event type ------------------------------------------------------


def _kind(schema: dict[str, Any]) -> str:
    """A field's JSON kind: integer, number, boolean, date, string, object or array."""
    options = [o for o in schema.get("anyOf", [schema]) if o.get("type") != "null"]
    if any(o.get("format") == "date" for o in options):
        return "date"
    types = {o.get("type") for o in options}
    return "number" if "number" in types else str(next(iter(types), "string"))


FIELDS: dict[str, dict[str, str]] = {
    kind: {name: _kind(schema) for name, schema in model.model_json_schema().get("properties", {}).items()}
    for kind, model in PAYLOADS.items()
}
ENVELOPE_KINDS = {"id": "string", "type": "string", "party": "string", "effectiveDate": "date", "year": "integer",
                  "reference": "string"}
