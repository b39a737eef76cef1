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

A current report (no `asOf`) is read from sums the projector keeps per cell and part
of the year (projections/iv3_sums.py, issue 16: decoding a year's events took 75 ms at
20,000 events); an as-of report still reads the events recorded by then, which the
kept sums must always equal (tests/test_iv3_sums.py).

`status` is "definitief" while the year is closed (at `asOf`): a YearClosed known and
no YearReopened after it; else "voorlopig". Amounts: `bedrag` in cents (the ledger's
money rule), `bedragDuizendEuro` in the thousands of euros CBS works in. Cells that add up to zero are left out, as an
empty cell of the CBS matrix.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from ledger import iv3
from projections import iv3_sums
from projections.db import ReadDB
from projections.queries import party_kind, recorded_by

BEGROTING, JAARREKENING = 0, 5


def report(db: ReadDB, party: str, year: int, period: int, as_of: str | None = None) -> dict[str, Any] | None:
    """The Iv3 figures of `party` for budget `year` and `period` (0-5), as known at
    `as_of`; None when the party is not registered (then). A current report reads the
    sums the projector keeps (projections/iv3_sums.py); an as-of one the events."""
    kind = party_kind(db, party, as_of)
    if kind is None:
        return None
    organisation = kind == "organisation"
    if as_of is None:
        lines, closed = iv3_sums.current(db, party, year, period, organisation)
    else:
        lines, closed = _from_log(db, party, year, period, organisation, as_of)
    laag, nummer = iv3.overheid(party, kind)
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
        "data": _matrix(lines),
    }


def _from_log(
    db: ReadDB, party: str, year: int, period: int, organisation: bool, as_of: str
) -> tuple[list[iv3.Line], bool]:
    """The lines of `period` from the events of the year recorded by `as_of`, and
    whether the year was closed by then."""
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
    source_of = iv3_sums.source_lookup(iv3_sums.first_sources(orjson.loads(body) for (body,) in allocations))
    if period == BEGROTING:
        mapped = (iv3.begroting(e, e.get("derived"), source_of=source_of) for _, e in events)
    else:
        last = f"{year}-{iv3_sums.QUARTER_END[period]}" if period in iv3_sums.QUARTER_END else None
        mapped = (
            iv3.lines(e, e.get("derived"), organisation=organisation, source_of=source_of)
            for date, e in events
            if last is None or date <= last
        )
    lines = [line for event_lines in mapped for line in event_lines]
    periods = [e["type"] == "YearClosed" for _, e in events if e["type"] in ("YearClosed", "YearReopened")]
    return lines, bool(periods) and periods[-1]


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
