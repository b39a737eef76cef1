"""Invariants under random histories, through the real HTTP API (issue 7).

A hypothesis state machine posts random sequences of events to `POST /v1/events` of
the real aiohttp app (with its embedded projector, on a fresh database per example):
valid events of most families for two gemeenten, a third registered on the way, and a
shared organisation whose members come and go; invalid ones (bad schema, an unknown
party, a type or a party the token may not post, a binding budget, a reserve or a
beschut-werk cap overdrawn, a closed year, an id reused with other content); retries
of accepted posts; corrections; and several batches posted at once.

A model in the machine, written from domain.md and api.md rather than from ledger/,
says what each post must answer: the status and, for a 422, every refused event by
index and rule. After every step the machine reads the ledger back as an auditor and
checks:
1. a refused post, or a pure retry, changed nothing: every read is byte-identical;
2. the log, balances, reserves, winst and placements are the model's, and no reserve
   stands below zero at the end of any year;
3. no step that lowered a kaderstellend line left it below zero available, and no
   step that added beschut-werk places took a year beyond its binding cap;
4. every cost split (each year, both policies) adds up exactly to its total and is
   the model's largest-remainder rounding of its own exact shares;
5. the trial balance is zero, for the ledger and for each party, and every journal
   account holds what the model says it holds;
6. a rebuild of the read model gives byte-identical reads: as a step of its own, and
   at the end of every example.
Batches posted at once must come out as some serial order of them: the machine looks
for an order in which the model answers each exactly as the API did, and whose
accepted batches hold increasing positions (nothing lost, nothing doubled).

Why so shaped: the API is the contract, so the machine drives it as a client would.
It owns one event loop and serves the app on it (aiohttp's TestServer), so each step
is a plain call and every example gets its own database and app. The model leaves out
loonkostensubsidies (their commitments are test_projection's and test_subsidies'), so
that it can predict every answer it is asked for. Examples: LEDGER_INVARIANT_EXAMPLES
(SQLite, 20; PostgreSQL runs a quarter of them), steps per example:
LEDGER_INVARIANT_STEPS (20).

What it found is pinned by plain tests: a binding beschut-werk cap that a year could
exceed (test_subsidies), and membership changes out of date order that overlapped
periods or stopped the projector (test_organisations).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any

import orjson
import psycopg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule, run_state_machine_as_test

from api import state
from api.app import create_app
from ledger.application import Ledger
from ledger.config import Settings
from projections.db import ReadDB
from projections.runner import Projector
from tests.conftest import PG_ADMIN, create_pg_database, drop_pg_database

EXAMPLES = int(os.environ.get("LEDGER_INVARIANT_EXAMPLES", "20"))
STEPS = int(os.environ.get("LEDGER_INVARIANT_STEPS", "20"))

A, B, C = "GM0001", "GM0002", "GM0003"  # C is registered by a step
GHOST = "GM0999"  # never registered
ORG = "GR-WERK"
GEMEENTEN = (A, B, C)
YEARS = (2015, 2016, 2017)
BUDGETS = ("participatiebudget", "inkomensdeel", "algemene-middelen")
SUBS = ("", "wsw", "re-integratie")  # "" is the budget's own line
RESERVES = ("r1", "r2")
K = "kaderstellend"
# domain.md section 4: categories and the budgets they may be charged to (None: any)
CATEGORIES: dict[str, frozenset[str] | None] = {
    "uitvoering": None,
    "begeleiding": frozenset({"participatiebudget"}),
    "uitkering": frozenset({"inkomensdeel"}),
    "tegenprestatie": frozenset({"algemene-middelen"}),
}
CORRECTABLE = frozenset({
    "BudgetAllocated", "BudgetRevised", "IncomeBooked", "FundsReallocated", "CostBooked", "ReserveEstablished",
    "ReserveAdded", "ReserveWithdrawn", "WinstRealised", "WinstReinvested", "OrganisationCostBooked",
    "OrganisationResultDetermined", "ContributionInvoiced", "ContributionPaid",
})
CONSUMING = frozenset({"CostBooked", "BudgetRevised", "ReserveAdded", "Correction"})  # need their budget to exist
ORGANISATION_ONLY = frozenset({"MembershipChanged", "AllocationKeySet", "OrganisationCostBooked",
                               "OrganisationResultDetermined", "ContributionInvoiced", "ContributionPaid"})
ADMIN_ONLY = frozenset({"PartyRegistered", "OrganisationRegistered"})
TOKENS = {"admin": ("admin", None), "auditor": ("auditor", None), **{g: ("gemeente", g) for g in GEMEENTEN},
          ORG: ("organisation", ORG)}


# --- the model: what the ledger must answer, from domain.md -----------------------------


def year_of(e: dict[str, Any]) -> int:
    return e.get("year") or int(e["effectiveDate"][:4])


@dataclass(frozen=True)
class Line:
    year: int
    budget: str
    sub: str
    allocated: int = 0
    income: int = 0
    spent: int = 0
    amended: int = 0  # of allocated: revisions and reallocations
    incidental: int = 0  # of income: reserves and the meeneemregeling
    voorlopig: bool | None = None  # an allocation's status

    @property
    def available(self) -> int:  # no subsidies here, so nothing is committed
        return self.allocated + self.income - self.spent


@dataclass(frozen=True)
class Move:
    reserve: str
    date: str
    added: int = 0
    withdrawn: int = 0
    reflux: int = 0


@dataclass(frozen=True)
class Winst:
    year: int
    realised: int = 0
    reinvested: int = 0
    source: str | None = None
    destination: str | None = None


@dataclass(frozen=True)
class Contribution:
    year: int
    member: str
    invoiced: int = 0
    paid: int = 0


@dataclass(frozen=True)
class Charge:
    year: int
    unit: str
    cents: int
    usage: dict[str, int] | None


@dataclass(frozen=True)
class Effects:
    lines: tuple[Line, ...] = ()
    moves: tuple[Move, ...] = ()
    winst: tuple[Winst, ...] = ()
    charges: tuple[Charge, ...] = ()
    contributions: tuple[Contribution, ...] = ()


def effects(e: dict[str, Any], original: dict[str, Any] | None = None) -> Effects:
    """What an event moves (domain.md sections 5 and 7); a correction moves exactly the
    negation of its original, in its own year and on its own date."""
    if e["type"] == "Correction":
        assert original is not None
        fx = effects({**original, "year": year_of(e), "effectiveDate": e["effectiveDate"]})
        return Effects(
            tuple(Line(x.year, x.budget, x.sub, -x.allocated, -x.income, -x.spent, -x.amended, -x.incidental)
                  for x in fx.lines),
            tuple(Move(m.reserve, m.date, -m.added, -m.withdrawn, -m.reflux) for m in fx.moves),
            tuple(Winst(w.year, -w.realised, -w.reinvested, w.source, w.destination) for w in fx.winst),
            tuple(Charge(c.year, c.unit, -c.cents, c.usage) for c in fx.charges),
            tuple(Contribution(m.year, m.member, -m.invoiced, -m.paid) for m in fx.contributions),
        )
    kind, d, y, on = e["type"], e["data"], year_of(e), e["effectiveDate"]
    amount = d.get("amountCents", 0)
    if kind == "BudgetAllocated":
        voorlopig = d.get("status") == "voorlopig"
        return Effects(lines=(Line(y, d["budget"], d.get("subBudget", ""), allocated=amount, voorlopig=voorlopig),))
    if kind == "BudgetRevised":
        return Effects(lines=(Line(y, d["budget"], d.get("subBudget", ""), allocated=amount, amended=amount),))
    if kind == "IncomeBooked":
        carried = amount if d["source"] == "meeneemregeling" else 0
        return Effects(lines=(Line(y, d["budget"], d.get("subBudget", ""), income=amount, incidental=carried),))
    if kind == "CostBooked":
        return Effects(lines=(Line(y, d["budget"], d.get("subBudget", ""), spent=amount),))
    if kind == "FundsReallocated":
        return Effects(lines=(Line(y, d["fromBudget"], d.get("fromSubBudget", ""), allocated=-amount, amended=-amount),
                              Line(y, d["toBudget"], d.get("toSubBudget", ""), allocated=amount, amended=amount)))
    if kind == "ReserveEstablished":
        return Effects(moves=(Move(d["reserve"], on, added=d["openingBalanceCents"]),))
    if kind == "ReserveAdded":
        lines = (Line(y, d["budget"], d.get("subBudget", ""), spent=amount),) if "budget" in d else ()
        reflux = amount if d.get("reflux") else 0
        return Effects(lines=lines, moves=(Move(d["reserve"], on, added=amount, reflux=reflux),))
    if kind == "ReserveWithdrawn":
        return Effects(lines=(Line(y, d["budget"], d.get("subBudget", ""), income=amount, incidental=amount),),
                       moves=(Move(d["reserve"], on, withdrawn=amount),))
    if kind == "WinstRealised":
        return Effects(winst=(Winst(y, realised=amount, source=d["source"]),))
    if kind == "WinstReinvested":
        return Effects(winst=(Winst(y, reinvested=amount, destination=d["destination"]),))
    if kind == "OrganisationCostBooked":
        return Effects(charges=(Charge(y, d["unit"], amount, d.get("usage")),))
    if kind == "OrganisationResultDetermined":
        return Effects(charges=(Charge(y, d["unit"], -amount, d.get("usage")),))
    if kind == "ContributionInvoiced":
        return Effects(contributions=(Contribution(y, d["member"], invoiced=amount),))
    if kind == "ContributionPaid":
        return Effects(contributions=(Contribution(y, d["member"], paid=amount),))
    return Effects()


@dataclass
class Reserve:
    since: str
    revolving: bool = False
    moves: list[Move] = field(default_factory=list)

    def balance(self, until: str = "9999-12-31") -> int:
        return sum(m.added - m.withdrawn for m in self.moves if m.date <= until)

    def lowest_from(self, moves: list[Move], first: str) -> int:
        """The lowest balance on any day from `first` on, with `moves` as well."""
        days = sorted({m.date for m in moves if m.date >= first} | {first})
        return min(sum(m.added - m.withdrawn for m in moves if m.date <= day) for day in days)


@dataclass
class Book:
    """One party's books as the model keeps them."""

    kind: str
    # [allocated, income, spent, amended, incidental]
    lines: dict[tuple[int, str, str], list[int]] = field(default_factory=dict)
    voorlopig: dict[tuple[int, str, str], bool] = field(default_factory=dict)  # a line's latest allocation's status
    known: set[tuple[int, str]] = field(default_factory=set)  # budgets a year holds
    modes: dict[tuple[int, str, str], str] = field(default_factory=dict)
    reserves: dict[str, Reserve] = field(default_factory=dict)
    winst: list[Winst] = field(default_factory=list)
    closed: set[int] = field(default_factory=set)
    placements: dict[str, list[Any]] = field(default_factory=dict)  # id -> [kind, start, end]
    caps: dict[int, tuple[int, bool]] = field(default_factory=dict)  # beschut-werk target per year
    corrected: set[str] = field(default_factory=set)
    part_corrected: dict[str, int] = field(default_factory=dict)  # cents reversed of events corrected in part
    changes: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)  # member -> [(date, joined)]
    keys: list[tuple[int, dict[str, int], str]] = field(default_factory=list)
    charges: list[Charge] = field(default_factory=list)
    contributions: list[Contribution] = field(default_factory=list)

    def available(self, year: int, budget: str, sub: str | None = None) -> int:
        """A line's available (sub given), or the whole budget's."""
        return sum(v[0] + v[1] - v[2] for (y, b, s), v in self.lines.items()
                   if (y, b) == (year, budget) and (sub is None or s == sub))

    def periods(self, member: str) -> list[tuple[str, str | None]]:
        """Membership periods [joined, left): each change holds from its date until the next."""
        out: list[list[Any]] = []
        for on, joined in self.changes.get(member, []):
            if joined and (not out or out[-1][1] is not None):
                out.append([on, None])
            elif not joined and out and out[-1][1] is None:
                out[-1][1] = on
        return [(j, l) for j, l in out]

    def is_member(self, member: str, on: str) -> bool:
        return any(j <= on and (l is None or on < l) for j, l in self.periods(member))

    def was_member_in(self, member: str, year: int) -> bool:
        return any(j <= f"{year}-12-31" and (l is None or l > f"{year}-01-01") for j, l in self.periods(member))

    def places(self, year: int) -> int:
        """Beschut-werk places taken on 31 December of `year` (as /v1/kpis counts them)."""
        end = f"{year}-12-31"
        return sum(1 for kind, start, stop in self.placements.values()
                   if kind == "beschut-werk" and start <= end and (stop is None or stop > end))


