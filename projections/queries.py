"""Reads over the read model: balances, reserves, the log, parties, cost splits, winst,
KPIs and the journal.

Every read takes an optional `as_of` (an RFC 3339 instant, normalised to the fixed
width the ledger stamps): the answer as the ledger knew it then, summed from the
movements recorded up to that instant. Without it, current figures are read from
the current-state table.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from fractions import Fraction
from typing import Any

import orjson

from ledger import split
from ledger.book import placement_measure
from ledger.subsidy import exact
from projections import charge_sums
from projections.db import Cursor, ReadDB
from projections.scope import Scope, Years, covers, last_year, where as in_scope, years_of

_LINE_SUMS = ("allocated", "income", "spent", "committed", "amended", "incidental")


def recorded_by(column: str, as_of: str | None) -> tuple[str, list[Any]]:
    """A filter to what was recorded by `as_of`, or nothing without it."""
    return ("", []) if as_of is None else (f" AND {column} <= ?", [as_of])


def _balance_row(
    party: str, year: int, budget: str, sub: str | None, amounts: Sequence[int], voorlopig: bool
) -> dict[str, Any]:
    allocated, income, spent, committed, amended, incidental = (int(a) for a in amounts)
    saldo = allocated + income - spent
    return {
        "party": party,
        "year": year,
        "budget": budget,
        "subBudget": sub,
        "allocatedCents": allocated,
        "incomeCents": income,
        "spentCents": spent,
        "committedCents": committed,
        "availableCents": saldo - committed,
        "saldoCents": saldo,
        "primitiveCents": allocated - amended,
        "amendmentsCents": amended,
        "structuralSaldoCents": saldo - incidental,
        "status": "voorlopig" if voorlopig else "definitief",
    }


def balances(
    db: ReadDB,
    *,
    parties: Scope,
    year: int | None = None,
    from_year: int | None = None,
    to_year: int | None = None,
    budget: str | None = None,
    as_of: str | None = None,
) -> list[dict[str, Any]]:
    """One row per budget line with a sub-budget, and one `subBudget: None` total row
    per budget (the sum of all its lines, voorlopig if any of them is), ordered by
    party, year, budget; in `year`, or the years `from_year` to `to_year`."""
    where, params = in_scope(parties)
    for clause, value in ((" AND year = ?", year), (" AND year >= ?", from_year), (" AND year <= ?", to_year)):
        if value is not None:
            where += clause
            params.append(value)
    if budget is not None:
        where += " AND budget = ?"
        params.append(budget)
    sums = ", ".join(f"SUM({a})" for a in _LINE_SUMS)
    key = "party, year, budget, sub_budget"
    with db.transaction() as cur:
        if as_of is None:  # one row per line, holding its latest allocation's status
            rows = cur.execute(
                f"SELECT {key}, {sums}, MAX(voorlopig) FROM budget_lines WHERE 1 = 1{where} GROUP BY {key} ORDER BY {key}",
                params,
            ).fetchall()
            lines = [(row[:-1], bool(row[-1])) for row in rows]
        else:  # the movements recorded by then; a line's status is its latest allocation's, by position
            where += " AND recorded_at <= ?"
            params.append(as_of)
            rows = cur.execute(
                f"SELECT {key}, {sums} FROM budget_movements WHERE 1 = 1{where} GROUP BY {key} ORDER BY {key}", params
            ).fetchall()
            allocations = cur.execute(
                f"SELECT {key}, voorlopig FROM budget_movements WHERE voorlopig IS NOT NULL{where} ORDER BY position",
                params,
            ).fetchall()
            latest = {tuple(a[:4]): bool(a[4]) for a in allocations}
            lines = [(row, latest.get(tuple(row[:4]), False)) for row in rows]
    out: list[dict[str, Any]] = []
    totals: dict[tuple[str, int, str], list[Any]] = {}
    subs: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for (party, yr, bud, sub, *amounts), line_voorlopig in lines:
        key3 = (party, yr, bud)
        total = totals.setdefault(key3, [[0] * len(_LINE_SUMS), False])
        for i, a in enumerate(amounts):
            total[0][i] += int(a)
        total[1] = total[1] or line_voorlopig
        if sub:
            subs.setdefault(key3, []).append(_balance_row(party, yr, bud, sub, amounts, line_voorlopig))
    for key3, (total_amounts, total_voorlopig) in totals.items():
        out.append(_balance_row(*key3, None, total_amounts, total_voorlopig))
        out.extend(subs.get(key3, []))
    return out


def _reserves(db: ReadDB, parties: Collection[str] | None, start: str, end: str, as_of: str | None) -> list[tuple[Any, ...]]:
    """The reserves of `parties` (all if None) at `end`, with their movements from `start`."""
    where, params = in_scope(parties, party="r.party")
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
    return rows


def _reserve_ends(scope: Mapping[str, Years | None], year: int | None) -> dict[str, list[str]]:
    """The parties of `scope` by the last effective date a reserves read covers of them."""
    ends: dict[str, list[str]] = {}
    for party, years in scope.items():
        if year is not None and not covers(years, year):
            continue
        last = year if year is not None else last_year(years)
        ends.setdefault("9999-12-31" if last is None else f"{last}-12-31", []).append(party)
    return ends


def reserves(db: ReadDB, *, parties: Scope, year: int | None = None, as_of: str | None = None) -> list[dict[str, Any]]:
    """Each reserve's balance at the end of `year` by effective date (or now), with what
    was added to and withdrawn from it during that year (or ever). A party read for some
    years only is read for `year` if it is one of them; without `year`, as at the end of
    the last of them (nothing after it)."""
    start = f"{year}-01-01" if year is not None else "0000-01-01"
    ends: Mapping[str, Collection[str] | None]  # the last effective date a read covers: its parties
    if isinstance(parties, Mapping):
        ends = _reserve_ends(parties, year)
    else:
        ends = {f"{year}-12-31" if year is not None else "9999-12-31": parties}
    rows = sorted(row for end, group in ends.items() for row in _reserves(db, group, start, end, as_of))
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


def commitments(db: ReadDB, *, parties: Scope, year: int | None = None, as_of: str | None = None) -> list[dict[str, Any]]:
    """Each commitment (verplichting) of `parties` registered in `year` (or any), with
    what was registered, used by costs and released, and what is open, as recorded by
    `as_of`; ordered by party, year and id. Its line and category are its registration's."""
    where, params = in_scope(parties, party="r.party", year="r.year")
    if year is not None:
        where += " AND r.year = ?"
        params.append(year)
    moved, moved_params = recorded_by("m.recorded_at", as_of)
    registered, registered_params = recorded_by("r.recorded_at", as_of)
    line = "r.party, r.year, r.commitment_id, r.budget, r.sub_budget, r.category"
    with db.transaction() as cur:
        rows = cur.execute(
            f"SELECT {line}, SUM(m.registered), SUM(m.used), SUM(m.released) FROM commitment_movements r "
            f"JOIN commitment_movements m ON m.party = r.party AND m.commitment_id = r.commitment_id{moved} "
            f"WHERE r.registered > 0{where}{registered} GROUP BY {line} ORDER BY r.party, r.year, r.commitment_id",
            [*moved_params, *params, *registered_params],
        ).fetchall()
    return [
        {"party": party, "year": yr, "commitmentId": cid, "budget": budget, "subBudget": sub or None,
         "category": category, "registeredCents": int(registered_cents), "usedCents": int(used),
         "releasedCents": int(released), "openCents": int(registered_cents) - int(used) - int(released)}
        for party, yr, cid, budget, sub, category, registered_cents, used, released in rows
    ]


