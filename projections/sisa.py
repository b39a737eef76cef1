"""The SiSa G2 answer of one party and budget year, added up from the log by ledger/sisa.py.

From `log_events`, as the as-of Iv3 report reads: the indicators need what a budget
movement has forgotten (a cost's category, an income's source), and reading the year's
events makes `asOf` free. Events are read by budget year, so a correction counts in its
own year, as in the jaarrekening the bijlage belongs to.

A gemeente's answer is its `gemeentedeel`; a shared organisation's the `deel openbaar
lichaam`, from its own bookings only (see ledger/sisa.py). `valueCents` is null where
the row's `missing` says why the ledger cannot fill it.
"""

from __future__ import annotations

from typing import Any

import orjson

from ledger import sisa
from projections.db import ReadDB
from projections.queries import party_kind, recorded_by


def report(db: ReadDB, party: str, year: int, as_of: str | None = None) -> dict[str, Any] | None:
    """The G2 indicators of `party` for budget `year` as known at `as_of`; None when the
    party is not registered (then); sisa.YearNotMapped for a year the mapping lacks."""
    kind = party_kind(db, party, as_of)
    if kind is None:
        return None
    organisation = kind == "organisation"
    columns = sisa.indicators(year, organisation)
    sums = _sums(db, party, year, as_of)
    return {
        "party": party,
        "year": year,
        "regeling": sisa.REGELING,
        "title": sisa.TITLE,
        "part": sisa.OPENBAAR_LICHAAM if organisation else sisa.GEMEENTEDEEL,
        "mappingVersion": sisa.MAPPING_VERSION,
        "indicators": [
            {
                "code": c.code,
                "text": c.text,
                "valueCents": None if c.measure is None else sums[c.measure],
                "missing": c.missing,
            }
            for c in columns
        ],
    }


def _sums(db: ReadDB, party: str, year: int, as_of: str | None) -> dict[str, int]:
    where, known = recorded_by("recorded_at", as_of)
    with db.transaction() as cur:
        rows = cur.execute(
            f"SELECT body FROM log_events WHERE party = ? AND year = ?{where} ORDER BY position", [party, year, *known]
        ).fetchall()
    sums = dict.fromkeys(sisa.MEASURES, 0)
    for (body,) in rows:
        entry = orjson.loads(body)
        for measure, cents in sisa.amounts(entry, entry.get("derived")).items():
            sums[measure] += cents
    return sums


def rows(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A report as one table row per indicator, each with the party, year, regeling and
    part it belongs to: the CSV and spreadsheet of /v1/sisa and `ledger sisa --xlsx`."""
    head = {k: body[k] for k in ("party", "year", "regeling", "part")}
    return [{**head, **row} for row in body["indicators"]]