@dataclass
class Answer:
    """What a post must answer: the status, and the (index, rule) or index list of a refusal."""

    status: int
    errors: list[Any] = field(default_factory=list)


class Model:
    """Every party's books, the accepted events in log order, and their receipts."""

    def __init__(self) -> None:
        self.books: dict[str, Book] = {}
        self.events: dict[str, dict[str, Any]] = {}  # id -> the event as posted, in log order
        self.receipts: dict[str, dict[str, Any]] = {}  # id -> the 201's {id, position, recordedAt, chainHash}

    # --- posting --------------------------------------------------------------

    def answer(self, token: str | None, events: list[dict[str, Any]], bad: bool) -> tuple[Answer, Model | None]:
        """The answer to posting `events` with `token` (None: no token; "bogus": an unknown
        one), and the model after it when it is accepted (a 201 or a 200)."""
        if token not in TOKENS:
            return Answer(401), None
        role, own = TOKENS[token]
        if role not in ("admin", "gemeente", "organisation"):
            return Answer(403), None
        if bad:
            return Answer(400), None
        if role != "admin":
            refused = [i for i, e in enumerate(events) if e["type"] in ADMIN_ONLY or e["party"] != own]
            if refused:
                return Answer(403, refused), None
        reused = [i for i, e in enumerate(events) if e["id"] in self.events and self.events[e["id"]] != e]
        if reused:
            return Answer(409, reused), None
        after = copy.deepcopy(self)
        violations = []
        fresh = [(i, e) for i, e in enumerate(events) if e["id"] not in self.events]
        for i, e in fresh:
            broken = after.decide(e)
            if broken:
                violations.append((i, broken))
            else:
                after.apply(e)
        if violations:
            return Answer(422, violations), None
        return Answer(201 if fresh else 200), after

    def decide(self, e: dict[str, Any]) -> str | None:
        """The rule `e` breaks against the books as they stand, checked in the ledger's
        order (a refusal names the first), or None."""
        kind, d, party = e["type"], e["data"], e["party"]
        book = self.books.get(party)
        if kind in ADMIN_ONLY:
            return "party-already-registered" if book is not None else None
        if book is None:
            return "unknown-party"
        y = year_of(e)
        if {y, int(e["effectiveDate"][:4])} & book.closed:
            return "year-closed"
        if kind in ORGANISATION_ONLY and book.kind != "organisation":
            return "not-an-organisation"
        original = None
        if kind == "Correction":
            original = self.events.get(d["corrects"])
            if original is None or original["party"] != party:
                return "unknown-event"
            if original["type"] not in CORRECTABLE:
                return "not-correctable"
            if d["corrects"] in book.corrected:
                return "already-corrected"
            original, _ = reversed_part(book, d, original)
            if isinstance(original, str):
                return original
        broken = self._type_rule(book, e)
        if broken:
            return broken
        fx = effects(e, original)
        needed = fx.lines if kind in CONSUMING else fx.lines[:1] if kind == "FundsReallocated" else ()
        if any((x.year, x.budget) not in book.known for x in needed):
            return "unknown-budget"
        for x in fx.lines:
            if x.available < 0 and self._beyond_binding(book, x, fx.lines):
                return "binding-budget-exceeded"
        if kind != "ReserveEstablished":
            for m in fx.moves:
                broken = self._reserve_rule(book, m)
                if broken:
                    return broken
        if fx.winst:
            winst = book.winst + list(fx.winst)
            first = min(w.year for w in fx.winst)
            left = 0
            for year in sorted({w.year for w in winst}):
                left += sum(w.realised - w.reinvested for w in winst if w.year == year)
                if left < 0 and year >= first:
                    return "winst-reinvested-exceeds-realised"
        return None

    def _type_rule(self, book: Book, e: dict[str, Any]) -> str | None:
        kind, d, y, on = e["type"], e["data"], year_of(e), e["effectiveDate"]
        if kind == "CostBooked":
            allowed = CATEGORIES[d["category"]]
            return "charging-rule" if allowed is not None and d["budget"] not in allowed else None
        if kind == "FundsReallocated":
            same = d["fromBudget"] == d["toBudget"]
            if same and book.modes.get((y, d["fromBudget"], "")) == "integraal":
                return None
            ends = ((d["fromBudget"], d.get("fromSubBudget", "")), (d["toBudget"], d.get("toSubBudget", "")))
            for budget, sub in ends:
                frames = {(budget, sub)} if same else {(budget, sub), (budget, "")}
                if any(book.modes.get((y, b, s)) == K for b, s in frames):
                    return "reallocation-not-allowed"
            return None
        if kind == "ReserveEstablished":
            return "reserve-already-established" if d["reserve"] in book.reserves else None
        if kind == "WinstRealised" and d["source"] == "ideel-besparing":
            saved = sum(w.realised for w in book.winst if w.year == y and w.source == "ideel-besparing")
            surplus = book.available(y, "inkomensdeel")
            return "ideel-besparing-exceeds-surplus" if saved + d["amountCents"] > surplus else None
        if kind == "PlacementStarted":
            if d["placementId"] in book.placements:
                return "duplicate-placement"
            # a year's binding cap holds on its 31 December, and an open placement is placed
            # on that day of every year from its start on
            over = [year for year, (cap, binding) in book.caps.items()
                    if binding and on <= f"{year}-12-31" and book.places(year) + 1 > cap]
            return "placement-cap-reached" if d["kind"] == "beschut-werk" and over else None
        if kind == "PlacementEnded":
            placement = book.placements.get(d["placementId"])
            return "unknown-placement" if placement is None else "placement-ended" if placement[2] else None
        if kind == "MembershipChanged":
            if d["member"] not in self.books:
                return "unknown-party"
            if any(on <= day for day, _ in book.changes.get(d["member"], [])):
                return "membership-change-out-of-order"  # a member's changes come one a day, in date order
            member = book.is_member(d["member"], on)
            if d["change"] == "joined" and member:
                return "already-member"
            return "not-a-member" if d["change"] == "left" and not member else None
        if kind in ("ContributionInvoiced", "ContributionPaid"):
            return "not-a-member" if not book.was_member_in(d["member"], y) else None
        if kind in ("AllocationKeySet", "OrganisationCostBooked", "OrganisationResultDetermined"):
            named = d["weights"] if kind == "AllocationKeySet" else d.get("usage") or {}
            return "not-a-member" if any(not book.was_member_in(p, y) for p in named) else None
        return None

    @staticmethod
    def _beyond_binding(book: Book, x: Line, lines: tuple[Line, ...]) -> bool:
        """Whether `x` takes a kaderstellend line, or a kaderstellend budget as a whole
        (with the event's other lines of that budget), below zero available."""
        if x.sub and book.modes.get((x.year, x.budget, x.sub)) == K:
            if book.available(x.year, x.budget, x.sub) + x.available < 0:
                return True
        if book.modes.get((x.year, x.budget, "")) == K:
            moved = sum(o.available for o in lines if (o.year, o.budget) == (x.year, x.budget))
            return book.available(x.year, x.budget) + moved < 0
        return False

    @staticmethod
    def _reserve_rule(book: Book, m: Move) -> str | None:
        reserve = book.reserves.get(m.reserve)
        if reserve is None or m.date < reserve.since:
            return "unknown-reserve"
        if m.reflux > 0 and not reserve.revolving:
            return "reflux-not-revolving"
        if reserve.lowest_from(reserve.moves + [m], m.date) < 0:
            return "reserve-below-zero"
        moves = reserve.moves + [m]
        if reserve.revolving and sum(x.reflux for x in moves) > sum(x.withdrawn for x in moves):
            return "reflux-exceeds-withdrawn"
        return None

    def apply(self, e: dict[str, Any]) -> None:
        kind, d, party, on = e["type"], e["data"], e["party"], e["effectiveDate"]
        self.events[e["id"]] = e
        if kind == "PartyRegistered":
            self.books[party] = Book(d["kind"])
            return
        if kind == "OrganisationRegistered":
            self.books[party] = Book("organisation", changes={m: [(on, True)] for m in d["members"]})
            return
        book = self.books[party]
        y = year_of(e)
        original, left = reversed_part(book, d, self.events[d["corrects"]]) if kind == "Correction" else (None, 0)
        assert not isinstance(original, str)
        fx = effects(e, original)
        for x in fx.lines:
            values = book.lines.setdefault((x.year, x.budget, x.sub), [0, 0, 0, 0, 0])
            for i, cents in enumerate((x.allocated, x.income, x.spent, x.amended, x.incidental)):
                values[i] += cents
            if x.voorlopig is not None:
                book.voorlopig[(x.year, x.budget, x.sub)] = x.voorlopig
            book.known.add((x.year, x.budget))
        for m in fx.moves:
            book.reserves.setdefault(m.reserve, Reserve(m.date)).moves.append(m)
        book.winst += fx.winst
        book.charges += fx.charges
        book.contributions += fx.contributions
        if kind == "Correction" and left == 0:
            book.corrected.add(d["corrects"])
        elif kind == "Correction":
            book.part_corrected[d["corrects"]] = book.part_corrected.get(d["corrects"], 0) + d.get("amountCents", 0)
        elif kind == "SteeringModeSet":
            book.modes[(y, d["budget"], d.get("subBudget", ""))] = d["mode"]
            book.known.add((y, d["budget"]))
        elif kind == "ReserveEstablished":
            book.reserves[d["reserve"]].revolving = d.get("revolving", False)
        elif kind == "YearClosed":
            book.closed.add(y)
        elif kind == "PlacementTargetSet":
            book.caps[y] = (d["places"], d["binding"])
        elif kind == "PlacementStarted":
            book.placements[d["placementId"]] = [d["kind"], on, None]
        elif kind == "PlacementEnded":
            book.placements[d["placementId"]][2] = on
        elif kind == "MembershipChanged":
            book.changes.setdefault(d["member"], []).append((on, d["change"] == "joined"))
        elif kind == "AllocationKeySet":
            book.keys.append((y, d["weights"], d["policy"]))

    # --- what the reads must show ----------------------------------------------

    def balances(self) -> list[dict[str, Any]]:
        """/v1/balances: per party, year and budget its total, then its sub-budgets."""
        out = []
        for party in sorted(self.books):
            lines, voorlopig = self.books[party].lines, self.books[party].voorlopig
            for year, budget in sorted({(y, b) for y, b, _ in lines}):
                mine = sorted((s, v) for (y, b, s), v in lines.items() if (y, b) == (year, budget))
                total = [sum(v[i] for _, v in mine) for i in range(5)]
                any_voorlopig = any(voorlopig.get((year, budget, s), False) for s, _ in mine)
                out.append(_balance(party, year, budget, None, total, any_voorlopig))
                out += [_balance(party, year, budget, s, v, voorlopig.get((year, budget, s), False)) for s, v in mine if s]
        return out

    def reserves(self, year: int | None) -> list[dict[str, Any]]:
        first, last = (f"{year}-01-01", f"{year}-12-31") if year else ("0000-01-01", "9999-12-31")
        return [
            {"party": party, "reserve": name, "purpose": "test", "revolving": r.revolving,
             "balanceCents": r.balance(last),
             "addedCents": sum(m.added for m in r.moves if first <= m.date <= last),
             "withdrawnCents": sum(m.withdrawn for m in r.moves if first <= m.date <= last),
             "refluxCents": sum(m.reflux for m in r.moves)}
            for party in sorted(self.books) for name, r in sorted(self.books[party].reserves.items())
            if r.since <= last
        ]

    def winst(self, party: str, year: int) -> dict[str, int]:
        book = self.books[party]
        mine = [w for w in book.winst if w.year == year]
        carried = sum(w.realised - w.reinvested for w in book.winst if w.year < year)
        realised, reinvested = sum(w.realised for w in mine), sum(w.reinvested for w in mine)
        return {"realisedCents": realised, "reinvestedCents": reinvested, "carriedOverCents": carried,
                "unappropriatedCents": carried + realised - reinvested}

    def accounts(self, party: str) -> dict[str, int]:
        """The party's journal accounts (debit minus credit) that are not zero: each line's
        saldo and each reserve's balance on the credit side, an organisation's charges on
        the debit side, the means they came from or went to, and winst in memo pairs."""
        book = self.books[party]
        out: dict[str, int] = {}

        def post(account: str, cents: int) -> None:
            out[account] = out.get(account, 0) + cents

        for (y, b, s), (allocated, income, spent, _, _) in book.lines.items():
            post(f"budget/{y}/{b}" + (f"/{s}" if s else ""), -(allocated + income - spent))
            post("middelen", allocated + income - spent)
        for name, r in book.reserves.items():
            post(f"reserve/{name}", -r.balance())
            post("middelen", r.balance())
        for m in book.contributions:
            post(f"te-ontvangen/{m.year}/{m.member}", m.invoiced - m.paid)
            post(f"voorschotten/{m.year}", -m.invoiced)
            post("middelen", m.paid)
        for c in book.charges:
            post(f"te-verrekenen/{c.year}", c.cents)
            post("middelen", -c.cents)
        for w in book.winst:
            if w.source:
                post(f"winst/{w.year}/bron/{w.source}", w.realised)
                post(f"winst/{w.year}/onverdeeld", -w.realised)
            if w.destination:
                post(f"winst/{w.year}/onverdeeld", w.reinvested)
                post(f"winst/{w.year}/besteding/{w.destination}", -w.reinvested)
        return {a: c for a, c in out.items() if c}

    def split(self, organisation: str, year: int, policy: str) -> dict[str, Any] | None:
        """The cost split of domain.md section 6, or None where it needs a key there is not."""
        book = self.books[organisation]
        keys = [k for k in book.keys if k[0] <= year]  # the latest key set for the nearest year
        key = [k for k in keys if k[0] == max(k[0] for k in keys)][-1] if keys else None
        days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
        weights = {p: w * Fraction(self._days(book, p, year), days) for p, w in key[1].items()} if key else {}
        exact = {p: Fraction(0) for p in weights}
        by_key, nonzero = 0, 0
        items = [c for c in book.charges if c.year == year]
        for c in items:
            usage = c.usage if policy == "profijt" and c.usage and sum(c.usage.values()) else None
            if usage is None:
                by_key += c.cents
                nonzero += c.cents != 0
                continue
            for p, u in usage.items():
                exact[p] = exact.get(p, Fraction(0)) + Fraction(c.cents * u, sum(usage.values()))
        if sum(weights.values()):
            for p, w in weights.items():
                exact[p] += by_key * w / sum(weights.values())
        elif nonzero:
            return None
        total = sum(c.cents for c in items)
        cents = hamilton(total, exact)
        key_total = sum(weights.values())  # the weight split by: the exact share in the key's units (domain.md 6)
        split_by = {p: weights.get(p, 0) if total == 0 else exact[p] / total * (key_total or 1) for p in exact}
        shares = [{"party": p, "weight": round(float(split_by[p]), 6), "keyWeight": round(float(weights.get(p, 0)), 6),
                   "amountCents": cents[p]} for p in sorted(exact)]
        # each with its advances and settlement; a member that paid without a share, after them at 0
        paid = [m for m in book.contributions if m.year == year]
        shares += [{"party": p, "weight": 0, "keyWeight": 0, "amountCents": 0}
                   for p in sorted({m.member for m in paid} - set(exact))]
        for share in shares:
            mine = [m for m in paid if m.member == share["party"]]
            share |= {"invoicedCents": sum(m.invoiced for m in mine), "paidCents": sum(m.paid for m in mine),
                      "settlementCents": share["amountCents"] - sum(m.paid for m in mine)}
        return {"totalCents": total, "shares": shares}

    @staticmethod
    def _days(book: Book, member: str, year: int) -> int:
        first, after = date(year, 1, 1), date(year + 1, 1, 1)
        return sum(max(0, (min(after, date.fromisoformat(l)) if l else after).toordinal()
                       - max(first, date.fromisoformat(j)).toordinal())
                   for j, l in book.periods(member))


