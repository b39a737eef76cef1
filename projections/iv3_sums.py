"""Kept sums of the Iv3 matrix, so that a current Iv3 report reads a few rows per
(party, year) rather than decoding every event of the year (issue 16).

Why these sums: every Iv3 line is an amount on a cell, and a report adds a period's
lines up per cell, so it depends on the year's events only through the cents per
cell and per part of the year a period takes in. The projector adds each batch to
- `iv3_cells` by `bucket`: 0 the begroting's lines (every event of the year, whatever
  its date); 1-4 the quarter the effective date falls in (a date before the year counts
  in quarter 1), 5 a date after the year. Period 0 reads bucket 0, period 1-4 buckets 1
  up to it (cumulative), period 5 buckets 1-5. The dates are compared as strings with
  the quarters' ends, as the report compares them. `applies` says for which parties a
  cell counts: `all`, or only `organisation` / `other` where the mapping places a line
  by the party's kind (an organisation's own Wsw wages): the kind is the latest
  registration's, so it is only known when reading.
- `iv3_revisions`: what a BudgetRevised (or its correction, negated) revises is placed
  by the source of the FIRST allocation of its line in its year, else of its budget
  (`source_lookup`). Budget rules only ask that the budget exists in that year, so the
  first allocation of a sub-budget's line may be posted after a revision of it and
  change where that revision goes. Its cents are therefore kept per revised line (its
  year, budget, sub-budget) and placed when reading, by `iv3_first_sources`: per line,
  and per budget (`*`), the source of its first allocation in log order.
- `iv3_closed`: the (party, year) pairs closed now (a YearClosed not followed by a YearReopened).

Sums of integers do not depend on how the log is cut into batches, and the first
allocation keeps its place (ON CONFLICT DO NOTHING, batches applied in log order): a
rebuild writes what following the log wrote. A batch sums in Python and writes each
table with one executemany. tests/test_iv3_sums.py holds the answers to the as-of path,
which still reads the events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ledger import iv3
from ledger.application import LoggedEvent
from ledger.effects import Effects
from projections.db import Cursor, ReadDB

BEGROTING_BUCKET, AFTER_YEAR = 0, 5
QUARTER_END = {1: "03-31", 2: "06-30", 3: "09-30", 4: "12-31"}
_EVERY_KIND, _ORGANISATION, _OTHER = "all", "organisation", "other"
_BUDGET = "*"  # the sub-budget key of a budget's first allocation, whatever its line (never a Code)

FirstSources = dict[tuple[int, str, str | None], str]

_ADD_CELLS = (
    "INSERT INTO iv3_cells VALUES (?,?,?,?,?,?,?,?) "
    "ON CONFLICT (party, year, bucket, applies, side, taakveld, categorie) "
    "DO UPDATE SET cents = iv3_cells.cents + excluded.cents"
)
_ADD_REVISIONS = (
    "INSERT INTO iv3_revisions VALUES (?,?,?,?,?,?,?) "
    "ON CONFLICT (party, year, bucket, line_year, budget, sub_budget) "
    "DO UPDATE SET cents = iv3_revisions.cents + excluded.cents"
)
_ADD_FIRST = "INSERT INTO iv3_first_sources VALUES (?,?,?,?,?) ON CONFLICT (party, year, budget, sub_budget) DO NOTHING"
_ADD_CLOSED = "INSERT INTO iv3_closed VALUES (?,?) ON CONFLICT (party, year) DO NOTHING"
_REOPEN = "DELETE FROM iv3_closed WHERE party = ? AND year = ?"


def first_sources(allocations: Iterable[dict[str, Any]]) -> FirstSources:
    """Per (year, budget, sub-budget or None) and per (year, budget, `*`): the source of
    the first of `allocations` (BudgetAllocated entries, in log order) there."""
    first: FirstSources = {}
    for a in allocations:
        data = a["data"]
        first.setdefault((a["year"], data["budget"], data.get("subBudget")), data["source"])
        first.setdefault((a["year"], data["budget"], _BUDGET), data["source"])
    return first


def source_lookup(first: Mapping[tuple[int, str, str | None], str]) -> iv3.SourceOf:
    """What a BudgetRevised revises: the first allocation of the same budget line in its
    budget year, else of the same budget in that year."""

    def source_of(revision: dict[str, Any]) -> str | None:
        data = revision["data"]
        key = (revision["year"], data["budget"])
        return first.get((*key, data.get("subBudget"))) or first.get((*key, _BUDGET))

    return source_of


def bucket(year: int, date: str) -> int:
    """The part of budget `year` an effective date falls in (see the module docstring)."""
    for quarter, end in QUARTER_END.items():
        if date <= f"{year}-{end}":
            return quarter
    return AFTER_YEAR


def buckets(period: int) -> tuple[int, int]:
    """The first and last bucket a period adds up."""
    return (BEGROTING_BUCKET, BEGROTING_BUCKET) if period == BEGROTING_BUCKET else (1, min(period, AFTER_YEAR))


def add(cur: Cursor, events: Sequence[LoggedEvent], effects: Sequence[Effects]) -> None:
    """Add a batch of events (in log order), with each one's effects, to the kept sums."""
    cells: dict[tuple[Any, ...], int] = {}
    revisions: dict[tuple[Any, ...], int] = {}
    first: dict[tuple[str, int, str, str], str] = {}
    closed: dict[tuple[str, int], bool] = {}  # each year the batch closes (True) or reopens, as it leaves it

    def put(key: tuple[Any, ...], applies: str, event_lines: Iterable[iv3.Line]) -> None:
        for line in event_lines:
            cell = (*key, applies, line.side, line.taakveld, line.categorie)
            cells[cell] = cells.get(cell, 0) + line.cents

    for e, moved in zip(events, effects, strict=True):
        entry, derived = e.entry, e.derived or {}
        party, year, kind = entry["party"], entry["year"], entry["type"]
        dated = (party, year, bucket(year, entry["effectiveDate"]))
        begroting = (party, year, BEGROTING_BUCKET)
        if kind in ("YearClosed", "YearReopened"):
            closed[(party, year)] = kind == "YearClosed"
        elif kind == "BudgetAllocated":
            data = entry["data"]
            first.setdefault((party, year, data["budget"], data.get("subBudget") or ""), data["source"])
            first.setdefault((party, year, data["budget"], _BUDGET), data["source"])
        put(begroting, _EVERY_KIND, iv3.allocation_changes(moved))
        reversed_type = iv3.reversed_type(entry, derived)
        if reversed_type == "BudgetRevised":  # one baat, placed when reading (see the module docstring)
            original, sign = (derived["original"], -1) if kind == "Correction" else (entry, 1)
            data = original["data"]
            line = (original["year"], data["budget"], data.get("subBudget") or "")
            for key in (begroting, dated):
                revisions[(*key, *line)] = revisions.get((*key, *line), 0) + sign * data["amountCents"]
            continue
        other, organisation = iv3.lines(entry, derived), iv3.lines(entry, derived, organisation=True)
        if reversed_type == "BudgetAllocated":
            put(begroting, _EVERY_KIND, other)
        if other == organisation:
            put(dated, _EVERY_KIND, other)
        else:
            put(dated, _OTHER, other)
            put(dated, _ORGANISATION, organisation)
    if cells:
        cur.executemany(_ADD_CELLS, [(*cell, cents) for cell, cents in cells.items()])
    if revisions:
        cur.executemany(_ADD_REVISIONS, [(*line, cents) for line, cents in revisions.items()])
    if first:
        cur.executemany(_ADD_FIRST, [(*line, source) for line, source in first.items()])
    cur.executemany(_ADD_CLOSED, sorted(key for key, shut in closed.items() if shut))
    cur.executemany(_REOPEN, sorted(key for key, shut in closed.items() if not shut))


