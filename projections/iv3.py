"""The Iv3 report of one party and budget year, added up from the log by ledger/iv3.py.

Why from `log_events` and not from the budget movements: Iv3 needs what a movement has
forgotten (the cost category, the allocation's source, a reserve's side), and the log
row holds the whole event with what the ledger derived for it.

The shape is the CBS's Iv3 JSON delivery (`metadata` with overheidslaag, overheidsnummer,
boekjaar, periode, status; `data.lasten` and `data.baten` of taakveld, categorie, bedrag),
as the public converters of the CBS Iv3 Excel model write it. Periods: the six
deliveries a year (Rijksoverheid, "Informatie voor derden: aansluiting op gemeentelijke
boekhouding"; the CBS Iv3 open data mark begroting and jaarrekening as X000 and X005):
- 0 begroting: the allocations of the year (ledger/iv3.py `begroting`), whatever
  their effective date. CBS wants it before 15 November of the year before (Kredo FAQ,
  "Wanneer moet de informatie aan het CBS worden aangeleverd?"): ask with `asOf`. CBS
  does not ask it of a GR ("Gemeenten en gemeenschappelijke regelingen"); the ledger
  answers anyway.
- 1-4 the quarters, cumulative: everything of the budget year with an effective date up
  to the quarter's end, so a late booking dated in an earlier quarter is never lost and
  the fourth quarter holds the year up to 31 December (CBS Kredo FAQ, "De informatie over de kwartalen dient
  cumulatief aangeleverd te worden. Waarom?", written for waterschappen; the ledger
  applies the same reasoning to gemeenten).
- 5 jaarrekening: every event of the budget year, including those dated after it.
Events are read by budget year (`year`), so a correction counts in its own year.

`status` is "definitief" once a YearClosed for the year is known (at `asOf`), else
"voorlopig". Amounts: `bedrag` in cents (the ledger's money rule), `bedragDuizendEuro`
in the thousands of euros CBS works in. Cells that add up to zero are left out, as an
empty cell of the CBS matrix.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from ledger import iv3
from projections.db import ReadDB
from projections.queries import party_kind, recorded_by

BEGROTING, JAARREKENING = 0, 5
_QUARTER_END = {1: "03-31", 2: "06-30", 3: "09-30", 4: "12-31"}


def report(db: ReadDB, party: str, year: int, period: int, as_of: str | None = None) -> dict[str, Any] | None:
    """The Iv3 figures of `party` for budget `year` and `period` (0-5), as known at
    `as_of`; None when the party is not registered (then)."""
    kind = party_kind(db, party, as_of)
    if kind is None:
        return None
    where, known = recorded_by("recorded_at", as_of)
    with db.transaction() as cur:
        rows = cur.execute(
            f"SELECT effective_date, body FROM log_events WHERE party = ? AND year = ?{where} ORDER BY position",
            [party, year, *known],
        ).fetchall()
        allocations = cur.execute(
            f"SELECT body FROM log_events WHERE party = ? AND type = 'BudgetAllocated'{where} ORDER BY position",
            [party, *known],
        ).fetchall()
    events = [(date, orjson.loads(body)) for date, body in rows]
    source_of = _allocation_sources(orjson.loads(body) for (body,) in allocations)
    if period == BEGROTING:
        mapped = (iv3.begroting(e, e.get("derived"), source_of=source_of) for _, e in events)
    else:
        last = f"{year}-{_QUARTER_END[period]}" if period in _QUARTER_END else None
        organisation = kind == "organisation"
        mapped = (
            iv3.lines(e, e.get("derived"), organisation=organisation, source_of=source_of)
            for date, e in events
            if last is None or date <= last
        )
    laag, nummer = iv3.overheid(party, kind)
    closed = any(e["type"] == "YearClosed" for _, e in events)
    return {
        "metadata": {
            "overheidslaag": laag,
            "overheidsnummer": nummer,
            "boekjaar": year,
            "periode": period,
            "status": "definitief" if closed else "voorlopig",
            "eenheid": "eurocent",
            "mappingVersion": iv3.MAPPING_VERSION,
        },
        "data": _matrix(line for event_lines in mapped for line in event_lines),
    }


def _allocation_sources(allocations: Iterable[dict[str, Any]]) -> iv3.SourceOf:
    """What a BudgetRevised revises: the first allocation (in log order) of the same
    budget line in its budget year, else of the same budget in that year."""
    first: dict[tuple[int, str, str | None], str] = {}
    for a in allocations:
        data = a["data"]
        first.setdefault((a["year"], data["budget"], data.get("subBudget")), data["source"])
        first.setdefault((a["year"], data["budget"], "*"), data["source"])

    def source_of(revision: dict[str, Any]) -> str | None:
        data = revision["data"]
        key = (revision["year"], data["budget"])
        return first.get((*key, data.get("subBudget"))) or first.get((*key, "*"))

    return source_of


def _matrix(lines: Iterable[iv3.Line]) -> dict[str, list[dict[str, Any]]]:
    cells: dict[tuple[str, str, str], int] = {}
    for line in lines:
        key = (line.side, line.taakveld, line.categorie)
        cells[key] = cells.get(key, 0) + line.cents
    ordered = sorted(cells.items(), key=lambda c: (iv3.code_order(c[0][1]), iv3.code_order(c[0][2])))
    return {
        side: [
            {"taakveld": t, "categorie": c, "bedrag": cents, "bedragDuizendEuro": iv3.thousands(cents)}
            for (s, t, c), cents in ordered
            if s == side and cents
        ]
        for side in (iv3.LASTEN, iv3.BATEN)
    }