def _balance(party: str, year: int, budget: str, sub: str | None, v: list[int], voorlopig: bool) -> dict[str, Any]:
    saldo = v[0] + v[1] - v[2]
    return {"party": party, "year": year, "budget": budget, "subBudget": sub, "allocatedCents": v[0],
            "incomeCents": v[1], "spentCents": v[2], "committedCents": 0, "availableCents": saldo,
            "saldoCents": saldo, "primitiveCents": v[0] - v[3], "amendmentsCents": v[3],
            "structuralSaldoCents": saldo - v[4], "status": "voorlopig" if voorlopig else "definitief"}


def reversed_part(book: Book, d: dict[str, Any], original: dict[str, Any]) -> tuple[dict[str, Any] | str, int]:
    """What a correction `d` reverses of `original` (the original with the part as its
    amount) and what is left of it after, or the rule it breaks (domain.md section 5:
    a part has the original's sign and is at most what is left; none means all of it)."""
    done, asked = book.part_corrected.get(d["corrects"], 0), d.get("amountCents")
    if asked is None and not done:
        return original, 0
    field = {"ReserveEstablished": "openingBalanceCents"}.get(original["type"], "amountCents")
    left = original["data"][field] - done
    part = left if asked is None else asked
    if abs(part) > abs(left) or part * left < 0:
        return "correction-exceeds-original", left
    return {**original, "data": {**original["data"], field: part}}, left - part