def current(db: ReadDB, party: str, year: int, period: int, organisation: bool) -> tuple[list[iv3.Line], bool]:
    """The lines of `period` (0-5) of `party`'s budget `year` from the kept sums, one per
    cell and revised line, and whether the year is closed."""
    with db.transaction() as cur:
        closed = cur.execute("SELECT 1 FROM iv3_closed WHERE party = ? AND year = ?", (party, year)).fetchone()
    return _lines(db, party, (year, year), buckets(period), organisation), closed is not None


def realised(db: ReadDB, party: str, first: int, last: int, organisation: bool) -> list[iv3.Line]:
    """The realised lines (periods 1-5: buckets 1 up to after the year) of the budget
    years `first` to `last`, added up per cell: where the balance stands (ledger/iv3_cbs.py)."""
    return _lines(db, party, (first, last), (1, AFTER_YEAR), organisation) if first <= last else []


def _lines(
    db: ReadDB, party: str, years: tuple[int, int], parts: tuple[int, int], organisation: bool
) -> list[iv3.Line]:
    where = "WHERE party = ? AND year BETWEEN ? AND ? AND bucket BETWEEN ? AND ?"
    with db.transaction() as cur:
        cells = cur.execute(
            f"SELECT side, taakveld, categorie, SUM(cents) FROM iv3_cells {where} AND applies IN (?, ?) "
            "GROUP BY side, taakveld, categorie",
            (party, *years, *parts, _EVERY_KIND, _ORGANISATION if organisation else _OTHER),
        ).fetchall()
        revised = cur.execute(
            f"SELECT line_year, budget, sub_budget, SUM(cents) FROM iv3_revisions {where} "
            "GROUP BY line_year, budget, sub_budget",
            (party, *years, *parts),
        ).fetchall()
        sources = cur.execute(
            "SELECT year, budget, sub_budget, source FROM iv3_first_sources WHERE party = ?", (party,)
        ).fetchall() if revised else []
    out = [iv3.Line(side, taakveld, categorie, int(cents)) for side, taakveld, categorie, cents in cells]
    source_of = source_lookup({(y, budget, sub or None): source for y, budget, sub, source in sources})
    for line_year, budget, sub, cents in revised:
        data = {"budget": budget, "amountCents": int(cents), **({"subBudget": sub} if sub else {})}
        out += iv3.lines({"type": "BudgetRevised", "year": line_year, "data": data}, source_of=source_of)
    return out
