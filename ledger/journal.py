"""The journal: every event as balanced double-entry postings, from its effects.

Why from `effects_of`: the balances, the reserves and the cost split are read from
the same deltas, so an account in the journal always agrees with the figure shown
for it elsewhere, and the trial balance is a check on the projection, not a second
opinion about what an event means.

Chart of accounts (per party; `Y` is the budget year, `B`/`S` budget and sub-budget):

| account                     | normal side | holds                                                  |
|-----------------------------|-------------|--------------------------------------------------------|
| `middelen`                  | debit       | the party's means: what funders gave, less what it paid |
| `budget/Y/B` or `budget/Y/B/S` | credit   | a budget line's saldo (allocated + income - spent)     |
| `reserve/R`                 | credit      | a reserve's balance                                    |
| `te-verrekenen/Y`           | debit       | an organisation's net charge to its members for year Y |
| `te-ontvangen/Y/M`          | debit       | advances invoiced to member M for year Y, not yet paid |
| `voorschotten/Y`            | credit      | advances invoiced to the members for year Y            |
| `vastgelegd/Y/B`            | debit       | memo: open commitments (LKS, verplichtingen) on B in Y |
| `verplichtingen/Y/B`        | credit      | memo: the other side of the commitments                |
| `winst/Y/bron/SOURCE`       | debit       | memo: winst realised per source                        |
| `winst/Y/onverdeeld`        | credit      | memo: winst realised, not yet reinvested               |
| `winst/Y/besteding/DEST`    | credit      | memo: winst reinvested per destination                 |

How the deltas post:
- a budget line's saldo change credits the line (a fall debits it);
- a reserve's net change credits the reserve;
- an organisation's charge to its members debits `te-verrekenen`;
- an advance invoiced to a member debits what it is to pay (`te-ontvangen`) and credits
  the year's `voorschotten`; its payment brings means in and credits `te-ontvangen`;
- whatever the lines, reserves and charges of one event do not balance between
  themselves comes from or goes to `middelen` (an allocation brings means in, a
  cost pays them out; a reallocation or a withdrawal into a budget nets to zero);
- commitments and winst are memorandum pairs that never touch `middelen`, so the
  notional and the committed stay apart from the money, as the domain asks.
A posting with a negative amount is written on the other side, so every amount in
the journal is positive.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.effects import Effects

MEANS = "middelen"


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    debit: int
    credit: int


def _line_account(year: int, budget: str, sub: str | None) -> str:
    return f"budget/{year}/{budget}" + (f"/{sub}" if sub else "")


def _signed(account: str, credit: int) -> Posting:
    """A credit of `credit` cents (a debit when negative)."""
    return Posting(account, -credit, 0) if credit < 0 else Posting(account, 0, credit)


def postings(effects: Effects) -> list[Posting]:
    """The balanced postings of one event's effects (none for an event that moves no money)."""
    credits: dict[str, int] = {}

    def credit(account: str, cents: int) -> None:
        credits[account] = credits.get(account, 0) + cents

    memo: list[Posting] = []
    for d in effects.lines:
        saldo = d.allocated + d.income - d.spent
        if saldo:
            credit(_line_account(d.year, d.budget, d.sub_budget), saldo)
        if d.committed:
            memo += [_signed(f"vastgelegd/{d.year}/{d.budget}", -d.committed), _signed(f"verplichtingen/{d.year}/{d.budget}", d.committed)]
    for r in effects.reserves:
        if r.net:
            credit(f"reserve/{r.reserve}", r.net)
    for c in effects.charges:
        credit(f"te-verrekenen/{c.year}", -c.amount)
    for m in effects.contributions:
        if m.invoiced:
            credit(f"voorschotten/{m.year}", m.invoiced)
        credit(f"te-ontvangen/{m.year}/{m.member}", m.paid - m.invoiced)
    for w in effects.winst:
        if w.realised:
            memo += [_signed(f"winst/{w.year}/bron/{w.source}", -w.realised), _signed(f"winst/{w.year}/onverdeeld", w.realised)]
        if w.reinvested:
            memo += [
                _signed(f"winst/{w.year}/onverdeeld", -w.reinvested),
                _signed(f"winst/{w.year}/besteding/{w.destination}", w.reinvested),
            ]
    plug = sum(credits.values())
    if plug:
        credit(MEANS, -plug)
    return [_signed(account, cents) for account, cents in credits.items() if cents] + memo
