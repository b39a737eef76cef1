"""What amounts an event moves: the single definition shared by rules and projections.

The write side checks its limits (binding budgets, reserves, winst) against these
deltas and the read side builds balances from the same deltas, so the two can never
disagree about what an event means. A `Correction` moves exactly the negation of the
event it reverses (of the part it reverses: the book derives the original with that
part as its amount), booked in the correction's own year and effective date (that is
the "correction route into the next open year" of a closed year).

How each event lands on a budget line (allocated, income, spent, committed):
- BudgetAllocated, BudgetRevised: allocated; FundsReallocated: allocated, out of one
  line and into another.
- IncomeBooked: income; ReserveWithdrawn: income of the receiving budget.
- CostBooked, SubsidyPaid: spent; ReserveAdded from a budget: spent of that budget
  (the dotatie leaves the budget).
- Of `allocated`, `amended` is what changes the begroting after its primitive figure
  (BudgetRevised, FundsReallocated); of `income`, `incidental` is what reserves
  (ReserveWithdrawn) and the `meeneemregeling` put in, which the structural saldo leaves
  out; `voorlopig` is an allocation's status (None for every other event).
- committed: what the book derived for a subsidy event (`derived["committed"]`, cents per
  year on the subsidy's budget; see ledger/subsidy.py). A correction does not negate
  the original's commitment changes: the book derives the correction's own.
Reserves: ReserveEstablished's opening balance and ReserveAdded are `added`,
ReserveWithdrawn is `withdrawn`, dated by effective date.
Winst: WinstRealised is realised (per source, and member in an organisation),
WinstReinvested reinvested (per destination).
Charges (shared organisations): OrganisationCostBooked charges its members the amount,
OrganisationResultDetermined charges them minus the result (a deficit is a charge).
Commitments (verplichtingen): CommitmentRegistered is `committed` on its line; a cost
against it (`derived["commitmentUsedCents"]`) and CommitmentReleased (`derived["commitment"]`,
its line, and `derived["releasedCents"]`) take that much out again; each also moves the
commitment's own figures (registered, used, released).
Contributions (shared organisations): ContributionInvoiced is an advance `invoiced` to a
member, ContributionPaid what it `paid`, both in a budget year.
Outflow's avoided benefit is notional and moves nothing (domain.md, seed 004 L1856).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class LineDelta:
    """A change to one budget line: party's budget (and sub-budget) in one budget year."""

    year: int
    budget: str
    sub_budget: str | None
    allocated: int = 0
    income: int = 0
    spent: int = 0
    committed: int = 0
    amended: int = 0
    incidental: int = 0
    voorlopig: bool | None = None

    @property
    def amounts(self) -> tuple[int, int, int, int]:
        return self.allocated, self.income, self.spent, self.committed

    @property
    def available(self) -> int:
        return self.allocated + self.income - self.spent - self.committed

    def negated(self) -> LineDelta:
        return replace(
            self,
            allocated=-self.allocated,
            income=-self.income,
            spent=-self.spent,
            committed=-self.committed,
            amended=-self.amended,
            incidental=-self.incidental,
            voorlopig=None,
        )


@dataclass(frozen=True, slots=True)
class ReserveDelta:
    """A movement of a reserve on an effective date; `reflux` is the part of `added`
    that flows back into a revolving reserve."""

    reserve: str
    date: str
    added: int = 0
    withdrawn: int = 0
    reflux: int = 0

    @property
    def net(self) -> int:
        return self.added - self.withdrawn

    def negated(self) -> ReserveDelta:
        return replace(self, added=-self.added, withdrawn=-self.withdrawn, reflux=-self.reflux)


@dataclass(frozen=True, slots=True)
class WinstDelta:
    """Winst realised from a source (earned by a member's clients, in an organisation),
    or reinvested in a destination, in a budget year."""

    year: int
    source: str | None = None
    destination: str | None = None
    member: str | None = None
    realised: int = 0
    reinvested: int = 0

    def negated(self) -> WinstDelta:
        return replace(self, realised=-self.realised, reinvested=-self.reinvested)


@dataclass(frozen=True, slots=True)
class ChargeDelta:
    """What a shared organisation charges its members for one unit in a budget year
    (negative: they receive), with the usage per member where known (for `profijt`)."""

    year: int
    unit: str
    amount: int
    usage: dict[str, Any] | None = None

    def negated(self) -> ChargeDelta:
        return replace(self, amount=-self.amount)


@dataclass(frozen=True, slots=True)
class CommitmentDelta:
    """A change to one commitment's figures: registered, used by costs, released."""

    commitment_id: str
    year: int
    budget: str
    sub_budget: str | None
    registered: int = 0
    used: int = 0
    released: int = 0

    def negated(self) -> CommitmentDelta:
        return replace(self, registered=-self.registered, used=-self.used, released=-self.released)


@dataclass(frozen=True, slots=True)
class ContributionDelta:
    """What a shared organisation invoiced a member in advance for a budget year, or the
    member paid (the settlement is its share of the cost split less what it paid)."""

    year: int
    member: str
    invoiced: int = 0
    paid: int = 0

    def negated(self) -> ContributionDelta:
        return replace(self, invoiced=-self.invoiced, paid=-self.paid)


@dataclass(frozen=True, slots=True)
class Effects:
    lines: tuple[LineDelta, ...] = ()
    reserves: tuple[ReserveDelta, ...] = ()
    winst: tuple[WinstDelta, ...] = ()
    charges: tuple[ChargeDelta, ...] = ()
    contributions: tuple[ContributionDelta, ...] = ()
    commitments: tuple[CommitmentDelta, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.lines or self.reserves or self.winst or self.charges or self.contributions or self.commitments)


