"""Reads over the read model: balances, reserves, the log, parties.

Every read takes an optional `as_of` (an RFC 3339 instant, normalised to the fixed
width the ledger stamps): the answer as the ledger knew it then, summed from the
movements recorded up to that instant. Without it, current figures are read from
the current-state table.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import orjson

from projections.db import ReadDB

_AMOUNTS = ("allocated", "income", "spent", "committed")


def _in(column: str, values: Collection[str] | None) -> tuple[str, list[Any]]:
    """A `column IN (...)` filter, or nothing when `values` is None (no restriction)."""
    if values is None:
        return "", []
    if not values:
        return " AND 1 = 0", []
    return f" AND {column} IN ({','.join('?' * len(values))})", list(values)


def _balance_row(party: str, year: int, budget: str, sub: str | None, amounts: tuple[int, ...]) -> dict[str, Any]:
    allocated, income, spent, committed = (int(a) for a in amounts)
    return {
        "party": party,
        "year": year,
        "budget": budget,
        "subBudget": sub,
        "allocatedCents": allocated,
        "incomeCents": income,
        "spentCents": spent,
        "committedCents": committed,
        "availableCents": allocated + income - spent - committed,
        "saldoCents": allocated + income - spent,
    }


def balances(
    db: ReadDB,
    *,
    parties: Collection[str] | None,
    year: int | None = None,
    budget: str | None = None,
    as_of: str | None = None,
) -> list[dict[str, Any]]:
    """One row per budget line with a sub-budget, and one `subBudget: None` total row
    per budget (the sum of all its lines), ordered by party, year, budget."""
    where, params = _in("party", parties)
    if year is not None:
        where += " AND year = ?"
        params.append(year)
    if budget is not None:
        where += " AND budget = ?"
        params.append(budget)
    sums = ", ".join(f"SUM({a})" for a in _AMOUNTS)
    if as_of is None:
        source = "budget_lines"
    else:
        source = "budget_movements"
        where += " AND recorded_at <= ?"
        params.append(as_of)
    sql = (
        f"SELECT party, year, budget, sub_budget, {sums} FROM {source} WHERE 1 = 1{where} "
        "GROUP BY party, year, budget, sub_budget ORDER BY party, year, budget, sub_budget"
    )
    with db.transaction() as cur:
        lines = cur.execute(sql, params).fetchall()
    out: list[dict[str, Any]] = []
    totals: dict[tuple[str, int, str], list[int]] = {}
    subs: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for party, yr, bud, sub, *amounts in lines:
        key = (party, yr, bud)
        total = totals.setdefault(key, [0, 0, 0, 0])
        for i, a in enumerate(amounts):
            total[i] += int(a)
        if sub:
            subs.setdefault(key, []).append(_balance_row(party, yr, bud, sub, tuple(amounts)))
    for key, total in totals.items():
        out.append(_balance_row(*key, None, tuple(total)))
        out.extend(subs.get(key, []))
    return out


def reserves(
    db: ReadDB, *, parties: Collection[str] | None, year: int | None = None, as_of: str | None = None
) -> list[dict[str, Any]]:
    """Each reserve's balance at the end of `year` by effective date (or now), with what
    was added to and withdrawn from it during that year (or ever)."""
    where, params = _in("r.party", parties)
    end = f"{year}-12-31" if year is not None else "9999-12-31"
    start = f"{year}-01-01" if year is not None else "0000-01-01"
    recorded = ""
    if as_of is not None:
        recorded = " AND m.recorded_at <= ?"
    sql = (
        "SELECT r.party, r.reserve, r.purpose, r.revolving, "
        "COALESCE(SUM(CASE WHEN m.effective_date <= ? THEN m.added - m.withdrawn ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN m.effective_date BETWEEN ? AND ? THEN m.added ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN m.effective_date BETWEEN ? AND ? THEN m.withdrawn ELSE 0 END), 0), "
        "COALESCE(SUM(m.reflux), 0) "
        f"FROM reserves r LEFT JOIN reserve_movements m ON m.party = r.party AND m.reserve = r.reserve{recorded} "
        f"WHERE r.established <= ?{where} GROUP BY r.party, r.reserve, r.purpose, r.revolving "
        "ORDER BY r.party, r.reserve"
    )
    head = [end, start, end, start, end] + ([as_of] if as_of is not None else [])
    with db.transaction() as cur:
        rows = cur.execute(sql, [*head, end, *params]).fetchall()
        if as_of is not None:  # a reserve established after as_of was not known then
            known = {
                (p, r)
                for p, r in cur.execute(
                    "SELECT DISTINCT party, reserve FROM reserve_movements WHERE recorded_at <= ?", (as_of,)
                ).fetchall()
            }
            rows = [row for row in rows if (row[0], row[1]) in known]
    return [
        {
            "party": party,
            "reserve": reserve,
            "purpose": purpose,
            "revolving": bool(revolving),
            "balanceCents": int(balance),
            "addedCents": int(added),
            "withdrawnCents": int(withdrawn),
            "refluxCents": int(reflux),
        }
        for party, reserve, purpose, revolving, balance, added, withdrawn, reflux in rows
    ]


def events(
    db: ReadDB,
    *,
    parties: Collection[str] | None,
    after: int = 0,
    limit: int = 100,
    as_of: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Events after a position, in log order, and how many match in all."""
    where, params = _in("party", parties)
    if as_of is not None:
        where += " AND recorded_at <= ?"
        params.append(as_of)
    with db.transaction() as cur:
        rows = cur.execute(
            f"SELECT body FROM log_events WHERE position > ?{where} ORDER BY position LIMIT ?",
            [after, *params, limit],
        ).fetchall()
        (count,) = cur.execute(f"SELECT COUNT(*) FROM log_events WHERE 1 = 1{where}", params).fetchone() or (0,)
    return [orjson.loads(body) for (body,) in rows], int(count)


def event(db: ReadDB, event_id: str) -> dict[str, Any] | None:
    with db.transaction() as cur:
        row = cur.execute("SELECT body FROM log_events WHERE event_id = ?", (event_id,)).fetchone()
    return None if row is None else orjson.loads(row[0])


def readable_parties(db: ReadDB, party: str) -> set[str]:
    """A party and every organisation it is or was a member of."""
    with db.transaction() as cur:
        rows = cur.execute("SELECT DISTINCT organisation FROM memberships WHERE member = ?", (party,)).fetchall()
    return {party, *(org for (org,) in rows)}