def hamilton(total: int, exact: dict[str, Fraction]) -> dict[str, int]:
    """Largest remainder: each the floor of its exact share, the cents left over to the
    largest remainders, ties to the lower party code; a negative total mirrored."""
    if total < 0:
        return {p: -c for p, c in hamilton(-total, {p: -s for p, s in exact.items()}).items()}
    floors = {p: s.numerator // s.denominator for p, s in exact.items()}
    ranked = sorted(exact, key=lambda p: (floors[p] - exact[p], p))
    for p in ranked[:total - sum(floors.values())]:
        floors[p] += 1
    return floors


# --- the served ledger ---------------------------------------------------------------


class LiveApp:
    """The app on a loop of its own, over a fresh database, with a token per role."""

    def __init__(self, engine: str):
        self.engine = engine
        if engine == "sqlite":
            self.folder = tempfile.mkdtemp(prefix="invariants-")
            self.url = f"sqlite:///{self.folder}/ledger.db"
        else:
            self.url = create_pg_database()
        self.loop = asyncio.new_event_loop()
        self.client: TestClient = self.run(self._start())
        tokens = self.client.app[state.TOKENS]
        self.tokens = {name: tokens.create(role, party)[1] for name, (role, party) in TOKENS.items()}
        self.tokens["bogus"] = "plg_" + "x" * 43

    async def _start(self) -> TestClient:
        client = TestClient(TestServer(create_app(Settings(db=self.url, read_timeout=10, rate_limit=0))))
        await client.start_server()
        return client

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    async def post(self, token: str | None, body: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[token]}"} if token else {}
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        r = await self.client.post("/v1/events", data=data, headers={**headers, "Content-Type": "application/json"})
        assert r.status < 500, await r.text()
        return r.status, await r.json(content_type=None)

    async def get(self, path: str, **params: Any) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {self.tokens['auditor']}"}
        r = await self.client.get(path, params=params, headers=headers)
        return r.status, await r.read()

    def rebuild(self) -> None:
        """What `ledger rebuild` does (api/cli.py), in a ledger and read side of its own."""
        ledger, db = Ledger(self.url), ReadDB(self.url)
        try:
            Projector(ledger, db).rebuild()
        finally:
            db.close()
            ledger.close()

    async def caught_up(self) -> None:
        for _ in range(500):
            ready = orjson.loads((await self.get("/readyz"))[1])
            if ready["lag"] == 0:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"the read model did not catch up: {ready}")

    def close(self) -> None:
        try:
            self.run(self.client.close())
            self.run(self.loop.shutdown_default_executor())
        finally:
            self.loop.close()
            if self.engine == "sqlite":
                shutil.rmtree(self.folder, ignore_errors=True)
            else:
                drop_pg_database(self.url)


