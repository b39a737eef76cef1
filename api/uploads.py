"""The body of `POST /v1/events` as the JSON value a batch is parsed from: JSON as it is,
or a spreadsheet (text/csv, XLSX) read one event a row (api/spreadsheet.py). A refusal
of a spreadsheet's events names the rows (the header is row 1) and columns, not only
the indexes a JSON batch's refusal gives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from api.problems import Problem, bad_request
from api.render import CSV, XLSX
from api.spreadsheet import SheetRefused, SheetRow, TooManyRows, read_csv, read_xlsx

SHEETS = (CSV, XLSX)


@dataclass(frozen=True, slots=True)
class Upload:
    """A posted body: the JSON value `_parse_batch` takes, and the rows it came from."""

    body: Any
    rows: list[SheetRow] | None = None

    def located(self, problem: Problem) -> Problem:
        """`problem` with each refused event's row (and the column of a bad field) added."""
        if self.rows is None:
            return problem
        for param in problem.extra.get("invalidParams", []):
            if "index" in param:
                row = self.rows[param["index"]]
                column = row.column_of(param["name"].removeprefix(f"events[{param['index']}]."))
                param["row"] = row.row
                param["name"] = f"row {row.row}" if column is None else f"row {row.row}, {column}"
                if column is not None:
                    param["column"] = column
        for error in problem.extra.get("errors", []):
            if "index" in error:
                error["row"] = self.rows[error["index"]].row
        return problem


def json_upload(body: bytes) -> Upload:
    try:
        return Upload(orjson.loads(body))
    except orjson.JSONDecodeError as e:
        raise bad_request(f"the body is not valid JSON: {e}", [{"name": "body", "code": "json", "reason": "not valid JSON"}]) from None


def sheet_upload(media_type: str, charset: str | None, body: bytes, max_batch: int) -> Upload:
    """A CSV or XLSX body as a batch, one event a row (blocking: run it in a thread)."""
    try:
        rows = read_csv(body, charset, max_batch) if media_type == CSV else read_xlsx(body, max_batch)
    except SheetRefused as e:
        raise bad_request(e.detail, [c.as_dict() for c in e.errors]) from None
    except TooManyRows as e:
        raise Problem(413, "batch-too-large", "Batch too large", str(e)) from None
    return Upload({"events": [r.raw for r in rows]}, rows)