def runway(db: ReadDB, party: str, reserve: str, years: Years | None, as_of: str | None = None) -> dict[str, Any] | None:
    """A reserve's years from its first movement to its last dated one (planned, future
    dated withdrawals too): opening, added, withdrawn, closing, by effective date, and
    `emptyAt`, the first year it closes at 0. The establishing year opens with the
    opening balance. A reader of some years only sees those, as at the end of the last
    (None: no such reserve, or not known then)."""
    recorded, params = recorded_by("m.recorded_at", as_of)
    last = last_year(years)
    if last is not None:
        recorded += " AND m.effective_date <= ?"
        params.append(f"{last}-12-31")
    with db.transaction() as cur:
        rows = cur.execute(
            "SELECT CAST(SUBSTR(m.effective_date, 1, 4) AS INTEGER) AS y, "
            "SUM(CASE WHEN e.type = 'ReserveEstablished' THEN m.added ELSE 0 END), "
            "SUM(CASE WHEN e.type = 'ReserveEstablished' THEN 0 ELSE m.added END), SUM(m.withdrawn) "
            "FROM reserve_movements m JOIN log_events e ON e.position = m.position "
            f"WHERE m.party = ? AND m.reserve = ?{recorded} GROUP BY y ORDER BY y",
            [party, reserve, *params],
        ).fetchall()
    if not rows:
        return None
    moved = {int(y): (int(opening), int(added), int(withdrawn)) for y, opening, added, withdrawn in rows}
    out, balance, empty_at = [], 0, None
    for year in range(min(moved), max(moved) + 1):
        opening, added, withdrawn = moved.get(year, (0, 0, 0))
        start = balance + opening
        balance = start + added - withdrawn
        if covers(years, year):
            out.append({"year": year, "openingCents": start, "addedCents": added, "withdrawnCents": withdrawn,
                        "closingCents": balance})
            if balance == 0 and empty_at is None:
                empty_at = year
    return {"party": party, "reserve": reserve, "years": out, "emptyAt": empty_at}


