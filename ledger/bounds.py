"""How far the ledger reaches: the bounds that keep every figure exact in both stores.

Both stores keep amounts as 64-bit integers (SQLite INTEGER, PostgreSQL BIGINT), and a
SQLite sum that passes 2^63 silently turns into a float. So the bound is enforced at the
door, where a client can be told, never discovered on the read side, where one party's
figures would stall the projector for every party:

- one amount is at most `MAX_CENTS` either way (a 400 naming the field);
- the figures a party's events move, added up without their signs (its *volume*:
  `volume`), stay within `PARTY_VOLUME_CAP` (a 422 `party-volume-exceeded`). Every sum
  the read side computes over a party's rows (a line, a reserve, its journal, a split,
  its KPIs) is a signed sum of some of those figures, so it is at most that volume;
- at most `MAX_PARTIES` parties, so the sums over all parties (the ledger's trial
  balance) stay within 2^63 - 1 as well (a 422 `party-limit-reached` at registration).
One party filling its own volume harms no other: the caps are per party.

Dates: every date lies in the budget years `FIRST_YEAR`..`LAST_YEAR` (the years `year`
and `?year=` take), and a subsidy commits at most `MAX_GRANT_MONTHS` months, so one
event reaches a bounded number of budget years and balance rows.
"""

from __future__ import annotations

from ledger.effects import Effects

FIRST_YEAR, LAST_YEAR = 1900, 2999
MAX_CENTS = 10**15  # ten trillion euro in one amount: far beyond any budget
PARTY_VOLUME_CAP = 4 * 10**15  # forty trillion euro moved by one party over its life
MAX_PARTIES = 2000  # the 342 gemeenten and every shared organisation of the country, twice over
INT64_MAX = 2**63 - 1
MAX_GRANT_MONTHS = 600  # fifty years: a working life

assert MAX_PARTIES * PARTY_VOLUME_CAP <= INT64_MAX and MAX_CENTS <= PARTY_VOLUME_CAP


def volume(effects: Effects, notional: int = 0) -> int:
    """The cents an event moves, without their signs: every figure of its effects, and
    a `notional` amount the KPIs add up (an outflow's avoided benefit). The journal's
    debits (and its credits) of an event never exceed this (ledger/journal.py posts each
    figure at most once a side)."""
    return (
        sum(abs(d.allocated) + abs(d.income) + abs(d.spent) + abs(d.committed) for d in effects.lines)
        + sum(abs(r.added) + abs(r.withdrawn) + abs(r.reflux) for r in effects.reserves)
        + sum(abs(w.realised) + abs(w.reinvested) for w in effects.winst)
        + sum(abs(c.amount) for c in effects.charges)
        + sum(abs(m.invoiced) + abs(m.paid) for m in effects.contributions)
        + abs(notional)
    )