def reads() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every read the machine compares, as (name, path, params)."""
    yield "readyz", "/readyz", {}
    yield "events", "/v1/events", {"limit": 1000}
    yield "parties", "/v1/parties", {}
    yield "balances", "/v1/balances", {"pageSize": 1000}
    yield "trial", "/v1/trial-balance", {}
    for year in (None, *YEARS):
        yield f"reserves {year}", "/v1/reserves", {"year": year} if year else {}
    for party in (A, B, C, ORG):
        yield f"trial {party}", "/v1/trial-balance", {"party": party}
    for year in YEARS:
        for policy in ("solidariteit", "profijt"):
            yield f"split {year} {policy}", f"/v1/organisations/{ORG}/cost-split", {"year": year, "policy": policy}
        for party in (A, B):
            yield f"winst {party} {year}", "/v1/winst", {"party": party, "year": year}
        yield f"kpis {year}", "/v1/kpis", {"party": A, "year": year}


Snapshot = dict[str, tuple[int, bytes]]


def changed(before: Snapshot, after: Snapshot) -> list[str]:
    return [name for name in after if before.get(name) != after[name]]


# --- events, as a client builds them -----------------------------------------------------


def days(year: int) -> st.SearchStrategy[str]:
    return st.dates(date(year, 1, 1), date(year, 12, 31)).map(date.isoformat)


any_day = st.sampled_from(YEARS).flatmap(days)
amounts = st.integers(1, 60_000)
weights = st.integers(0, 5)


def pick(data: st.DataObject, items: list[Any], label: str) -> Any:
    """One of `items` (None if there are none), drawn the same way however many there are:
    posts at once may come out in any order, so what the machine holds afterwards varies
    from run to run, and hypothesis replays an example only if its draws do not."""
    index = data.draw(st.integers(0, 2**16), label=label)
    return items[index % len(items)] if items else None


@dataclass
class Post:
    """One request: who posts, its events, and how it is sent."""

    token: str | None
    events: list[dict[str, Any]]
    single: bool = False  # one event sent bare, not as {"events": [...]}
    raw: bytes | None = None  # a body sent as it is (not JSON, or JSON that is no event)
    bad: list[str] = field(default_factory=list)  # invalidParams names a 400 must list

    @property
    def body(self) -> Any:
        if self.raw is not None:
            return self.raw
        return self.events[0] if self.single else {"events": self.events}


class Invariants(RuleBasedStateMachine):
    """Random histories posted over HTTP, checked against the model after every step."""

    engine = "sqlite"

    def __init__(self) -> None:
        super().__init__()
        self.served = LiveApp(self.engine)
        self.model = Model()
        self.ids = itertools.count(1)
        self.posts: list[Post] = []  # accepted posts, to retry
        self.seen: Snapshot = {}  # the reads after the last step
        self.sound = False  # the last step's checks passed: teardown may rebuild

    # --- building events ------------------------------------------------------

    def event(self, kind: str, party: str, on: str, data: dict[str, Any], year: int | None = None) -> dict[str, Any]:
        e = {"id": f"00000000-0000-4000-8000-{next(self.ids):012d}", "type": kind, "party": party,
             "effectiveDate": on, "data": {k: v for k, v in data.items() if v is not None}}
        if year is not None:
            e["year"] = year
        return e

    def gemeente_event(self, data: st.DataObject, party: str) -> dict[str, Any]:
        book = self.model.books.get(party)
        kind = data.draw(st.sampled_from([
            "BudgetAllocated", "BudgetAllocated", "BudgetRevised", "IncomeBooked", "SteeringModeSet", "SteeringModeSet",
            "CostBooked", "CostBooked", "CostBooked", "CostBooked", "FundsReallocated", "FundsReallocated",
            "ReserveEstablished", "ReserveAdded", "ReserveWithdrawn", "ReserveWithdrawn", "WinstRealised",
            "WinstReinvested", "PlacementTargetSet", "PlacementStarted", "PlacementStarted", "PlacementEnded",
            "PlacementEnded", "Correction", "Correction", "Correction"]), label="kind")
        year = data.draw(st.sampled_from(YEARS), label="year")
        on = data.draw(days(year), label="date")
        # now and then booked in the budget year next to the day's (dated in January, booked in December)
        beside = st.sampled_from([None, None, None, year - 1, year + 1]).filter(lambda y: y in (None, *YEARS))
        booked = data.draw(beside, label="booked")
        budget = data.draw(st.sampled_from(BUDGETS), label="budget")
        sub = data.draw(st.sampled_from(SUBS), label="sub") or None
        line = {"budget": budget, "subBudget": sub}
        if kind == "BudgetAllocated":
            d = {**line, "source": "rijk", "amountCents": data.draw(st.integers(0, 200_000)),
                 "status": data.draw(st.sampled_from([None, "voorlopig", "definitief"]))}
        elif kind == "BudgetRevised":
            d = {**line, "amountCents": data.draw(st.integers(-60_000, 60_000))}
        elif kind == "IncomeBooked":
            d = {**line, "source": data.draw(st.sampled_from(["algemene-middelen", "meeneemregeling"])),
                 "amountCents": data.draw(amounts)}
        elif kind == "SteeringModeSet":
            d = {**line, "mode": data.draw(st.sampled_from([K, K, "richtinggevend", "integraal"]))}
        elif kind == "CostBooked":
            category = data.draw(st.sampled_from(["uitvoering", *sorted(CATEGORIES)]))
            left = book.available(booked or year, budget, sub) if book else 0
            d = {**line, "category": category, "amountCents": self.amount(data, left)}
        elif kind == "FundsReallocated":
            to_budget = data.draw(st.sampled_from([budget, budget, *BUDGETS]))
            to_sub = data.draw(st.sampled_from(SUBS).filter(lambda s: (to_budget, s) != (budget, sub or "")))
            d = {"fromBudget": budget, "fromSubBudget": sub, "toBudget": to_budget, "toSubBudget": to_sub or None,
                 "amountCents": data.draw(amounts)}
        elif kind == "ReserveEstablished":
            d = {"reserve": data.draw(st.sampled_from(RESERVES)), "purpose": "test",
                 "openingBalanceCents": data.draw(st.integers(0, 100_000)), "revolving": data.draw(st.booleans())}
        elif kind in ("ReserveAdded", "ReserveWithdrawn"):
            name = self.existing(data, sorted(book.reserves) if book else [], [*RESERVES, "r3"], "reserve")
            reserve = book.reserves.get(name) if book else None
            d = {"reserve": name, "amountCents": self.amount(data, reserve.balance() if reserve else 0)}
            if kind == "ReserveWithdrawn":
                d |= line
            else:
                d |= {"reflux": data.draw(st.sampled_from([False, False, True]))}
                d |= line if data.draw(st.booleans()) else {}
        elif kind == "WinstRealised":
            d = {"source": data.draw(st.sampled_from(["loonvormende-arbeid", "ideel-besparing", "opdrachten"])),
                 "amountCents": data.draw(amounts)}
        elif kind == "WinstReinvested":
            d = {"destination": data.draw(st.sampled_from(["dagbesteding", "beschut-werk"])),
                 "amountCents": data.draw(amounts)}
        elif kind == "PlacementTargetSet":
            d = {"kind": "beschut-werk", "places": data.draw(st.integers(0, 3)), "binding": data.draw(st.booleans())}
        elif kind == "PlacementStarted":
            d = {"placementId": f"p{data.draw(st.integers(1, 6))}", "clientRef": "client-1",
                 "kind": data.draw(st.sampled_from(["beschut-werk", "beschut-werk", "regulier"])), "hoursPerWeek": 32}
        elif kind == "PlacementEnded":
            started = sorted(book.placements) if book else []
            placement = self.existing(data, started, [f"p{n}" for n in range(1, 7)], "placement")
            d = {"placementId": placement, "reason": "uitstroom"}
        else:
            return self.correction(data, party, on)
        return self.event(kind, party, on, d, booked)

    def organisation_event(self, data: st.DataObject) -> dict[str, Any]:
        kind = data.draw(st.sampled_from(["AllocationKeySet", "OrganisationCostBooked", "OrganisationCostBooked",
                                          "OrganisationResultDetermined", "MembershipChanged", "MembershipChanged",
                                          "MembershipChanged", "ContributionInvoiced", "ContributionPaid",
                                          "Correction"]), label="kind")
        year = data.draw(st.sampled_from(YEARS), label="year")
        on = data.draw(days(year), label="date")
        members = st.dictionaries(st.sampled_from(GEMEENTEN), weights, min_size=1, max_size=3)
        usage = st.none() | members
        if kind == "AllocationKeySet":
            d = {"basis": "vast", "weights": data.draw(members),
                 "policy": data.draw(st.sampled_from(["solidariteit", "profijt"]))}
        elif kind == "OrganisationCostBooked":
            d = {"unit": data.draw(st.sampled_from(["staf", "beschut"])),
                 "amountCents": data.draw(st.integers(1, 10**7)), "usage": data.draw(usage)}
        elif kind == "OrganisationResultDetermined":
            d = {"unit": "beschut", "amountCents": data.draw(st.integers(-10**7, 10**7)), "usage": data.draw(usage)}
        elif kind in ("ContributionInvoiced", "ContributionPaid"):
            d = {"member": data.draw(st.sampled_from([A, A, B, C, GHOST]), label="member"),
                 "amountCents": data.draw(st.integers(1, 10**6))}
        elif kind == "MembershipChanged":
            member = data.draw(st.sampled_from([A, A, B, C, C, GHOST]), label="member")
            # mostly the change that fits the member's standing on that day
            fits = "left" if self.model.books[ORG].is_member(member, on) else "joined"
            d = {"member": member, "change": data.draw(st.sampled_from([fits, fits, "joined", "left"]), label="change")}
        else:
            return self.correction(data, ORG, on)
        return self.event(kind, ORG, on, d)

    def correction(self, data: st.DataObject, party: str, on: str) -> dict[str, Any]:
        """A correction of an accepted event: mostly the party's own, now and then another
        party's or one that never was."""
        own = [i for i, e in self.model.events.items() if e["party"] == party]
        whose = data.draw(st.sampled_from(["correctable", "correctable", "correctable", "own", "other", "none"]),
                          label="whose")
        targets = {"correctable": [i for i in own if self.model.events[i]["type"] in CORRECTABLE], "own": own,
                   "other": list(self.model.events), "none": []}[whose]
        target = pick(data, targets, "corrects")
        never = str(uuid.UUID(int=7))
        d: dict[str, Any] = {"corrects": target or never, "reason": "onjuist geboekt"}
        original = self.model.events.get(target or never, {}).get("data", {})
        whole = original.get("amountCents", original.get("openingBalanceCents"))
        # now and then a part: a third, a half, all, more than all, or the other sign
        share = data.draw(st.sampled_from([None, None, None, 1 / 3, 1 / 2, 1, 3 / 2, -1 / 2]), label="part")
        if share is not None and whole:
            d["amountCents"] = round(whole * share) or 1
        return self.event("Correction", party, on, d)

    @staticmethod
    def existing(data: st.DataObject, known: list[str], anything: list[str], label: str) -> str:
        """Mostly one of the `known` names, else any of `anything` (which may be unknown)."""
        mostly = data.draw(st.integers(0, 3), label=label) > 0
        one_known, one_of_all = pick(data, known, label), pick(data, anything, label)
        return one_known if mostly and one_known is not None else one_of_all

    @staticmethod
    def amount(data: st.DataObject, available: int) -> int:
        """An amount, often right at or just beyond what is available."""
        edge = st.sampled_from([max(available, 1), max(available + 1, 1)])
        return data.draw(st.one_of(amounts, edge), label="amount")

    def batch(self, data: st.DataObject, most: int = 3) -> Post:
        """Valid events (by their schema) for one party with its own token, or for several by the admin."""
        size = data.draw(st.integers(1, most), label="size")
        party = data.draw(st.sampled_from([A, A, B, C, ORG, ORG]), label="party")
        mixed = size > 1 and data.draw(st.integers(0, 3)) == 0
        events = []
        for _ in range(size):
            p = data.draw(st.sampled_from([A, B, ORG]), label="party") if mixed else party
            events.append(self.organisation_event(data) if p == ORG else self.gemeente_event(data, p))
        token = "admin" if mixed or data.draw(st.integers(0, 5)) == 0 else party
        return Post(token, events, single=size == 1 and data.draw(st.booleans()))

    # --- posting and checking ----------------------------------------------------------

    async def snapshot(self) -> Snapshot:
        named = list(reads())
        answers = await asyncio.gather(*(self.served.get(path, **params) for _, path, params in named))
        return {name: answer for (name, _, _), answer in zip(named, answers, strict=True)}

    def send(self, post: Post) -> None:
        """Post, require the model's answer, then check every invariant."""
        self.sound = False
        before = self.model
        expected, after = before.answer(post.token, post.events, bool(post.bad) or post.raw is not None)
        status, body = self.served.run(self.served.post(post.token, post.body))
        check_answer(before, post, expected, status, body)
        if status == 201:
            assert after is not None
            self.model = with_receipts(after, body)
            self.posts.append(post)
        self.check(before, accepted=status == 201)

    def check(self, before: Model, accepted: bool) -> None:
        """Every invariant of the module docstring, on the reads of now."""
        now = self.served.run(self.snapshot())
        for name, (status, content) in now.items():
            assert status == 200 or name.startswith("split") and status == 404, (name, status, content)
        if accepted:
            self.check_figures(now)
            self.check_limits(before, now)
        else:
            assert changed(self.seen, now) == [], f"a post that stored nothing changed {changed(self.seen, now)}"
        self.seen = now
        self.sound = True

    def check_figures(self, now: Snapshot) -> None:
        """The reads are the model's figures, and they keep the ledger's invariants."""
        model = self.model

        def body(name: str) -> Any:
            return orjson.loads(now[name][1])

        log = body("events")
        assert [e["id"] for e in log["results"]] == list(model.events), "the log is not the accepted events, in order"
        assert [e["position"] for e in log["results"]] == [model.receipts[i]["position"] for i in model.events]
        assert log["count"] == len(model.events)
        assert body("balances")["results"] == model.balances()
        for year in (None, *YEARS):
            rows = body(f"reserves {year}")["results"]
            assert rows == model.reserves(year), year
            assert all(r["balanceCents"] >= 0 for r in rows), rows
        trial = body("trial")
        assert trial["debitCents"] == trial["creditCents"], trial
        for party in (A, B, C, ORG):
            trial = body(f"trial {party}")
            assert trial["debitCents"] == trial["creditCents"], (party, trial)
            accounts = {a["account"]: a["balanceCents"] for a in trial["accounts"] if a["balanceCents"]}
            assert accounts == (model.accounts(party) if party in model.books else {}), party
        for year in YEARS:
            for policy in ("solidariteit", "profijt"):
                status, content = now[f"split {year} {policy}"]
                expected = model.split(ORG, year, policy)
                assert (status == 404) == (expected is None), (year, policy, content)
                if expected is not None:
                    split = orjson.loads(content)
                    assert sum(s["amountCents"] for s in split["shares"]) == split["totalCents"], split
                    assert {k: split[k] for k in expected} == expected, (year, policy, split)
            for party in (A, B):
                winst = body(f"winst {party} {year}")
                assert winst["unappropriatedCents"] >= 0, winst
                assert {k: winst[k] for k in model.winst(party, year)} == model.winst(party, year), (party, year)
            assert body(f"kpis {year}")["beschutWerk"]["places"] == model.books[A].places(year), year

    def check_limits(self, before: Model, now: Snapshot) -> None:
        """What the step lowered on a line or budget that was kaderstellend throughout stays
        at or above zero available, and what it added to a year's beschut-werk places stays
        within the binding cap that year had throughout."""
        steered = {(e["party"], year_of(e), e["data"]["budget"], e["data"].get("subBudget", ""))
                   for i, e in self.model.events.items() if i not in before.events and e["type"] == "SteeringModeSet"}
        binding = (kaderstellend(before) & kaderstellend(self.model)) - steered
        was, available = availables(self.seen), availables(now)
        for line in binding & set(available):
            if available[line] < was.get(line, 0):
                assert available[line] >= 0, f"{line} is kaderstellend and now {-available[line]} cents short"
        for year in YEARS:
            old = orjson.loads(self.seen[f"kpis {year}"][1])["beschutWerk"] if self.seen else {"places": 0, "cap": None}
            new = orjson.loads(now[f"kpis {year}"][1])["beschutWerk"]
            if old["cap"] is not None and new["cap"] == old["cap"] and new["places"] > old["places"]:
                assert new["places"] <= new["cap"], f"beschut werk {year}: {new}"

    # --- the steps -----------------------------------------------------------------------

    @initialize(data=st.data())
    def register(self, data: st.DataObject) -> None:
        """Two gemeenten and their organisation; a few budgets, a binding one and a binding
        sub-budget, a reserve, a beschut-werk cap with its one place taken, a key."""
        admin = [self.event("PartyRegistered", g, "2015-01-01", {"name": g, "kind": "gemeente"}) for g in (A, B)]
        admin.append(self.event("OrganisationRegistered", ORG, "2015-01-01", {"name": "GR Werk", "members": [A, B]}))
        self.send(Post("admin", admin))
        start = [self.event("BudgetAllocated", A, f"{y}-01-01", {"budget": b, "source": "rijk",
                                                              "amountCents": data.draw(st.integers(0, 100_000))})
                 for y in YEARS[:2] for b in BUDGETS[:2]]
        pb, wsw = {"budget": "participatiebudget"}, {"budget": "participatiebudget", "subBudget": "wsw"}
        opening = data.draw(st.integers(0, 100_000))
        start += [
            self.event("ReserveEstablished", A, "2015-01-01", {"reserve": "r1", "purpose": "test",
                                                               "openingBalanceCents": opening}),
            self.event("BudgetAllocated", A, "2016-01-01", {**wsw, "source": "rijk",
                                                            "amountCents": data.draw(amounts)}),
            self.event("SteeringModeSet", A, "2015-01-01", {**pb, "mode": K}),
            self.event("SteeringModeSet", A, "2016-01-01", {**wsw, "mode": K}),
            self.event("PlacementTargetSet", A, "2015-01-01", {"kind": "beschut-werk", "places": 1, "binding": True}),
            self.event("PlacementStarted", A, data.draw(days(2015)), {"placementId": "p1", "clientRef": "client-1",
                                                                     "kind": "beschut-werk", "hoursPerWeek": 32}),
        ]
        self.send(Post(A, start))
        key = {"basis": "vast", "weights": {A: data.draw(st.integers(1, 5)), B: data.draw(weights)},
               "policy": data.draw(st.sampled_from(["solidariteit", "profijt"]))}
        self.send(Post(ORG, [self.event("AllocationKeySet", ORG, "2015-01-01", key)]))

    @rule(data=st.data())
    def post_valid(self, data: st.DataObject) -> None:
        """A batch or a single event, each valid by its schema; the rules may refuse it."""
        self.send(self.batch(data))

    @precondition(lambda self: C not in self.model.books)
    @rule()
    def register_third(self) -> None:
        self.send(Post("admin", [self.event("PartyRegistered", C, "2015-01-01", {"name": C, "kind": "gemeente"})]))

    @rule(data=st.data())
    def post_invalid(self, data: st.DataObject) -> None:
        """A post refused whole: bad JSON or schema, a token that may not post it, an unknown
        party, an organisation's event for a gemeente, a party registered twice."""
        good = self.batch(data)
        events, token = list(good.events), good.token
        i = data.draw(st.integers(0, len(events)), label="index")
        how = data.draw(st.sampled_from([*UNFIT, "json", "empty", "twice", "other-party", "auditor", "bogus",
                                         "no-token"]), label="how")
        on = data.draw(any_day, label="date")
        bad: list[str] = []
        raw = None
        if how in UNFIT:
            build, poster, fields = UNFIT[how]
            kind, party, payload, day = build(on)
            events.insert(i, self.event(kind, party, day, payload))
            token, bad = poster or token, [f"events[{i}].{name}" for name in fields]
        elif how == "json":
            raw, bad = b'{"events": [', ["body"]
        elif how == "empty":
            events, bad = [], ["events"]
        elif how == "twice":
            events.insert(i, events[min(i, len(events) - 1)])
            bad = [f"events[{i + 1 if i < len(good.events) else i}].id"]
        elif how == "other-party":
            token = data.draw(st.sampled_from([t for t in (A, B, C, ORG) if t != events[0]["party"]]))
        else:
            token = None if how == "no-token" else how
        self.send(Post(token, events, raw=raw, bad=bad))

    @precondition(lambda self: self.posts)
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        """An accepted post again: the same answer, 200, nothing doubled; or with new events
        beside it (201, the old ones answered as before); or one of its ids with other content (409)."""
        old = pick(data, self.posts, "retried")
        how = data.draw(st.sampled_from(["same", "same", "with-new", "changed"]), label="how")
        if how == "same":
            self.send(old)
        elif how == "with-new":
            events = [*old.events, *self.batch(data, most=2).events]
            parties = {e["party"] for e in events}
            self.send(Post(old.token if parties == {old.token} else "admin", events))
        else:
            i = pick(data, list(range(len(old.events))), "changed")
            events = [*old.events[:i], {**old.events[i], "reference": "other content"}, *old.events[i + 1:]]
            self.send(Post(old.token, events, single=old.single))

    @rule(data=st.data())
    def close_and_correct(self, data: st.DataObject) -> None:
        """Close a year of a party, then (in the same post or the next) correct one of its
        events, dated in that closed year or in an open one."""
        party = data.draw(st.sampled_from([A, B, ORG]), label="party")
        year = data.draw(st.sampled_from(YEARS), label="year")
        close = self.event("YearClosed", party, f"{year}-12-31", {})
        fix = self.correction(data, party, data.draw(st.sampled_from([year, *YEARS]).flatmap(days), label="date"))
        if data.draw(st.booleans(), label="together"):
            self.send(Post(party, [close, fix]))
        else:
            self.send(Post(party, [close]))
            self.send(Post(party, [fix], single=True))

    @rule(data=st.data())
    def overdraw(self, data: st.DataObject) -> None:
        """A cost or a cut on a steered line of A, or a withdrawal from A's reserve, of exactly
        what is left or a cent more."""
        book = self.model.books[A]
        extra = data.draw(st.sampled_from([0, 1]), label="beyond")
        how = data.draw(st.sampled_from(["cost", "cut", "withdrawal"]), label="how")
        if how != "withdrawal":
            year, budget, sub = pick(data, sorted(book.modes), "line")
            left = max(book.available(year, budget, sub or None) + extra, 1)
            line = {"budget": budget, "subBudget": sub or None}
            e = self.event(*("CostBooked", A, f"{year}-06-30", {**line, "category": "uitvoering", "amountCents": left})
                           if how == "cost" else ("BudgetRevised", A, f"{year}-06-30", {**line, "amountCents": -left}))
        else:
            name = pick(data, sorted(book.reserves), "reserve")
            left = book.reserves[name].balance()
            e = self.event("ReserveWithdrawn", A, "2017-12-31", {"reserve": name, "budget": "participatiebudget",
                                                                  "amountCents": max(left + extra, 1)})
        self.send(Post(A, [e], single=True))

    @rule(data=st.data())
    def post_at_once(self, data: st.DataObject) -> None:
        """Two to five posts at once, some contending for one reserve or posting one batch
        twice: the outcome is that of some serial order of them."""
        posts = [self.batch(data) for _ in range(data.draw(st.integers(2, 3), label="posts"))]
        how = data.draw(st.sampled_from(["independent", "same-twice", "contend"]), label="how")
        if how == "same-twice":
            posts.append(posts[0])
        elif how == "contend":
            book = self.model.books[A]
            name = pick(data, sorted(book.reserves), "reserve")
            half = book.reserves[name].balance() // 2 + 1
            posts += [Post(A, [self.event("ReserveWithdrawn", A, "2017-12-31", {
                "reserve": name, "budget": "participatiebudget", "amountCents": half})]) for _ in range(2)]

        async def at_once() -> list[tuple[int, Any]]:
            return list(await asyncio.gather(*(self.served.post(p.token, p.body) for p in posts)))

        self.sound = False
        before = self.model
        answers = self.served.run(at_once())
        self.model, kept = serial_order(before, posts, answers)
        self.posts += kept
        self.check(before, accepted=bool(kept))

    @rule()
    def rebuild(self) -> None:
        self.sound = False
        self.rebuilt_equal()
        self.sound = True

    def rebuilt_equal(self) -> None:
        """Rebuild the read model from the log while the API runs: every read the same."""
        before = self.served.run(self.snapshot())
        self.served.run(asyncio.to_thread(self.served.rebuild))
        self.served.run(self.served.caught_up())
        after = self.served.run(self.snapshot())
        assert changed(before, after) == [], f"reads that changed with a rebuild: {changed(before, after)}"

    def teardown(self) -> None:
        try:
            if self.sound:
                self.rebuilt_equal()
        finally:
            self.served.close()


