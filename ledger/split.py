"""Splitting a shared organisation's charge among its members (domain.md section 6).

Pure arithmetic, no storage: the read side hands in the year's items, key and
memberships, and gets shares in whole cents that add up exactly to the total.

- `solidariteit`: the whole net charge is pooled and split by the year's key.
- `profijt`: each item with a usage split is divided by that usage (each member pays
  for its own use); an item without one falls back to the key.
- The key's weights are pro-rated by the days a member belonged to the organisation
  in that year, so a member that joins on 1 July weighs about half.
- Exact shares are kept as fractions and rounded once, by largest remainder
  (Hamilton): every member gets the floor of its exact share, and the cents left over
  go to the largest remainders, ties to the lower party code. A negative total (the
  members receive) is rounded as the mirror image of the positive one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

from ledger.subsidy import exact

POLICIES = ("solidariteit", "profijt")


class NoKey(Exception):
    """The split needs the year's allocation key and there is none (or it weighs nobody)."""


@dataclass(frozen=True)
class Item:
    """One unit's charge to the members in a year (negative: they receive)."""

    unit: str
    cents: int
    usage: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Key:
    """The allocation key in force for a year: the year it was set for, and its terms."""

    year: int
    basis: str
    weights: Mapping[str, Any]
    policy: str


@dataclass(frozen=True)
class Share:
    """A party's part of the split: its cents, the weight they were split by, and the
    key's weight for it (pro-rated by days of membership). Under solidariteit the two
    weights are one; under profijt the amount follows usage, and `weight` is the weight
    that gives it: the party's exact share of the total in the key's units (its share of
    the key's total weight), or, with no key that weighs anybody, its share of the total."""

    party: str
    weight: Fraction
    cents: int
    key_weight: Fraction


def hamilton(total: int, exact_shares: Mapping[str, Fraction]) -> dict[str, int]:
    """Round exact shares (summing to `total`) to whole cents that sum to `total` exactly."""
    if total < 0:
        return {party: -cents for party, cents in hamilton(-total, {p: -s for p, s in exact_shares.items()}).items()}
    floors = {party: share.numerator // share.denominator for party, share in exact_shares.items()}
    left = total - sum(floors.values())
    by_remainder = sorted(exact_shares, key=lambda p: (-(exact_shares[p] - floors[p]), p))
    for party in by_remainder[:left]:
        floors[party] += 1
    return floors


def membership_days(periods: Iterable[tuple[str, str | None]], year: int) -> int:
    """Days of `year` within the membership periods [joined, left)."""
    first, after = date(year, 1, 1), date(year + 1, 1, 1)
    days = 0
    for joined, left in periods:
        start = max(first, date.fromisoformat(joined))
        end = min(after, date.fromisoformat(left)) if left is not None else after
        days += max(0, (end - start).days)
    return days


def key_weights(key: Key, memberships: Mapping[str, Iterable[tuple[str, str | None]]], year: int) -> dict[str, Fraction]:
    """The key's weights pro-rated by days of membership in `year`."""
    days_in_year = (date(year + 1, 1, 1) - date(year, 1, 1)).days
    return {
        party: exact(weight) * membership_days(memberships.get(party, ()), year) / days_in_year
        for party, weight in key.weights.items()
    }


def _by_weights(cents: int, weights: Mapping[str, Fraction]) -> dict[str, Fraction] | None:
    total = sum(weights.values(), Fraction(0))
    if total == 0:
        return None
    return {party: cents * w / total for party, w in weights.items()}


def whole_usage(usage: Iterable[tuple[str, Any]]) -> dict[str, int]:
    """A usage's exact values scaled by one common factor to whole numbers (a split by
    them is the same split)."""
    values = {party: exact(u) for party, u in usage}
    scale = math.lcm(*(v.denominator for v in values.values()))
    return {party: v.numerator * (scale // v.denominator) for party, v in values.items()}


def usage_shares(over: Mapping[int, Mapping[str, int]]) -> dict[str, Fraction]:
    """Each party's exact share from its cents x usage summed per usage total (`over`):
    over all totals at once, in whole numbers over their least common multiple."""
    common = math.lcm(*over)
    numerators: dict[str, int] = {}
    for total_usage, sums in over.items():
        factor = common // total_usage
        for party, numerator in sums.items():
            numerators[party] = numerators.get(party, 0) + numerator * factor
    return {party: Fraction(numerator, common) for party, numerator in numerators.items()}


def settle(
    total: int, exact_shares: dict[str, Fraction], by_key: int, by_key_nonzero: int, weights: Mapping[str, Fraction]
) -> list[Share]:
    """The shares in whole cents: `exact_shares` (every weighed party's among them) plus
    the `by_key` cents split by the key's weights, rounded once; raise `NoKey` when
    a charge that is not nothing must go by a key that weighs nobody."""
    parts = _by_weights(by_key, weights)
    if parts is None and by_key_nonzero:
        raise NoKey("no allocation key with a positive weight for a member in this year")
    for party, share in (parts or {}).items():
        exact_shares[party] += share
    cents = hamilton(total, exact_shares)
    key_total = sum(weights.values(), Fraction(0))

    def split_weight(party: str) -> Fraction:
        if total == 0:  # nothing was split: by the key, as it would be
            return weights.get(party, Fraction(0))
        return exact_shares[party] / total * (key_total or 1)

    return [Share(party, split_weight(party), cents[party], weights.get(party, Fraction(0)))
            for party in sorted(exact_shares)]


def split(
    items: Iterable[Item],
    key: Key | None,
    memberships: Mapping[str, Iterable[tuple[str, str | None]]],
    year: int,
    policy: str,
) -> tuple[int, list[Share]]:
    """The total charge and each party's share of it under `policy`; raise `NoKey`
    when an amount must go by a key that is missing or weighs nobody."""
    weights = key_weights(key, memberships, year) if key is not None else {}
    # A split is linear in the cents, so the items that go by the same weights are
    # summed first (exactly: the rounding is once, at the end): a year of thousands of
    # items costs a few Fraction sums, not thousands.
    total = 0
    by_usage: dict[tuple[tuple[str, Any], ...], list[int]] = {}  # usage -> [cents, nonzero items]
    by_key = [0, 0]
    for item in items:
        total += item.cents
        group = by_usage.setdefault(tuple(sorted(item.usage.items())), [0, 0]) if (
            policy == "profijt" and item.usage) else by_key
        group[0] += item.cents
        group[1] += item.cents != 0
    # Each usage's shares in whole numbers over the usage's total; usages with the same
    # total add up as integers (Fractions one per item took 25 ms for 340 usages)...
    over: dict[int, dict[str, int]] = {}  # usage total -> party -> cents x usage, summed
    for usage, (cents, nonzero) in by_usage.items():
        scaled = whole_usage(usage)
        total_usage = sum(scaled.values())
        if total_usage == 0:  # a usage that weighs nobody: by the key instead
            by_key[0] += cents
            by_key[1] += nonzero
            continue
        sums = over.setdefault(total_usage, {})
        for party, units in scaled.items():
            sums[party] = sums.get(party, 0) + cents * units
    # ... and over all totals at once.
    exact_shares: dict[str, Fraction] = {party: Fraction(0) for party in weights}
    for party, share in usage_shares(over).items():
        exact_shares[party] = exact_shares.get(party, Fraction(0)) + share
    return total, settle(total, exact_shares, by_key[0], by_key[1], weights)
