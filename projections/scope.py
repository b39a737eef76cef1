"""Which parties, and which of their budget years, a read covers.

A member gemeente (and its controller) reads an organisation only for the calendar years
it was a member for at least one day; a read of a scope is filtered here, in the
database, so no query of `projections.queries` can forget a party's years.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, timedelta
from typing import Any, TypeAlias

from ledger.bounds import LAST_YEAR  # an open membership runs to the last year the ledger takes
from projections.db import ReadDB


Years: TypeAlias = tuple[tuple[int, int], ...]  # inclusive ranges of budget years, ascending, disjoint
# A read's parties, each with its readable years (None: every year); a plain collection
# of codes means every year of each; None means every party.
Scope: TypeAlias = Mapping[str, Years | None] | Collection[str] | None


def covers(years: Years | None, year: int) -> bool:
    return years is None or any(first <= year <= last for first, last in years)


def years_of(scope: Scope, party: str) -> Years | None:
    """The years of `party` that `scope` covers (None: every year)."""
    return scope.get(party) if isinstance(scope, Mapping) else None


def last_year(years: Years | None) -> int | None:
    """The last readable year, or None when no year after it is closed to the reader."""
    return None if years is None or years[-1][1] >= LAST_YEAR else years[-1][1]


def _member_years(joined: str, left_on: str | None) -> tuple[int, int]:
    """The years of [joined, left_on) a member was in for at least one day (last < first: none)."""
    last = LAST_YEAR if left_on is None else (date.fromisoformat(left_on) - timedelta(days=1)).year
    return int(joined[:4]), last


def membership_years(db: ReadDB, member: str, as_of: str | None = None) -> dict[str, Years]:
    """Each organisation `member` is or was in, with its membership years: as the ledger
    knew them at `as_of`, never wider than now (a leave recorded since still counts)."""
    with db.transaction() as cur:
        rows = cur.execute(
            "SELECT organisation, joined, left_on, joined_recorded FROM memberships WHERE member = ? "
            "ORDER BY organisation, joined",
            (member,),
        ).fetchall()
    spans: dict[str, list[tuple[int, int]]] = {}
    for organisation, joined, left_on, joined_at in rows:
        first, last = _member_years(joined, left_on)
        if (as_of is not None and joined_at > as_of) or last < first:
            continue
        merged = spans.setdefault(organisation, [])
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(last, merged[-1][1]))
        else:
            merged.append((first, last))
    return {org: tuple(years) for org, years in spans.items()}


def where(scope: Scope, party: str = "party", year: str = "year") -> tuple[str, list[Any]]:
    """An ` AND ...` filter of rows (by their `party` and `year` columns) to `scope`."""
    if scope is None:
        return "", []
    years = scope if isinstance(scope, Mapping) else dict.fromkeys(scope)
    whole = [p for p, y in years.items() if y is None]
    terms, params = [], []
    if whole:
        terms.append(f"{party} IN ({','.join('?' * len(whole))})")
        params += whole
    for p, spans in years.items():
        if spans:
            terms.append(f"({party} = ? AND ({' OR '.join(f'{year} BETWEEN ? AND ?' for _ in spans)}))")
            params += [p, *(bound for span in spans for bound in span)]
    return (f" AND ({' OR '.join(terms)})", params) if terms else (" AND 1 = 0", [])