NO_EFFECTS = Effects()
_PARTS = tuple(f.name for f in fields(Effects))  # each kind of delta, every one of which a reversal negates


def effects_of(entry: dict[str, Any], derived: dict[str, Any] | None = None) -> Effects:
    """The deltas of one stored event. `derived` holds what the ledger resolved when
    it accepted the event (a subsidy's budget and commitment changes, the entry a
    correction reverses)."""
    derived = derived or {}
    effects = _own_effects(entry, derived)
    committed = derived.get("committed")
    if not committed:
        return effects
    budget = derived["budget"]
    commitments = tuple(
        LineDelta(year=int(year), budget=budget, sub_budget=None, committed=cents)
        for year, cents in sorted(committed.items())
    )
    return replace(effects, lines=effects.lines + commitments)


def _own_effects(entry: dict[str, Any], derived: dict[str, Any]) -> Effects:
    data = entry["data"]
    year = entry["year"]
    kind = entry["type"]
    amount = data.get("amountCents", 0)

    def line(budget: str, sub: str | None, **amounts: Any) -> LineDelta:
        return LineDelta(year=year, budget=budget, sub_budget=sub, **amounts)

    if kind == "BudgetAllocated":
        voorlopig = data.get("status") == "voorlopig"
        return Effects(lines=(line(data["budget"], data.get("subBudget"), allocated=amount, voorlopig=voorlopig),))
    if kind == "BudgetRevised":
        return Effects(lines=(line(data["budget"], data.get("subBudget"), allocated=amount, amended=amount),))
    if kind == "IncomeBooked":
        incidental = amount if data["source"] == "meeneemregeling" else 0
        return Effects(lines=(line(data["budget"], data.get("subBudget"), income=amount, incidental=incidental),))
    if kind == "FundsReallocated":
        return Effects(
            lines=(
                line(data["fromBudget"], data.get("fromSubBudget"), allocated=-amount, amended=-amount),
                line(data["toBudget"], data.get("toSubBudget"), allocated=amount, amended=amount),
            )
        )
    if kind == "CostBooked":
        used = derived.get("commitmentUsedCents", 0)
        cost = line(data["budget"], data.get("subBudget"), spent=amount, committed=-used)
        if "commitmentId" not in data:
            return Effects(lines=(cost,))
        use = CommitmentDelta(data["commitmentId"], year, data["budget"], data.get("subBudget"), used=used)
        return Effects(lines=(cost,), commitments=(use,))
    if kind == "CommitmentRegistered":
        budget, sub = data["budget"], data.get("subBudget")
        return Effects(lines=(line(budget, sub, committed=amount),),
                       commitments=(CommitmentDelta(data["commitmentId"], year, budget, sub, registered=amount),))
    if kind == "CommitmentReleased":
        held, released = derived["commitment"], derived["releasedCents"]
        budget, sub = held["budget"], held.get("subBudget")
        return Effects(lines=(LineDelta(held["year"], budget, sub, committed=-released),),
                       commitments=(CommitmentDelta(data["commitmentId"], held["year"], budget, sub, released=released),))
    if kind == "SubsidyPaid":
        budget = derived["budget"]
        return Effects(lines=(line(budget, None, spent=amount),))
    date = entry["effectiveDate"]
    if kind == "ReserveEstablished":
        return Effects(reserves=(ReserveDelta(data["reserve"], date, added=data["openingBalanceCents"]),))
    if kind == "ReserveAdded":
        reserve = ReserveDelta(
            data["reserve"], date, added=amount, reflux=amount if data.get("reflux") else 0
        )
        budget = data.get("budget")
        lines = (line(budget, data.get("subBudget"), spent=amount),) if budget else ()
        return Effects(lines=lines, reserves=(reserve,))
    if kind == "ReserveWithdrawn":
        return Effects(
            lines=(line(data["budget"], data.get("subBudget"), income=amount, incidental=amount),),
            reserves=(ReserveDelta(data["reserve"], date, withdrawn=amount),),
        )
    if kind == "WinstRealised":
        return Effects(winst=(WinstDelta(year, source=data["source"], member=data.get("member"), realised=amount),))
    if kind == "WinstReinvested":
        return Effects(winst=(WinstDelta(year, destination=data["destination"], reinvested=amount),))
    if kind == "OrganisationCostBooked":
        return Effects(charges=(ChargeDelta(year, data["unit"], amount, data.get("usage")),))
    if kind == "OrganisationResultDetermined":
        return Effects(charges=(ChargeDelta(year, data["unit"], -amount, data.get("usage")),))
    if kind == "ContributionInvoiced":
        return Effects(contributions=(ContributionDelta(year, data["member"], invoiced=amount),))
    if kind == "ContributionPaid":
        return Effects(contributions=(ContributionDelta(year, data["member"], paid=amount),))
    if kind == "Correction":
        return reversal(entry, derived["original"])
    return NO_EFFECTS


def reversal(correction: dict[str, Any], original: dict[str, Any]) -> Effects:
    """The exact negation of `original`'s own effects, booked in the correction's year
    and date (its commitment changes are the correction's own, see `effects_of`)."""
    moved = {**original, "year": correction["year"], "effectiveDate": correction["effectiveDate"]}
    effects = _own_effects(moved, original.get("derived") or {})
    return Effects(**{part: tuple(d.negated() for d in getattr(effects, part)) for part in _PARTS})
