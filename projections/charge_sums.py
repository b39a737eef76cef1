"""Kept sums of the shared organisations' charges, so that a cost split reads a few rows
per (organisation, year) rather than every charge of it (issue 16).

Why these sums: `split.split` is linear in the cents and rounds once, at the end, so it
depends on a year's charges only through
- the cents of each unit (the total and the units' totals);
- the cents that go by the key, and whether any charge that goes by it is not zero (then
  a key is needed, even when the charges cancel out: a cost and its correction still
  ask for one). Under `solidariteit` every charge goes by the key; under `profijt`
  those without a usage or with one that weighs nobody;
- under `profijt`, each member's exact share of the charges with a usage: the sum of
  cents x its usage / the usage's total. A member named in such a usage is listed even
  when its share is nothing, as the split lists it.
`split_year` puts the split's exact shares together from these and settles them with the
split's own `settle` (the key's part, the rounding), so every field of the answer is the item-by-item split's
(tests/test_cost_split_sums.py holds it to that split, which as-of reads still take).

The shares are fractions kept reduced, so a row is the same however the log was cut
into batches: a rebuild writes what following the log wrote. They are stored as
hexadecimal numerator and denominator: a year of hundreds of usages has a denominator
of a thousand digits and more, and Python refuses decimal conversions of integers past
4,300 digits (hexadecimal ones have no limit and take linear time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

import orjson

from ledger import split
from projections.db import Cursor, ReadDB

_ADD_UNITS = (
    "INSERT INTO organisation_charge_sums VALUES (?,?,?,?,?,?,?) ON CONFLICT (organisation, year, unit) "
    "DO UPDATE SET cents = organisation_charge_sums.cents + excluded.cents, "
    "nonzero = organisation_charge_sums.nonzero + excluded.nonzero, "
    "profijt_key_cents = organisation_charge_sums.profijt_key_cents + excluded.profijt_key_cents, "
    "profijt_key_nonzero = organisation_charge_sums.profijt_key_nonzero + excluded.profijt_key_nonzero"
)
_PUT_SHARES = (
    "INSERT INTO organisation_profijt_shares VALUES (?,?,?,?,?) ON CONFLICT (organisation, year, member) "
    "DO UPDATE SET numerator = excluded.numerator, denominator = excluded.denominator"
)
_SHARES = "SELECT member, numerator, denominator FROM organisation_profijt_shares WHERE organisation = ? AND year = ?"


def _fraction(numerator: str, denominator: str) -> Fraction:
    return Fraction(int(numerator, 16), int(denominator, 16))


def add(cur: Cursor, charges: Iterable[tuple[Any, ...]]) -> None:
    """Add a batch of `organisation_charges` rows, as `apply_events` writes them, to the sums."""
    units: dict[tuple[str, int, str], list[int]] = {}  # cents, non-zero, by the key under profijt: cents, non-zero
    # per (organisation, year): usage total -> member -> cents x usage, in whole numbers
    by_usage: dict[tuple[str, int], dict[int, dict[str, int]]] = {}
    for _, organisation, year, unit, _, cents, usage in charges:
        sums = units.setdefault((organisation, year, unit), [0, 0, 0, 0])
        sums[0] += cents
        sums[1] += cents != 0
        whole = split.whole_usage(orjson.loads(usage).items()) if usage else {}
        total = sum(whole.values())
        if total == 0:  # no usage, or one that weighs nobody: by the key
            sums[2] += cents
            sums[3] += cents != 0
            continue
        by_member = by_usage.setdefault((organisation, year), {}).setdefault(total, {})
        for member, weight in whole.items():
            by_member[member] = by_member.get(member, 0) + cents * weight
    if units:
        cur.executemany(_ADD_UNITS, [(*group, *sums) for group, sums in units.items()])
    for (organisation, year), by_total in by_usage.items():
        shares = split.usage_shares(by_total)
        for member, numerator, denominator in cur.execute(_SHARES, (organisation, year)).fetchall():
            if member in shares:
                shares[member] += _fraction(numerator, denominator)
        cur.executemany(
            _PUT_SHARES,
            [(organisation, year, m, format(s.numerator, "x"), format(s.denominator, "x")) for m, s in shares.items()],
        )


def split_year(
    db: ReadDB,
    organisation: str,
    year: int,
    key: split.Key | None,
    memberships: Mapping[str, Iterable[tuple[str, str | None]]],
    policy: str,
) -> tuple[int, list[split.Share], dict[str, int]]:
    """What `split.split` gives for the year's charges (the total and the shares), from
    the kept sums, and each unit's total; raise `split.NoKey` when it would."""
    with db.transaction() as cur:
        rows = cur.execute(
            "SELECT unit, cents, nonzero, profijt_key_cents, profijt_key_nonzero FROM organisation_charge_sums "
            "WHERE organisation = ? AND year = ?",
            (organisation, year),
        ).fetchall()
        usage = cur.execute(_SHARES, (organisation, year)).fetchall() if policy == "profijt" else []
    units = {unit: int(cents) for unit, cents, *_ in rows}
    total = sum(units.values())
    if policy == "profijt":
        by_key, nonzero = sum(int(row[3]) for row in rows), sum(int(row[4]) for row in rows)
    else:
        by_key, nonzero = total, sum(int(row[2]) for row in rows)
    weights = split.key_weights(key, memberships, year) if key is not None else {}
    exact_shares = {party: Fraction(0) for party in weights}
    for member, numerator, denominator in usage:
        exact_shares[member] = exact_shares.get(member, Fraction(0)) + _fraction(numerator, denominator)
    return total, split.settle(total, exact_shares, by_key, nonzero, weights), units