def events(
    db: ReadDB,
    *,
    parties: Scope,
    after: int = 0,
    limit: int = 100,
    as_of: str | None = None,
    client: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Events after a position, in log order, and how many match in all; with `client`
    only those naming that pseudonym as their clientRef."""
    where, params = in_scope(parties)
    recorded, known = recorded_by("recorded_at", as_of)
    where, params = where + recorded, params + known
    if client is not None:
        where, params = where + " AND client_ref = ?", [*params, client]
    with db.transaction() as cur:
        rows = cur.execute(
            f"SELECT body FROM log_events WHERE position > ?{where} ORDER BY position LIMIT ?",
            [after, *params, limit],
        ).fetchall()
        (count,) = cur.execute(f"SELECT COUNT(*) FROM log_events WHERE 1 = 1{where}", params).fetchone() or (0,)
    return [orjson.loads(body) for (body,) in rows], int(count)


def event(db: ReadDB, event_id: str, as_of: str | None = None) -> dict[str, Any] | None:
    """One event, or None when there is none (or none was recorded by `as_of`)."""
    where, params = recorded_by("recorded_at", as_of)
    with db.transaction() as cur:
        row = cur.execute(f"SELECT body FROM log_events WHERE event_id = ?{where}", [event_id, *params]).fetchone()
    return None if row is None else orjson.loads(row[0])


def parties(db: ReadDB, *, parties: Scope, as_of: str | None = None) -> list[dict[str, Any]]:
    """The registered parties a read covers, by code: name, kind, fund holder, an
    organisation's members (as known at `as_of`; none for a gemeente) and the years its
    events fall in that the read covers (what a controller picks from). Every row has the
    same fields, so it is a table as CSV or a spreadsheet too."""
    where, params = in_scope(None if parties is None else list(parties), party="code")
    with db.transaction() as cur:
        rows = cur.execute(
            f"SELECT code, name, kind, fund_holder, cbs_number FROM parties WHERE 1 = 1{where} ORDER BY code", params
        ).fetchall()
    out = []
    for code, name, kind, fund_holder, cbs_number in rows:
        if as_of is not None and party_kind(db, code, as_of) is None:
            continue
        members = sorted(memberships(db, code, as_of)) if kind == "organisation" else []
        readable = years_of(parties, code)
        out.append({"code": code, "name": name, "kind": kind, "fundHolder": fund_holder, "cbsNumber": cbs_number,
                    "members": members,
                    "years": [y for y in years(db, code, as_of) if covers(readable, y)],
                    "closedYears": [y for y in closed_years(db, code, as_of) if covers(readable, y)]})
    return out


def closed_years(db: ReadDB, party: str, as_of: str | None = None) -> list[int]:
    """The years a party has closed (at `as_of`): a YearClosed not undone by a later
    YearReopened. Now from the pairs the projector keeps for Iv3 (projections/iv3_sums.py),
    as of an instant from the log's closings and reopenings."""
    with db.transaction() as cur:
        if as_of is None:
            rows = cur.execute("SELECT year FROM iv3_closed WHERE party = ?", (party,)).fetchall()
            return sorted(int(y) for (y,) in rows)
        where, params = recorded_by("recorded_at", as_of)
        moves = cur.execute(
            f"SELECT year, type FROM log_events WHERE party = ? AND type IN ('YearClosed', 'YearReopened'){where} "
            "ORDER BY position",
            [party, *params],
        ).fetchall()
    closed: dict[int, bool] = {}
    for year, kind in moves:
        closed[int(year)] = kind == "YearClosed"
    return sorted(y for y, shut in closed.items() if shut)


def years(db: ReadDB, party: str, as_of: str | None = None) -> list[int]:
    """The years a party's events fall in: one index seek per year (log_events_party_year),
    not a walk over its whole log. An erasure (ClientErased) is dated the day it was
    done and moves no figure: it makes no year a budget year."""
    where, params = recorded_by("recorded_at", as_of)
    found: list[int] = []
    with db.transaction() as cur:
        while True:
            row = cur.execute(
                f"SELECT MIN(year) FROM log_events WHERE party = ? AND year > ? AND type <> 'ClientErased'{where}",
                [party, found[-1] if found else -1, *params],
            ).fetchone()
            if row is None or row[0] is None:
                return found
            found.append(int(row[0]))


# --- shared organisations ---------------------------------------------------------


def party_identity(db: ReadDB, code: str, as_of: str | None = None) -> dict[str, Any] | None:
    """A registered party's kind, name and CBS number (known at `as_of`): its
    registrations and PartyUpdated events in log order, the later winning; None when
    it is not registered (then). A party has a handful of these events."""
    where, params = recorded_by("recorded_at", as_of)
    # One index seek per type (log_events_party_type): with `type IN (...)` the planners
    # walked the party's whole log backwards, a shared organisation's thousands of
    # charges (PostgreSQL: 38 ms at the median of a cost-split read).
    types = ("PartyRegistered", "OrganisationRegistered", "PartyUpdated")
    with db.transaction() as cur:
        rows = [
            row
            for kind in types
            for row in cur.execute(
                f"SELECT position, body FROM log_events WHERE party = ? AND type = ?{where}", [code, kind, *params]
            ).fetchall()
        ]
    identity: dict[str, Any] = {}
    for _, body in sorted(rows):
        event = orjson.loads(body)
        data = event["data"]
        if event["type"] != "PartyUpdated":
            identity["kind"] = "organisation" if event["type"] == "OrganisationRegistered" else data["kind"]
        identity.update({k: data[k] for k in ("name", "cbsNumber") if k in data})
    return identity if "kind" in identity else None


def party_kind(db: ReadDB, code: str, as_of: str | None = None) -> str | None:
    """'gemeente' or 'organisation' for a registered party (known at `as_of`), else None."""
    identity = party_identity(db, code, as_of)
    return None if identity is None else str(identity["kind"])


def memberships(db: ReadDB, organisation: str, as_of: str | None = None) -> dict[str, list[tuple[str, str | None]]]:
    """Each member's periods [joined, left) as known at `as_of`."""
    with db.transaction() as cur:
        rows = cur.execute(
            "SELECT member, joined, left_on, joined_recorded, left_recorded FROM memberships "
            "WHERE organisation = ? ORDER BY member, joined",
            (organisation,),
        ).fetchall()
    out: dict[str, list[tuple[str, str | None]]] = {}
    for member, joined, left, joined_at, left_at in rows:
        if as_of is not None and joined_at > as_of:
            continue
        known_left = left if as_of is None or (left_at is not None and left_at <= as_of) else None
        out.setdefault(member, []).append((joined, known_left))
    return out


def allocation_key(db: ReadDB, organisation: str, year: int, as_of: str | None = None) -> split.Key | None:
    """The key in force for `year`: the latest one set for it or, failing that, for the
    nearest earlier year (a key holds until a later year sets a new one)."""
    where, params = recorded_by("recorded_at", as_of)
    with db.transaction() as cur:
        row = cur.execute(
            f"SELECT year, basis, weights, policy FROM allocation_keys WHERE organisation = ? AND year <= ?{where} "
            "ORDER BY year DESC, position DESC LIMIT 1",
            [organisation, year, *params],
        ).fetchone()
    if row is None:
        return None
    return split.Key(year=row[0], basis=row[1], weights=orjson.loads(row[2]), policy=row[3])


def organisation_charges(db: ReadDB, organisation: str, year: int, as_of: str | None = None) -> list[split.Item]:
    where, params = recorded_by("recorded_at", as_of)
    with db.transaction() as cur:
        rows = cur.execute(
            f"SELECT unit, cents, usage FROM organisation_charges WHERE organisation = ? AND year = ?{where} "
            "ORDER BY position",
            [organisation, year, *params],
        ).fetchall()
    return [split.Item(unit, int(cents), orjson.loads(usage) if usage else None) for unit, cents, usage in rows]


def _shares(shares: list[split.Share]) -> list[dict[str, Any]]:
    return [{"party": s.party, "weight": round(float(s.weight), 6), "keyWeight": round(float(s.key_weight), 6),
             "amountCents": s.cents} for s in shares]


def cost_split(
    db: ReadDB, organisation: str, year: int, policy: str | None = None, as_of: str | None = None
) -> dict[str, Any]:
    """The organisation's net charge to its members for `year`, split under `policy`
    (default: the policy of the year's key). Raises `split.NoKey`. Current figures come
    from kept sums, a few rows however many charges the year holds; as-of ones from the
    charges recorded by then."""
    key = allocation_key(db, organisation, year, as_of)
    if policy is None:
        if key is None:
            raise split.NoKey(f"{organisation} has no allocation key for {year}")
        policy = key.policy
    members = memberships(db, organisation, as_of)
    if as_of is None:  # from the sums the projector keeps (projections/charge_sums.py)
        total, shares, units = charge_sums.split_year(db, organisation, year, key, members, policy)
    else:  # what was recorded by then: charge by charge
        items = organisation_charges(db, organisation, year, as_of)
        total, shares = split.split(items, key, members, year, policy)
        units = {}
        for item in items:
            units[item.unit] = units.get(item.unit, 0) + item.cents
    return {
        "organisation": organisation,
        "year": year,
        "policy": policy,
        "basis": key.basis if key else None,
        "keyYear": key.year if key else None,
        "totalCents": total,
        "shares": _settled(_shares(shares), _contributions(db, organisation, year, as_of)),
        "units": [{"unit": u, "totalCents": c} for u, c in sorted(units.items())],
    }


def _contributions(db: ReadDB, organisation: str, year: int, as_of: str | None) -> dict[str, tuple[int, int]]:
    """Per member, the advances invoiced and paid for `year` (as recorded by `as_of`)."""
    recorded, params = recorded_by("recorded_at", as_of)
    with db.transaction() as cur:
        rows = cur.execute(
            f"SELECT member, SUM(invoiced), SUM(paid) FROM contributions WHERE organisation = ? AND year = ?{recorded} "
            "GROUP BY member",
            [organisation, year, *params],
        ).fetchall()
    return {member: (int(invoiced), int(paid)) for member, invoiced, paid in rows}


def _settled(shares: list[dict[str, Any]], contributions: dict[str, tuple[int, int]]) -> list[dict[str, Any]]:
    """Each share with what its member was invoiced and paid, and the settlement: its share
    less what it paid (positive: it owes more; negative: it gets money back). A member
    that paid without a share (a key that leaves it out) shows with a share of 0."""
    shown = {s["party"] for s in shares}
    shares = shares + [{"party": m, "weight": 0, "keyWeight": 0, "amountCents": 0}
                       for m in sorted(contributions) if m not in shown]
    for share in shares:
        invoiced, paid = contributions.get(share["party"], (0, 0))
        share.update(invoicedCents=invoiced, paidCents=paid, settlementCents=share["amountCents"] - paid)
    return shares


# --- winst ---------------------------------------------------------------------------


def winst(
    db: ReadDB,
    party: str,
    year: int | None = None,
    policy: str | None = None,
    as_of: str | None = None,
    years: Years | None = None,
) -> dict[str, Any]:
    """Winst realised per source and reinvested per destination in `year` (or ever: in the
    `years` the read covers), what earlier years carried over, and what is left
    unappropriated. For an organisation,
    who benefits: under `solidariteit` the winst is pooled and shared by the key, under
    `profijt` it goes back to the member whose clients earned it."""
    where, params = recorded_by("recorded_at", as_of)
    with db.transaction() as cur:
        rows = cur.execute(
            f"SELECT year, source, destination, member, realised, reinvested FROM winst_movements WHERE party = ?{where}",
            [party, *params],
        ).fetchall()
    by_source: dict[str, int] = {}
    by_destination: dict[str, int] = {}
    realised = reinvested = carried = 0
    earned: list[split.Item] = []
    for yr, source, destination, member, got, spent in rows:
        if year is None and not covers(years, yr):
            continue
        if year is not None and yr < year:
            carried += int(got) - int(spent)
            continue
        if year is not None and yr > year:
            continue
        realised += int(got)
        reinvested += int(spent)
        if source:
            by_source[source] = by_source.get(source, 0) + int(got)
            earned.append(split.Item(source, int(got), {member: 1} if member else None))
        if destination:
            by_destination[destination] = by_destination.get(destination, 0) + int(spent)
    out: dict[str, Any] = {
        "party": party,
        "year": year,
        "realisedCents": realised,
        "reinvestedCents": reinvested,
        "carriedOverCents": carried,
        "unappropriatedCents": carried + realised - reinvested,
        "bySource": dict(sorted(by_source.items())),
        "byDestination": dict(sorted(by_destination.items())),
    }
    if year is not None and party_kind(db, party, as_of) == "organisation":
        key = allocation_key(db, party, year, as_of)
        policy = policy or (key.policy if key else "profijt")
        out["policy"] = policy
        try:
            _, shares = split.split(earned, key, memberships(db, party, as_of), year, policy)
            out["byMember"] = _shares(shares)
        except split.NoKey:
            out["byMember"] = None  # winst to pool, but no key to share it by yet
    return out


# --- KPIs --------------------------------------------------------------------------


def _number(value: Fraction) -> int | float:
    """An exact sum as a JSON number: whole as an integer, else the nearest float (0.1 + 0.2 + 0.3 is 0.6)."""
    return value.numerator if value.denominator == 1 else float(value)


def _placement_counts(cur: Cursor, party: str, first: str, last: str, as_of: str | None) -> list[tuple[Any, ...]]:
    """Per kind and hours a week, how many of the party's placements (known at `as_of`)
    started and ended in [first, last], and were active on `last` (started by then and not
    yet ended: the end date is the first day out). Counted in SQL, so a read decodes one
    row per distinct hours value, not every placement; an end recorded after `as_of` was
    not known then."""
    known_end = "ended" if as_of is None else "CASE WHEN ended_recorded <= ? THEN ended END"
    recorded, known = recorded_by("started_recorded", as_of)
    inner = f"SELECT kind, hours, started, {known_end} AS ended FROM placements WHERE party = ?{recorded}"
    sql = (
        "SELECT kind, hours, SUM(CASE WHEN started BETWEEN ? AND ? THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN ended BETWEEN ? AND ? THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN started <= ? AND (ended IS NULL OR ended > ?) THEN 1 ELSE 0 END) "
        f"FROM ({inner}) p GROUP BY kind, hours"
    )
    return cur.execute(sql, [first, last, first, last, last, last, *known, party, *known]).fetchall()


def _active_grants(cur: Cursor, party: str, first: str, last: str, as_of: str | None) -> int:
    """How many of the party's grants (known at `as_of`) ran for part of [first, last]:
    started by `last`, and neither their end date nor their ending (if known then)
    before `first`."""
    recorded, known = recorded_by("granted_recorded", as_of)
    unknown_end = "" if as_of is None else " OR ended_recorded > ?"
    (count,) = cur.execute(
        "SELECT COUNT(*) FROM subsidies WHERE party = ? AND start_date <= ? AND (end_date IS NULL OR end_date >= ?) "
        f"AND (ended_on IS NULL{unknown_end} OR ended_on >= ?){recorded}",
        [party, last, first, *known, first, *known],
    ).fetchone() or (0,)
    return int(count)


def _committed(cur: Cursor, party: str, year: int, as_of: str | None) -> int:
    """The party's open commitments of `year`: from the current lines, or summed from the
    movements recorded by `as_of`."""
    if as_of is None:
        row = cur.execute("SELECT COALESCE(SUM(committed), 0) FROM budget_lines WHERE party = ? AND year = ?", (party, year))
    else:
        row = cur.execute(
            "SELECT COALESCE(SUM(committed), 0) FROM budget_movements WHERE party = ? AND year = ? AND recorded_at <= ?",
            (party, year, as_of),
        )
    (committed,) = row.fetchone() or (0,)
    return int(committed)


def kpis(db: ReadDB, party: str, year: int, as_of: str | None = None) -> dict[str, Any]:
    """Placements per kind against their targets, banenafspraak jobs, outflow and open
    subsidy commitments of one party in one year (placements as at 31 December)."""
    first, last = f"{year}-01-01", f"{year}-12-31"
    where, params = recorded_by("recorded_at", as_of)
    with db.transaction() as cur:
        placements = _placement_counts(cur, party, first, last, as_of)
        targets = cur.execute(
            f"SELECT kind, places, binding FROM placement_targets WHERE party = ? AND year = ?{where} ORDER BY position",
            [party, year, *params],
        ).fetchall()
        outflows = cur.execute(
            f"SELECT extent, SUM(clients), SUM(avoided) FROM outflows WHERE party = ? AND year = ?{where} GROUP BY extent",
            [party, year, *params],
        ).fetchall()
        committed = _committed(cur, party, year, as_of)
        grants = _active_grants(cur, party, first, last, as_of)
    kinds: dict[str, dict[str, Any]] = {}

    def kind_row(kind: str) -> dict[str, Any]:
        return kinds.setdefault(
            kind, {"kind": kind, "started": 0, "ended": 0, "active": 0, "activeHoursPerWeek": 0, "target": None, "binding": False}
        )

    active_hours: dict[str, Fraction] = {}  # summed exactly: a float sum would depend on the row order
    active_measure: dict[str, Fraction] = {}
    for kind, hours, started, ended, active in placements:
        row = kind_row(kind)
        row["started"] += int(started)
        row["ended"] += int(ended)
        if active:
            row["active"] += int(active)
            per_week = orjson.loads(hours)
            active_hours[kind] = active_hours.get(kind, Fraction(0)) + exact(per_week) * int(active)
            active_measure[kind] = active_measure.get(kind, Fraction(0)) + placement_measure(kind, per_week) * int(active)
    for kind, total in active_hours.items():
        kinds[kind]["activeHoursPerWeek"] = _number(total)
    for kind, places, binding in targets:  # in order: the latest target of a kind holds
        row = kind_row(kind)
        row["target"], row["binding"] = orjson.loads(places), bool(binding)
    clients = {extent: int(n) for extent, n, _ in outflows}
    beschut = kinds.get("beschut-werk")
    return {
        "party": party,
        "year": year,
        "placements": [kinds[k] for k in sorted(kinds)],
        "banenafspraakJobs": round(float(active_measure.get("banenafspraak", 0)), 2),
        "beschutWerk": {
            "places": beschut["active"] if beschut else 0,
            "cap": beschut["target"] if beschut and beschut["binding"] else None,
            "target": beschut["target"] if beschut else None,
        },
        "outflow": {
            "volledig": clients.get("volledig", 0),
            "gedeeltelijk": clients.get("gedeeltelijk", 0),
            "avoidedBenefitCents": sum(int(a) for _, _, a in outflows),
        },
        "subsidies": {"active": grants, "committedCents": committed},
    }


# --- journal -------------------------------------------------------------------------


def trial_balance(
    db: ReadDB, *, parties: Scope, position: int | None = None, as_of: str | None = None
) -> dict[str, Any]:
    """Total debits and credits of the journal (up to `position`, as known at `as_of`),
    and per account when the read covers named parties."""
    where, params = in_scope(parties)
    if position is not None:
        where += " AND position <= ?"
        params.append(position)
    recorded, known = recorded_by("recorded_at", as_of)
    where, params = where + recorded, params + known
    with db.transaction() as cur:
        debit, credit, last = cur.execute(
            f"SELECT COALESCE(SUM(debit), 0), COALESCE(SUM(credit), 0), COALESCE(MAX(position), 0) "
            f"FROM journal WHERE 1 = 1{where}",
            params,
        ).fetchone()  # type: ignore[misc]
        accounts = []
        if parties is not None:
            accounts = cur.execute(
                f"SELECT party, account, SUM(debit), SUM(credit) FROM journal WHERE 1 = 1{where} "
                "GROUP BY party, account ORDER BY party, account",
                params,
            ).fetchall()
    out: dict[str, Any] = {"position": int(last), "debitCents": int(debit), "creditCents": int(credit)}
    if parties is not None:
        out["accounts"] = [
            {"party": p, "account": a, "debitCents": int(d), "creditCents": int(c), "balanceCents": int(d) - int(c)}
            for p, a, d, c in accounts
        ]
    return out


def journal(
    db: ReadDB,
    *,
    party: str,
    year: int | None = None,
    years: Years | None = None,
    as_of: str | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """A party's postings in log order (a page of them, in the `years` the read covers),
    and how many there are in all."""
    where, params = in_scope({party: years})
    if year is not None:
        where, params = where + " AND year = ?", [*params, year]
    recorded, known = recorded_by("recorded_at", as_of)
    where, params = where + recorded, params + known
    page = "" if limit is None else f" LIMIT {int(limit)} OFFSET {int(offset)}"
    with db.transaction() as cur:
        rows = cur.execute(
            f"SELECT position, year, account, debit, credit, recorded_at FROM journal WHERE 1 = 1{where} "
            f"ORDER BY position, account{page}",
            params,
        ).fetchall()
        (count,) = cur.execute(f"SELECT COUNT(*) FROM journal WHERE 1 = 1{where}", params).fetchone() or (0,)
    return [
        {"position": int(pos), "party": party, "year": y, "account": a, "debitCents": int(d), "creditCents": int(c), "recordedAt": at}
        for pos, y, a, d, c, at in rows
    ], int(count)


# A total order of a line's movements (a payment moves a line's spent and its commitment:
# two rows of one position and line): the event's own amounts first, then its commitment
# change. Pages are cut in it, so every page of a trail holds the rows it always did.
# `{m}`: the movements' alias, or none.
_TRAIL_ORDER = (
    "{m}position, {m}sub_budget, CASE WHEN {m}committed = 0 THEN 0 ELSE 1 END, "
    "{m}allocated, {m}income, {m}spent, {m}committed"
)


def _trail_row(position: int, sub: str, allocated: int, income: int, spent: int, committed: int, body: str) -> dict[str, Any]:
    """One movement of a trail, with the event behind it and who posted it when."""
    event = orjson.loads(body)
    return {
        "position": int(position),
        "id": event["id"],
        "type": event["type"],
        "effectiveDate": event["effectiveDate"],
        "reference": event.get("reference"),
        "recordedAt": event["recordedAt"],
        "postedBy": event["postedBy"],
        "subBudget": sub or None,
        "allocatedCents": int(allocated),
        "incomeCents": int(income),
        "spentCents": int(spent),
        "committedCents": int(committed),
    }


def trail(
    db: ReadDB,
    party: str,
    year: int,
    budget: str,
    as_of: str | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Every event behind one budget's figures, in log order (a page of them), and how
    many there are in all: what each moved on which line, and who posted it when, so each
    euro traces back to its postings. Only the page's movements are read and joined to
    their events (a busy line has thousands); the count reads the line's index alone
    (budget_movements_line), and the movements too for an as-of read."""
    where, params = recorded_by("recorded_at", as_of)
    line = f"party = ? AND year = ? AND budget = ?{where}"
    params = [party, year, budget, *params]
    page = "" if limit is None else f" LIMIT {int(limit)} OFFSET {int(offset)}"
    with db.transaction() as cur:
        rows = cur.execute(
            "SELECT m.position, m.sub_budget, m.allocated, m.income, m.spent, m.committed, e.body FROM ("
            "SELECT position, sub_budget, allocated, income, spent, committed FROM budget_movements "
            f"WHERE {line} ORDER BY {_TRAIL_ORDER.format(m='')}{page}"
            f") m JOIN log_events e ON e.position = m.position ORDER BY {_TRAIL_ORDER.format(m='m.')}",
            params,
        ).fetchall()
        (count,) = cur.execute(f"SELECT COUNT(*) FROM budget_movements WHERE {line}", params).fetchone() or (0,)
    return [_trail_row(*row) for row in rows], int(count)

