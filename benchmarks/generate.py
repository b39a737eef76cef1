"""A realistic synthetic budget year for N gemeenten and their shared organisations.

    .venv/bin/python benchmarks/generate.py --municipalities 342 --out year.ndjson

Writes NDJSON, one event per line, in the order a ledger must receive them: first the
admin-only registrations (every gemeente, then every organisation, whose members are
registered by then), then month by month each party's batch for that month. Every
event is one the ledger accepts (benchmarks/check_generated.py posts a small set over
HTTP and checks that). The same arguments give the same bytes (seeded; ids are UUIDs
drawn from the seed). Any prefix of the output is also valid: each event only depends
on events before it.

What it models, per gemeente (inwoners drawn from a log-normal fitted to the Dutch
spread: median ~28,000, mean ~52,000, from ~1,000 to ~900,000; all counts scale with
inwoners):
- January: Rijk allocations (voorlopig) of the inkomensdeel and the participatiebudget
  (sub-budgets wwb-oud, wsw, nieuwe-doelgroepen), the gemeentefonds cluster
  werk-en-inkomen, algemene-middelen and wmo; steering modes (participatiebudget
  integraal for some, werk-en-inkomen kaderstellend for a third); the participatie
  reserve with its opening balance; placement targets (beschut werk binding);
  the meeneemregeling and co-financing; the stock of running loonkostensubsidies
  (~1.5 per 1,000 inwoners) and placements (beschut werk, banenafspraak, detachering,
  proefplaatsing, werkervaringsplaats) taken over on 1 January.
- Every month: uitkeringen on the inkomensdeel; re-integration costs by category on the
  participatiebudget (begeleiding, jobcoach, no-risk, scholing, diagnose, activering,
  bemiddeling, wsw-loonkosten, exploitatietekort) and execution costs, tegenprestatie
  and Wmo costs on the budgets the charging rules allow; a payment for every running
  subsidy, new grants, yearly re-measurements, endings; placements started and ended
  (the beschut werk cap kept); outflows with their notional avoided benefit; now and
  then the correction of an earlier cost.
- Quarterly: reserve additions and withdrawals (never below zero), winst realised and
  reinvested (never more than realised); June: a reallocation between sub-budgets;
  September: the circulaire's revision; December: the definitive revision, an I-deel
  saving where the inkomensdeel has a surplus, a dotatie to the reserve.
Per shared organisation (one regional werkbedrijf per ~10 neighbouring gemeenten, its
largest member the fund holder, plus an ISD of 2-3 of them in some regions): an
allocation key (inwoners; solidariteit or profijt), an exploitatie budget, monthly
organisation costs by unit with the members' usage, winst from loonvormende arbeid by
member, now and then a gemeente joining mid-year (with a new key), and in December the
results per unit (beschut deficit, detachering surplus).

Size: `--events-per-municipality` (default 3,000) is the mean per gemeente; the
structural events (subsidies, placements, outflows) follow the client numbers above
and cost bookings (invoices batched per week or so) fill the rest, so the default is a
national year of ~1 million events: the ledger as municipalities post it monthly in
aggregated bookings. Posting every invoice and every benefit payment per client (the
tens of millions of events a year the real national scale would be) is the same
generator at `--events-per-municipality 50000`.

No YearClosed is generated: benchmarks keep posting into the year afterwards.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import orjson

WML_MONTHLY_CENTS = 207_000  # wettelijk minimumloon, full time, per month (2024-ish)
MEAN_INWONERS = 52_000

PB_SUBS = (("wsw", 0.55), ("wwb-oud", 0.30), ("nieuwe-doelgroepen", 0.15))
# participatiebudget categories: (category, sub-budget, share of that budget's spending)
PB_COSTS = (
    ("wsw-loonkosten", "wsw", 0.42),
    ("exploitatietekort", "wsw", 0.06),
    ("begeleiding", "nieuwe-doelgroepen", 0.06),
    ("jobcoach", "nieuwe-doelgroepen", 0.03),
    ("no-risk", "nieuwe-doelgroepen", 0.01),
    ("werkplekaanpassing", "nieuwe-doelgroepen", 0.01),
    ("scholing", "wwb-oud", 0.06),
    ("diagnose", "wwb-oud", 0.05),
    ("activering", "wwb-oud", 0.08),
    ("bemiddeling", "wwb-oud", 0.10),
    ("uitvoering", "wwb-oud", 0.07),
)
OTHER_COSTS = (  # (budget, category, share of that budget spent in the year)
    ("werk-en-inkomen", "uitvoering", 0.93),
    ("algemene-middelen", "tegenprestatie", 0.80),
    ("wmo", "dagbesteding", 0.70),
    ("wmo", "vrijwilligerswerk", 0.25),
)
PLACEMENT_KINDS = (  # (kind, stock per 1,000 inwoners, hours per week)
    ("beschut-werk", 0.35, (24, 32, 36)),
    ("banenafspraak", 0.9, (12, 20, 25, 32)),
    ("detachering", 0.7, (32, 36)),
    ("proefplaatsing", 0.15, (24, 32)),
    ("werkervaringsplaats", 0.3, (16, 24, 32)),
)
ORG_UNITS = ("uitvoering", "beschut", "detachering")
MONTH_END = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February: fixed below per year


class Out:
    """Collects events; ids come from the seeded generator, so output is reproducible."""

    def __init__(self, rng: random.Random, year: int):
        self.rng = rng
        self.year = year
        self.events: list[dict[str, Any]] = []

    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def add(self, kind: str, party: str, date: str, data: dict[str, Any], reference: str | None = None) -> str:
        event_id = self.new_id()
        event: dict[str, Any] = {"id": event_id, "type": kind, "party": party, "effectiveDate": date, "data": data}
        if reference is not None:
            event["reference"] = reference
        self.events.append(event)
        return event_id


def _day(year: int, month: int, day: int) -> str:
    return f"{year:04d}-{month:02d}-{day:02d}"


def _month_end(year: int, month: int) -> int:
    if month == 2:
        return 29 if (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 else 28
    return MONTH_END[month - 1]


def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """`total` cents in `parts` positive amounts that vary like invoices do."""
    if parts <= 0 or total <= 0:
        return []
    weights = [rng.uniform(0.3, 1.7) for _ in range(parts)]
    scale = total / sum(weights)
    return [max(1, int(w * scale)) for w in weights]


def _counts(expected: float, rng: random.Random) -> int:
    """A whole number around `expected` (its fractional part as a chance)."""
    base = int(expected)
    return base + (1 if rng.random() < expected - base else 0)


class Gemeente:
    def __init__(self, code: str, inwoners: int, rng: random.Random, structural: float, invoices: float):
        self.code = code
        self.inwoners = inwoners
        self.rng = rng
        self.scale = inwoners / 1000
        self.structural = structural  # multiplier on client counts (below 1 only for tiny sizes)
        self.invoices = invoices  # cost bookings per category per month
        r = rng.uniform
        euros = 100  # cents
        self.ideel = int(inwoners * 350 * r(0.92, 1.10)) * euros
        self.pb = int(inwoners * 120 * r(0.85, 1.15)) * euros
        self.budgets = {
            "werk-en-inkomen": int(inwoners * 40 * r(0.9, 1.1)) * euros,
            "algemene-middelen": int(inwoners * 4 * r(0.8, 1.2)) * euros,
            "wmo": int(inwoners * 30 * r(0.8, 1.2)) * euros,
        }
        self.kaderstellend = rng.random() < 1 / 3  # werk-en-inkomen binding for a third
        self.integraal = rng.random() < 0.5
        self.spent = {b: 0 for b in self.budgets}
        self.ideel_surplus = 0  # inkomensdeel allocated + income - spent, as the I-deel rule sums it
        self.reserve = 0
        self.winst_left = 0
        self.subsidies: dict[str, int] = {}  # running subsidyId -> monthly cents
        self.part_time: dict[str, float] = {}  # subsidyId -> part-time factor
        self.remeasure_in: dict[str, int] = {}  # subsidyId of the stock -> month of its yearly re-measurement
        self.next_subsidy = 0
        self.placements: dict[str, str] = {}  # active placementId -> kind
        self.next_placement = 0
        self.next_client = 0
        self.beschut_cap = 0
        self.correctable: list[tuple[str, int]] = []  # (event id, cents) of participatiebudget costs
        self.next_invoice = 0

    def client(self) -> str:
        self.next_client += 1
        return f"client-{self.code.lower()}-{self.next_client:06d}"

    def invoice(self) -> str:
        self.next_invoice += 1
        return f"factuur {self.code}-{self.next_invoice:06d}"

    # --- January ------------------------------------------------------------------

    def opening(self, out: Out) -> None:
        y, c, rng = out.year, self.code, self.rng
        jan1 = _day(y, 1, 1)
        circ = f"meicirculaire {y - 1}"
        out.add("BudgetAllocated", c, jan1,
                {"budget": "inkomensdeel", "source": "rijk", "amountCents": self.ideel, "status": "voorlopig"},
                f"BUIG beschikking {y}")
        self.ideel_surplus += self.ideel
        for sub, share in PB_SUBS:
            out.add("BudgetAllocated", c, jan1,
                    {"budget": "participatiebudget", "subBudget": sub, "source": "sociaal-deelfonds",
                     "amountCents": int(self.pb * share), "status": "voorlopig"}, circ)
        for budget, cents in self.budgets.items():
            source = "gemeentefonds" if budget != "algemene-middelen" else "eigen-middelen"
            out.add("BudgetAllocated", c, jan1, {"budget": budget, "source": source, "amountCents": cents}, f"begroting {y}")
        if self.integraal:
            out.add("SteeringModeSet", c, jan1, {"budget": "participatiebudget", "mode": "integraal"}, f"raadsbesluit {y}")
        if self.kaderstellend:
            out.add("SteeringModeSet", c, jan1, {"budget": "werk-en-inkomen", "mode": "kaderstellend"}, f"raadsbesluit {y}")
        self.reserve = int(self.pb * rng.uniform(0.05, 0.4))
        out.add("ReserveEstablished", c, jan1,
                {"reserve": "participatie", "openingBalanceCents": self.reserve,
                 "purpose": "Opvangen dalende rijksmiddelen participatiebudget"}, f"raadsbesluit {y - 3}")
        if rng.random() < 0.4:
            out.add("IncomeBooked", c, jan1, {"budget": "participatiebudget", "subBudget": "wwb-oud",
                                              "source": "meeneemregeling", "amountCents": int(self.pb * rng.uniform(0.01, 0.05))})
        out.add("IncomeBooked", c, jan1, {"budget": "participatiebudget", "subBudget": "wsw",
                                          "source": "algemene-middelen", "amountCents": int(self.pb * rng.uniform(0.05, 0.2))},
                f"begroting {y}")
        # the stock of running subsidies and placements, taken over on 1 January
        for _ in range(_counts(1.5 * self.scale * self.structural, rng)):
            self.grant(out, jan1, 1)
        for kind, per_1000, hours in PLACEMENT_KINDS:
            stock = _counts(per_1000 * self.scale * self.structural, rng)
            if kind == "beschut-werk":
                self.beschut_cap = stock + _counts(0.2 * self.scale * self.structural, rng) + 1
                out.add("PlacementTargetSet", c, jan1, {"kind": kind, "places": self.beschut_cap, "binding": True},
                        f"taakstelling beschut werk {y}")
            elif kind == "banenafspraak":
                out.add("PlacementTargetSet", c, jan1,
                        {"kind": kind, "places": max(1, round(stock * 0.9)), "binding": False}, f"banenafspraak {y}")
            for _ in range(stock):
                self.place(out, jan1, kind, hours)

    def grant(self, out: Out, date: str, month: int) -> None:
        rng = self.rng
        self.next_subsidy += 1
        sid = f"lks-{self.next_subsidy:06d}"
        loonwaarde = rng.choice((30, 40, 45, 50, 55, 60, 65, 70, 75))
        part_time = rng.choice((1, 1, 0.8, 0.6, 0.5))
        data: dict[str, Any] = {
            "subsidyId": sid, "clientRef": self.client(), "instrument": "loonkostensubsidie", "budget": "inkomensdeel",
            "loonwaardePct": loonwaarde, "wmlMonthlyCents": WML_MONTHLY_CENTS, "partTimeFactor": part_time,
            "startDate": date,
        }
        if rng.random() < 0.3:
            data["endDate"] = _day(out.year, 12, 31)
        out.add("SubsidyGranted", self.code, date, data, f"beschikking {sid}")
        self.subsidies[sid] = _monthly(loonwaarde, part_time)
        self.part_time[sid] = part_time
        if month == 1:  # taken over on 1 January: re-measured on its anniversary this year
            self.remeasure_in[sid] = rng.randint(2, 12)

    def place(self, out: Out, date: str, kind: str, hours: tuple[int, ...]) -> None:
        self.next_placement += 1
        pid = f"pl-{self.next_placement:06d}"
        data: dict[str, Any] = {"placementId": pid, "clientRef": self.client(), "kind": kind,
                                "hoursPerWeek": self.rng.choice(hours)}
        if kind in ("banenafspraak", "beschut-werk"):
            data["priorityGroup"] = "doelgroepregister"
        out.add("PlacementStarted", self.code, date, data)
        self.placements[pid] = kind

    # --- every month --------------------------------------------------------------

    def month(self, out: Out, m: int) -> None:
        y, c, rng = out.year, self.code, self.rng
        last = _month_end(y, m)
        end = _day(y, m, last)

        def day() -> str:
            return _day(y, m, rng.randint(1, last))

        # uitkeringen on the inkomensdeel: ~85 % of the I-deel goes to benefits
        for cents in _split(int(self.ideel * 0.85 / 12 * rng.uniform(0.9, 1.1)), _counts(self.invoices * 2, rng), rng):
            out.add("CostBooked", c, day(), {"budget": "inkomensdeel", "category": "uitkering", "amountCents": cents},
                    f"uitkeringen {y}-{m:02d}")
            self.ideel_surplus -= cents
        # re-integration costs on the participatiebudget, by category and sub-budget
        for category, sub, share in PB_COSTS:
            for cents in _split(int(self.pb * share / 12 * rng.uniform(0.8, 1.2)), _counts(self.invoices, rng), rng):
                event_id = out.add("CostBooked", c, day(),
                                   {"budget": "participatiebudget", "subBudget": sub, "category": category, "amountCents": cents},
                                   self.invoice())
                if len(self.correctable) < 200:
                    self.correctable.append((event_id, cents))
        # other budgets; a kaderstellend werk-en-inkomen never goes below zero
        for budget, category, share in OTHER_COSTS:
            for cents in _split(int(self.budgets[budget] * share / 12 * rng.uniform(0.9, 1.05)), _counts(self.invoices / 2, rng), rng):
                if self.spent[budget] + cents > self.budgets[budget]:
                    continue
                out.add("CostBooked", c, day(), {"budget": budget, "category": category, "amountCents": cents}, self.invoice())
                self.spent[budget] += cents
        # now and then a cost booked twice is corrected
        if self.correctable and rng.random() < 0.3 * self.structural:
            event_id, cents = self.correctable.pop(rng.randrange(len(self.correctable)))
            out.add("Correction", c, end, {"corrects": event_id, "reason": "dubbel geboekte factuur"}, f"correctie {y}-{m:02d}")
        self.subsidy_month_events(out, m, end)
        self.placement_month_events(out, m, day)
        for _ in range(_counts(0.25 * self.scale * self.structural, rng)):
            out.add("OutflowRegistered", c, day(),
                    {"clientRef": self.client(), "extent": "volledig" if rng.random() < 0.7 else "gedeeltelijk",
                     "reason": rng.choice(("werk", "werk", "opleiding", "verhuizing", "pensioen")),
                     "avoidedBenefitCents": rng.randint(800_000, 1_600_000)})
        if m % 3 == 0:
            self.quarter(out, m, end)
        if m == 6:
            out.add("FundsReallocated", c, end,
                    {"fromBudget": "participatiebudget", "fromSubBudget": "wsw", "toBudget": "participatiebudget",
                     "toSubBudget": "nieuwe-doelgroepen", "amountCents": int(self.pb * 0.02)}, f"bestuursrapportage {y}")
        if m == 9:
            revision = int(self.ideel * rng.uniform(-0.02, 0.03))
            if revision:
                out.add("BudgetRevised", c, end, {"budget": "inkomensdeel", "amountCents": revision}, f"nader voorschot BUIG {y}")
                self.ideel_surplus += revision
            out.add("BudgetRevised", c, end, {"budget": "participatiebudget", "subBudget": "wwb-oud",
                                              "amountCents": int(self.pb * rng.uniform(-0.01, 0.02)) or 1},
                    f"septembercirculaire {y}")
        if m == 12:
            self.december(out, end)

    def subsidy_month_events(self, out: Out, m: int, end: str) -> None:
        c, rng = self.code, self.rng
        for sid, cents in list(self.subsidies.items()):
            out.add("SubsidyPaid", c, end, {"subsidyId": sid, "amountCents": cents}, f"betaling {sid} {m:02d}")
            self.ideel_surplus -= cents
        running = list(self.subsidies)
        for sid in running:  # the yearly re-measurement of the stock, on its anniversary
            if self.remeasure_in.get(sid) == m:
                loonwaarde = rng.choice((30, 40, 45, 50, 55, 60, 65, 70, 75))
                out.add("LoonwaardeMeasured", c, _day(out.year, m, 1), {"subsidyId": sid, "loonwaardePct": loonwaarde},
                        f"loonwaardemeting {sid}")
                self.subsidies[sid] = _monthly(loonwaarde, self.part_time[sid])
        for sid in rng.sample(running, _counts(len(running) * 0.015, rng)):
            out.add("SubsidyEnded", c, end, {"subsidyId": sid})
            del self.subsidies[sid]
        for _ in range(_counts(1.5 * self.scale * self.structural * 0.025, rng)):
            self.grant(out, _day(out.year, m, rng.randint(1, 28)), m)

    def placement_month_events(self, out: Out, m: int, day: Any) -> None:
        rng = self.rng
        active = list(self.placements)
        for pid in rng.sample(active, _counts(len(active) * 0.02, rng)):
            out.add("PlacementEnded", self.code, day(), {"placementId": pid, "reason": rng.choice(
                ("regulier werk", "einde contract", "ziekte", "verhuizing"))})
            del self.placements[pid]
        for kind, per_1000, hours in PLACEMENT_KINDS:
            for _ in range(_counts(per_1000 * self.scale * self.structural * 0.025, rng)):
                if kind == "beschut-werk" and sum(k == kind for k in self.placements.values()) >= self.beschut_cap:
                    continue
                self.place(out, day(), kind, hours)

    def quarter(self, out: Out, m: int, end: str) -> None:
        c, rng, y = self.code, self.rng, out.year
        if rng.random() < 0.5:
            cents = int(self.pb * rng.uniform(0.002, 0.01))
            out.add("ReserveAdded", c, end, {"reserve": "participatie", "budget": "participatiebudget",
                                             "subBudget": "wwb-oud", "amountCents": cents}, f"dotatie Q{m // 3}")
            self.reserve += cents
        if self.reserve > 0 and rng.random() < 0.6:
            cents = int(self.reserve * rng.uniform(0.05, 0.3))
            if cents > 0:
                out.add("ReserveWithdrawn", c, end, {"reserve": "participatie", "budget": "participatiebudget",
                                                     "subBudget": "wsw", "amountCents": cents}, f"onttrekking Q{m // 3}")
                self.reserve -= cents
        if rng.random() < 0.4:
            cents = int(self.scale * rng.uniform(500, 3000)) * 100 + 100
            out.add("WinstRealised", c, end, {"source": rng.choice(("loonvormende-arbeid", "opdrachten")), "amountCents": cents},
                    f"jaarrekening SW Q{m // 3}")
            self.winst_left += cents
        if self.winst_left > 0 and rng.random() < 0.5:
            cents = int(self.winst_left * rng.uniform(0.2, 0.8))
            if cents > 0:
                out.add("WinstReinvested", c, end, {"destination": rng.choice(("beschut-werk", "dagbesteding", "arbeidsleren")),
                                                    "amountCents": cents}, f"raadsbesluit {y}")
                self.winst_left -= cents

    def december(self, out: Out, end: str) -> None:
        c, rng, y = self.code, self.rng, out.year
        revision = int(self.ideel * rng.uniform(-0.01, 0.01)) or 1
        out.add("BudgetRevised", c, end, {"budget": "inkomensdeel", "amountCents": revision}, f"definitieve vaststelling BUIG {y}")
        self.ideel_surplus += revision
        if self.ideel_surplus > 100 and rng.random() < 0.7:
            cents = int(self.ideel_surplus * rng.uniform(0.05, 0.3))
            if cents > 0:
                out.add("WinstRealised", c, end, {"source": "ideel-besparing", "amountCents": cents}, f"jaarrekening {y}")
                self.winst_left += cents
        out.add("ReserveAdded", c, end, {"reserve": "participatie", "budget": "participatiebudget",
                                         "amountCents": int(self.pb * rng.uniform(0.005, 0.02)) + 1}, f"jaarrekening {y}")


def _monthly(loonwaarde: int, part_time: float) -> int:
    """About what art. 10d pays a month: min(WML - loonwaarde, 70 % WML) x part time x 1.235."""
    gap = min(WML_MONTHLY_CENTS * (100 - loonwaarde) / 100, WML_MONTHLY_CENTS * 0.7)
    return max(1, round(gap * part_time * 1.235))


class Organisation:
    def __init__(self, code: str, name: str, members: list[Gemeente], rng: random.Random, policy: str):
        self.code = code
        self.name = name
        self.members = list(members)
        self.rng = rng
        self.policy = policy
        self.inwoners = sum(g.inwoners for g in members)
        self.budget = int(self.inwoners * 60 * rng.uniform(0.8, 1.2)) * 100
        self.winst_left = 0
        self.joiner: Gemeente | None = None  # a gemeente joining in July

    def registration(self, out: Out) -> None:
        fund_holder = max(self.members, key=lambda g: g.inwoners).code
        out.add("OrganisationRegistered", self.code, _day(out.year, 1, 1),
                {"name": self.name, "members": [g.code for g in self.members], "fundHolder": fund_holder},
                f"gemeenschappelijke regeling {self.code}")

    def key(self, out: Out, date: str) -> None:
        out.add("AllocationKeySet", self.code, date,
                {"basis": "inwoners", "weights": {g.code: g.inwoners for g in self.members}, "policy": self.policy},
                f"begroting {out.year}")

    def opening(self, out: Out) -> None:
        jan1 = _day(out.year, 1, 1)
        self.key(out, jan1)
        out.add("BudgetAllocated", self.code, jan1, {"budget": "exploitatie", "source": "bijdragen-gemeenten",
                                                     "amountCents": self.budget}, f"begroting {out.year}")

    def _usage(self) -> dict[str, float]:
        return {g.code: round(g.inwoners / 1000 * self.rng.uniform(0.5, 1.5), 1) for g in self.members}

    def month(self, out: Out, m: int, invoices: float) -> None:
        y, rng = out.year, self.rng
        last = _month_end(y, m)
        end = _day(y, m, last)
        if m == 7 and self.joiner is not None:
            out.add("MembershipChanged", self.code, _day(y, 7, 1), {"member": self.joiner.code, "change": "joined"},
                    f"toetreding {self.joiner.code}")
            self.members.append(self.joiner)
            self.key(out, _day(y, 7, 1))
        for unit in ORG_UNITS:
            for cents in _split(int(self.budget / 3 / 12 * rng.uniform(0.8, 1.2)), _counts(invoices / 2, rng), rng):
                data: dict[str, Any] = {"unit": unit, "amountCents": cents}
                if unit != "uitvoering":
                    data["usage"] = self._usage()
                out.add("OrganisationCostBooked", self.code, _day(y, m, rng.randint(1, last)), data)
        for cents in _split(int(self.budget / 12 * rng.uniform(0.8, 1.0)), _counts(invoices, rng), rng):
            out.add("CostBooked", self.code, _day(y, m, rng.randint(1, last)),
                    {"budget": "exploitatie", "category": rng.choice(("loonkosten", "huisvesting", "materiaal")),
                     "amountCents": cents})
        if m % 3 == 0:
            member = rng.choice(self.members)
            cents = int(member.inwoners * rng.uniform(5, 20)) * 100 + 100
            out.add("WinstRealised", self.code, end,
                    {"source": "loonvormende-arbeid", "amountCents": cents, "member": member.code}, f"kwartaal {m // 3}")
            self.winst_left += cents
            if rng.random() < 0.5:
                reinvest = int(self.winst_left * rng.uniform(0.3, 0.9))
                if reinvest > 0:
                    out.add("WinstReinvested", self.code, end, {"destination": "beschut-werk", "amountCents": reinvest})
                    self.winst_left -= reinvest
        if m == 12:
            scale = self.budget // 100
            out.add("OrganisationResultDetermined", self.code, end,
                    {"unit": "beschut", "amountCents": -int(scale * rng.uniform(5, 20)), "usage": self._usage()},
                    f"jaarrekening {y}")
            out.add("OrganisationResultDetermined", self.code, end,
                    {"unit": "detachering", "amountCents": int(scale * rng.uniform(1, 8)), "usage": self._usage()},
                    f"jaarrekening {y}")


def _inwoners(n: int, rng: random.Random) -> list[int]:
    """Log-normal sizes like the Dutch gemeenten, scaled to a mean of ~52,000."""
    sizes = [min(950_000, max(1_000, int(rng.lognormvariate(math.log(28_000), 0.85)))) for _ in range(n)]
    factor = MEAN_INWONERS / (sum(sizes) / n)
    return [min(950_000, max(1_000, int(s * factor))) for s in sizes]


def generate(municipalities: int = 342, year: int = 2024, seed: int = 1,
             events_per_municipality: int = 3000) -> Iterator[dict[str, Any]]:
    """The events, in posting order (see the module docstring)."""
    rng = random.Random(seed)
    out = Out(rng, year)
    # ~1,550 structural events for a gemeente of 52,000 inwoners; cost bookings (15 streams a
    # month: uitkeringen twice, 11 participatiebudget categories, 4 others at half) fill the rest
    structural = min(1.0, events_per_municipality / 1800)
    invoices = max(0.3, (events_per_municipality - 1550 * structural) / 12 / 15)
    gemeenten = [
        Gemeente(f"GM{i + 1:04d}", inwoners, random.Random(rng.getrandbits(64)), structural, invoices * inwoners / MEAN_INWONERS)
        for i, inwoners in enumerate(_inwoners(municipalities, rng))
    ]
    organisations: list[Organisation] = []
    regions = [gemeenten[i : i + 10] for i in range(0, len(gemeenten), 10)]
    for r, members in enumerate(regions, start=1):
        org_rng = random.Random(rng.getrandbits(64))
        org = Organisation(f"WERKBEDRIJF-{r:03d}", f"Regionaal werkbedrijf {r:03d}", members, org_rng,
                           "solidariteit" if r % 2 else "profijt")
        organisations.append(org)
        neighbours = regions[r] if r < len(regions) else []
        if neighbours and org_rng.random() < 0.1:
            org.joiner = neighbours[0]
        if len(members) >= 3 and org_rng.random() < 0.4:
            isd = members[: org_rng.choice((2, 3))]
            organisations.append(Organisation(f"ISD-{r:03d}", f"Intergemeentelijke sociale dienst {r:03d}", isd,
                                              random.Random(rng.getrandbits(64)), "solidariteit"))
    for g in gemeenten:
        out.add("PartyRegistered", g.code, _day(year, 1, 1), {"name": f"Gemeente {g.code}", "kind": "gemeente"})
    for o in organisations:
        o.registration(out)
    yield from out.events
    out.events.clear()
    for g in gemeenten:
        g.opening(out)
    for o in organisations:
        o.opening(out)
    for m in range(1, 13):
        for g in gemeenten:
            g.month(out, m)
        for o in organisations:
            o.month(out, m, invoices * o.inwoners / MEAN_INWONERS / 4)
        yield from out.events
        out.events.clear()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--municipalities", type=int, default=342, help="gemeenten (default 342, as in 2024)")
    p.add_argument("--year", type=int, default=2024)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--events-per-municipality", type=int, default=3000,
                   help="mean events per gemeente in the year (default 3,000: ~1 million nationally)")
    p.add_argument("--limit", type=int, help="stop after this many events (a valid prefix)")
    p.add_argument("--out", help="file to write (default: stdout)")
    args = p.parse_args(argv)
    sink = open(args.out, "wb") if args.out else sys.stdout.buffer  # noqa: SIM115
    counts: dict[str, int] = {}
    written = 0
    chunk: list[bytes] = []
    for event in generate(args.municipalities, args.year, args.seed, args.events_per_municipality):
        if args.limit is not None and written >= args.limit:
            break
        chunk.append(orjson.dumps(event))
        counts[event["type"]] = counts.get(event["type"], 0) + 1
        written += 1
        if len(chunk) >= 10_000:
            sink.write(b"\n".join(chunk) + b"\n")
            chunk.clear()
    if chunk:
        sink.write(b"\n".join(chunk) + b"\n")
    sink.flush()
    if args.out:
        sink.close()
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    print(f"{written} events for {args.municipalities} gemeenten, {args.year}: {summary}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