# Events no post may hold, put into a batch of valid ones: how each is built from a day
# (type, party, data, day), who posts it (None: the batch's own poster), and the fields
# a 400 must name.
UNFIT: dict[str, tuple[Callable[[str], tuple[str, str, dict[str, Any], str]], str | None, tuple[str, ...]]] = {
    "float": (lambda on: ("CostBooked", A, {"budget": "inkomensdeel", "category": "uitvoering",
                                            "amountCents": 12.5}, on), None, ("data.amountCents",)),
    "missing": (lambda on: ("BudgetAllocated", A, {"budget": "inkomensdeel", "amountCents": 1}, on), None,
                ("data.source",)),
    "type": (lambda on: ("CostCorrected", A, {"amountCents": 1}, on), None, ("type",)),
    "date": (lambda on: ("YearClosed", A, {}, on[:5] + "02-30"), None, ("effectiveDate",)),
    "ghost": (lambda on: ("BudgetAllocated", GHOST, {"budget": "inkomensdeel", "source": "rijk", "amountCents": 1},
                          on), "admin", ()),
    "organisation-only": (lambda on: ("OrganisationCostBooked", A, {"unit": "staf", "amountCents": 5}, on), "admin",
                          ()),
    "registered": (lambda on: ("PartyRegistered", A, {"name": A, "kind": "gemeente"}, on), "admin", ()),
    "register": (lambda on: ("PartyRegistered", B, {"name": B, "kind": "gemeente"}, on), B, ()),  # an admin's type
}


