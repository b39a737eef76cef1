"""Loonkostensubsidie as a commitment: the art. 10d formula and the months it covers.

A grant commits the inkomensdeel (or the budget it names) for every month of its
period, at the monthly amount of Participatiewet art. 10d:

    monthly = min(WML - loonwaarde x WML, cap x WML) x part-time factor x (1 + werkgeverslasten)

with the cap (70 %) and the werkgeverslasten allowance (23.5 %) taken from `RATES`
for the calendar year of the month, so a change in the law is a new row, never a
rewrite of earlier years. The amount is computed exactly and rounded once, half up,
to whole cents per month.

Which months are committed: every calendar month from the month of `startDate`
through the month of `endDate` (the month of a `SubsidyEnded` if earlier). An
open-ended grant is committed through December of the latest year in which its terms
were set (the grant, or a yearly `LoonwaardeMeasured`), so each yearly re-measurement
extends the commitment into its year. A re-measurement changes the amount from the
month of its effective date on. A `SubsidyEnded` dated after that December commits the
months up to its date: the grant ran them, so they are owed.

What stands on a budget line as `committed` for a year is what is planned for that
year less what was paid in it, never below zero: a payment moves committed to spent.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any


@dataclass(frozen=True)
class Rates:
    """Art. 10d parameters for one calendar year, as percentages."""

    cap_pct: Fraction
    werkgeverslasten_pct: Fraction


# year -> the rates from that year on. Sources: Participatiewet art. 10d (cap 70 % of
# WML) and domain.md (werkgeverslasten 23.5 %).
RATES: dict[int, Rates] = {
    2015: Rates(cap_pct=Fraction(70), werkgeverslasten_pct=Fraction("23.5")),
}


def rates_for(year: int) -> Rates:
    """The rates in force in `year`: the latest row at or before it (the first for earlier years)."""
    known = [y for y in RATES if y <= year]
    return RATES[max(known)] if known else RATES[min(RATES)]


@lru_cache(maxsize=65536)
def exact(number: int | float) -> Fraction:
    """A JSON number as the exact decimal the client wrote (0.1 is one tenth, not a binary float)."""
    return Fraction(repr(number)) if isinstance(number, float) else Fraction(number)


@lru_cache(maxsize=4096)
def monthly_cents(wml_cents: int, loonwaarde_pct: int | float, part_time: int | float, year: int) -> int:
    """The art. 10d subsidy for one month in `year`, in whole cents (half up)."""
    rates = rates_for(year)
    wml = Fraction(wml_cents)
    gap = wml - exact(loonwaarde_pct) / 100 * wml
    amount = min(gap, rates.cap_pct / 100 * wml) * exact(part_time) * (1 + rates.werkgeverslasten_pct / 100)
    return int(amount + Fraction(1, 2)) if amount >= 0 else 0


def _month(date: str) -> str:
    return date[:7]


def months_between(first: str, last: str) -> int:
    """How many calendar months from the month of `first` through the month of `last`
    (dates or 'YYYY-MM' months)."""
    return (int(last[:4]) - int(first[:4])) * 12 + int(last[5:7]) - int(first[5:7]) + 1


def _months(first: str, last: str) -> list[str]:
    """Calendar months 'YYYY-MM' from `first` through `last`."""
    year, month = int(first[:4]), int(first[5:7])
    out = []
    for _ in range(months_between(first, last)):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def new_grant(data: dict[str, Any], effective_date: str) -> dict[str, Any]:
    """The state a book keeps of a granted subsidy (plain JSON, for snapshots)."""
    return {
        "budget": data["budget"],
        "wml": data["wmlMonthlyCents"],
        "partTime": data.get("partTimeFactor", 1),
        "start": data["startDate"],
        "end": data.get("endDate"),
        "horizon": max(int(data["startDate"][:4]), int(effective_date[:4])),
        "terms": [[_month(data["startDate"]), data["loonwaardePct"]]],
        "ended": False,
        "paid": {},
        "committed": {},
    }


def working_copy(grant: dict[str, Any]) -> dict[str, Any]:
    """A copy of a grant's state that `remeasure`, `end` and a payment may change without
    changing the grant: its containers copied, their values (text, numbers, [month,
    pct] pairs, never changed in place) shared. A deep copy cost a sixth of deciding."""
    return {
        **grant,
        "terms": list(grant["terms"]),
        "paid": dict(grant["paid"]),
        "committed": dict(grant["committed"]),
    }


def remeasure(grant: dict[str, Any], loonwaarde_pct: int | float, effective_date: str) -> None:
    """A yearly re-measurement: the new loonwaarde holds from the month of `effective_date`."""
    grant["terms"] = [t for t in grant["terms"] if t[0] < _month(effective_date)]
    grant["terms"].append([max(_month(effective_date), _month(grant["start"])), loonwaarde_pct])
    grant["horizon"] = max(grant["horizon"], int(effective_date[:4]))


def end(grant: dict[str, Any], effective_date: str) -> None:
    grant["ended"] = True
    if grant["end"] is None or effective_date < grant["end"]:
        grant["end"] = effective_date


def committed_months(grant: dict[str, Any]) -> int:
    """How many months the grant commits (`planned` covers them)."""
    return months_between(grant["start"], _last_month(grant))


def _last_month(grant: dict[str, Any]) -> str:
    return _month(grant["end"]) if grant["end"] is not None else f"{grant['horizon']:04d}-12"


def planned(grant: dict[str, Any]) -> dict[int, int]:
    """Cents committed per budget year by the grant's terms, before payments."""
    terms = tuple(sorted((since, pct) for since, pct in grant["terms"]))
    return dict(_plan(grant["wml"], grant["partTime"], _month(grant["start"]), _last_month(grant), terms))


@lru_cache(maxsize=65536)
def _plan(
    wml: int, part_time: int | float, first: str, last: str, terms: tuple[tuple[str, int | float], ...]
) -> tuple[tuple[int, int], ...]:
    """`planned`, remembered: every payment of a grant asks for its plan again, and a
    grant's terms change at most once a year (a quarter of the posting time on a
    generated year went to recomputing it)."""
    months: dict[tuple[int, int | float], int] = {}  # (year, loonwaarde) -> months at that rate
    for month in _months(first, last):
        loonwaarde = [pct for since, pct in terms if since <= month][-1]
        key = (int(month[:4]), loonwaarde)
        months[key] = months.get(key, 0) + 1
    out: dict[int, int] = {}
    for (year, loonwaarde), count in months.items():
        out[year] = out.get(year, 0) + count * monthly_cents(wml, loonwaarde, part_time, year)
    return tuple(out.items())


def commitment_changes(grant: dict[str, Any], closed: list[int]) -> dict[str, int]:
    """How the grant's committed cents per open year must move to stand at
    max(0, planned - paid); closed years keep what they showed."""
    plan = planned(grant)
    years = set(plan) | {int(y) for y in grant["paid"]} | {int(y) for y in grant["committed"]}
    changes: dict[str, int] = {}
    for year in sorted(years):
        if year in closed:
            continue
        key = str(year)
        target = max(0, plan.get(year, 0) - grant["paid"].get(key, 0))
        delta = target - grant["committed"].get(key, 0)
        if delta:
            changes[key] = delta
    return changes
