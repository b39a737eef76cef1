"""`ledger post FILE`: a spreadsheet (.csv, .xlsx) or JSON (.json: one event or
`{"events": [...]}`; .ndjson: one event a line) posted as one atomic batch, every rule
checked as over HTTP; a dry run stores nothing. Each refusal is one line naming the row
(the header is row 1) and column, as the API's problem names them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from tqdm import tqdm

from api.spreadsheet import SheetRefused, SheetRow, TooManyRows, read_csv, read_xlsx
from ledger.application import BatchRefused, IdReused, Ledger, PostResult
from ledger.events import InvalidBatch, parse_batch

POSTED_BY = "admin:cli-post"
PROGRESS_FROM = 500  # rows: a smaller file is read before a bar would show


class FileRefused(Exception):
    """The file, or some of its events, cannot be posted; `lines` says why, one a line."""

    def __init__(self, summary: str, lines: list[str]):
        super().__init__(summary)
        self.summary = summary
        self.lines = lines


def rows_of(path: Path, max_rows: int) -> tuple[str, list[SheetRow]]:
    """What the file holds as rows, and what a row is called in it (row, line, event)."""
    body = path.read_bytes()
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return "row", read_csv(body, None, max_rows)
        if suffix == ".xlsx":
            return "row", read_xlsx(body, max_rows)
    except SheetRefused as e:
        raise FileRefused(e.detail, [_cell_line(c.as_dict()) for c in e.errors]) from None
    except TooManyRows as e:
        raise FileRefused(f"{e}: split the file", []) from None
    if suffix not in (".json", ".ndjson"):
        raise FileRefused(f"{path.name}: post a .csv, .xlsx, .json or .ndjson file", [])
    try:
        if suffix == ".ndjson":
            lines = body.splitlines()
            raws = [(n, orjson.loads(line)) for n, line in enumerate(lines, start=1) if line.strip()]
            label = "line"
        else:
            loaded = orjson.loads(body)
            batch = loaded["events"] if isinstance(loaded, dict) and set(loaded) == {"events"} else [loaded]
            raws, label = list(enumerate(batch if isinstance(batch, list) else [batch])), "event"
    except orjson.JSONDecodeError as e:
        raise FileRefused(f"{path.name} is not valid JSON: {e}", []) from None
    if len(raws) > max_rows:
        raise FileRefused(f"at most {max_rows} events in one batch: split the file", [])
    return label, [SheetRow(n, raw) for n, raw in raws]


def post_file(ledger: Ledger, path: Path, max_rows: int, dry_run: bool) -> tuple[PostResult, int]:
    """Post the file's events; the result and how many events it held. FileRefused
    lists every bad row, or every row the rules refuse (nothing is stored then)."""
    label, rows = rows_of(path, max_rows)
    try:
        reading = tqdm(rows, unit=label, desc="read", disable=len(rows) < PROGRESS_FROM, leave=False)
        events = parse_batch((row.raw for row in reading), lambda i: f"{label} {rows[i].row}")
    except InvalidBatch as e:
        bad = [_cell_line(_located(label, rows[i], p.name, p.reason)) for i, p in e.params]
        raise FileRefused(f"{len(bad)} bad cells or fields in {len(rows)} {label}s; nothing was stored", bad) from None
    try:
        return ledger.post(events, POSTED_BY, dry_run=dry_run), len(events)
    except BatchRefused as e:
        lines = [f"{label} {rows[i].row}: {v.rule}: {v.detail}" for i, v in e.violations]
        raise FileRefused(f"{len(e.violations)} of {len(rows)} {label}s break the ledger's rules; nothing was stored",
                          lines) from None
    except IdReused as e:
        lines = [f"{label} {rows[i].row}, id: posted before with other content; a new event needs a new id"
                 for i in e.indexes]
        raise FileRefused(f"{len(e.indexes)} ids were posted before; nothing was stored", lines) from None


def _located(label: str, row: SheetRow, name: str, reason: str) -> dict[str, Any]:
    column = row.column_of(name) if row.columns else name
    return {"name": f"{label} {row.row}" if column is None else f"{label} {row.row}, {column}", "reason": reason}


def _cell_line(param: dict[str, Any]) -> str:
    return f"{param['name']}: {param['reason']}"


def summary(result: PostResult, count: int) -> str:
    """One line on what the post did (or a dry run would do)."""
    if result.dry_run:
        new = count - len(result.results)
        return f"dry run: all {count} events pass the rules, {new} of them new; nothing was stored"
    if not result.created:
        return f"all {count} events were stored before, with the same content: nothing new"
    return f"stored: all {count} events are in the ledger, up to position {result.last_position}"