def kaderstellend(model: Model) -> set[tuple[Any, ...]]:
    """(party, year, budget, sub) of every line ("" sub: the whole budget) set kaderstellend."""
    return {(p, *line) for p, book in model.books.items() for line, mode in book.modes.items() if mode == K}


def availables(snapshot: Snapshot) -> dict[tuple[Any, ...], int]:
    """Available per (party, year, budget, sub) in a snapshot's balances ("" sub: the whole budget)."""
    rows = orjson.loads(snapshot["balances"][1])["results"] if snapshot else []
    return {(r["party"], r["year"], r["budget"], r["subBudget"] or ""): r["availableCents"] for r in rows}


def with_receipts(model: Model, body: Any) -> Model:
    """`model` holding the receipts of a 201 (the old ones it had are the same)."""
    for r in body["events"]:
        model.receipts.setdefault(r["id"], r)
    return model


def check_answer(model: Model, post: Post, expected: Answer, status: int, body: Any) -> None:
    """The API's answer to `post` is the one `model` expects."""
    assert status == expected.status, (expected, status, body)
    if status >= 400:
        assert body["status"] == status and body["title"] and body["detail"], body
    if status == 400:
        assert set(post.bad) <= {p["name"] for p in body["invalidParams"]}, (post.bad, body)
    elif status in (403, 409) and expected.errors:
        assert [e["index"] for e in body["errors"]] == expected.errors, body
    elif status == 422:
        assert [(e["index"], e["rule"]) for e in body["errors"]] == expected.errors, body
        assert body["type"].endswith(":" + expected.errors[0][1]), body
    elif status == 200:
        assert body["events"] == [model.receipts[e["id"]] for e in post.events], body
    elif status == 201:
        assert [r["id"] for r in body["events"]] == [e["id"] for e in post.events], body
        old = [(r, model.receipts[r["id"]]) for r in body["events"] if r["id"] in model.receipts]
        assert all(r == receipt for r, receipt in old), old
        head = max((r["position"] for r in model.receipts.values()), default=0)
        new = [r["position"] for r in body["events"] if r["id"] not in model.receipts]
        assert new == sorted(new) and new[0] > head, (head, new)


def serial_order(model: Model, posts: list[Post], answers: list[tuple[int, Any]]) -> tuple[Model, list[Post]]:
    """The model after the first order of `posts` in which it answers each as the API did
    (with the accepted ones in the order of their positions), and the posts it accepted."""
    tried = []
    for order in itertools.permutations(range(len(posts))):
        now, kept = model, []
        try:
            for i in order:
                expected, after = now.answer(posts[i].token, posts[i].events, False)
                status, body = answers[i]
                check_answer(now, posts[i], expected, status, body)
                if status == 201:
                    now = with_receipts(after, body)  # type: ignore[arg-type]
                    kept.append(posts[i])
        except AssertionError as e:
            tried.append((order, str(e)[:200]))
            continue
        return now, kept
    raise AssertionError(f"no serial order of the posts answers as the API did: {answers}; tried {tried}")


class InvariantsOnPostgres(Invariants):
    engine = "postgres"


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_invariants_hold_under_random_histories(engine: str, skip_loudly: Any) -> None:
    """The machine's examples on SQLite; a quarter of them on PostgreSQL, which has the
    production store's concurrency."""
    machine: type[Invariants] = Invariants
    examples = EXAMPLES
    if engine == "postgres":
        try:
            psycopg.connect(PG_ADMIN, connect_timeout=3).close()
        except psycopg.OperationalError as e:
            skip_loudly(f"PostgreSQL unreachable at {PG_ADMIN}: {e}")
        machine, examples = InvariantsOnPostgres, max(1, EXAMPLES // 4)
    run_state_machine_as_test(machine, settings=settings(
        max_examples=examples, stateful_step_count=STEPS, deadline=None,
        suppress_health_check=[HealthCheck.too_slow],  # every example serves a ledger on a database of its own
    ))
