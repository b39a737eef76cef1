"""The Iv3 mapping: every stored event as lines of the CBS Iv3 matrix. Version 2.0.

Iv3 (Informatie voor derden) is how a gemeente or gemeenschappelijke regeling reports
its lasten and baten to the CBS: per taakveld (what the money is for) and economische
categorie (what kind of money it is). This module is the ledger's versioned, pure
answer to "where does this event go?". `projections/iv3.py` reads the events and adds
the lines up; `MAPPING_VERSION` is shown with every report, so a figure can always be
traced to the table that placed it. Change the table: raise the version.

Vocabulary: the BBV taakvelden and Iv3 categorieën as introduced in 2017, with the
Wmo maatwerkdienstverlening 18+ in the four parts CBS split 6.71 into from 2023
(6.71a huishoudelijke hulp, 6.71b begeleiding, 6.71c dagbesteding, 6.71d overige
maatwerkarrangementen). `ledger/iv3_cbs.py` writes each code as that year's definities
file of CBS has it (6.71 until 2022, 6.71a-d in 2023-2024, 6.711-6.714 from 2025) and
moves a line off a grey cell; the years before 2017 have no taakvelden and no delivery.

Versions: 1.0 6.71 undivided in every year, the opening balance of a reserve no line.
2.0 (issue 18) the Wmo in 6.71a-d, written per year; a reserve's opening balance an
`opening` line, the position the reserve starts from on the balance (never a last or
baat).

Amounts are integer cents. A line's side is `lasten` or `baten`; a negative amount
only comes from a correction or a downward BudgetRevised.

## Lasten

| event | category / detail | taakveld | categorie |
|---|---|---|---|
| CostBooked | `uitkering`, `bbz` | 6.3 Inkomensregelingen | 4.1.1 Sociale uitkeringen in geld |
| CostBooked, SubsidyPaid | `loonkostensubsidie` (every SubsidyPaid) | 6.3 | 4.2 Subsidies |
| CostBooked | `tegenprestatie` | 6.3 | 3.8 Overige goederen en diensten |
| CostBooked | `wsw-loonkosten` | 6.4 WSW en beschut werk | 4.3.3 Inkomensoverdrachten - gemeenschappelijke regelingen (an organisation: 1.1 Salarissen en sociale lasten) |
| CostBooked | `sw-tekort`, `exploitatietekort` | 6.4 | 4.3.3 |
| CostBooked | `begeleiding`, `jobcoach`, `scholing`, `diagnose`, `activering`, `bemiddeling` | the line's taakveld | 3.8 |
| CostBooked | `no-risk`, `werkplekaanpassing` | the line's taakveld | 4.2 |
| CostBooked | `uitvoering`, `loonkosten` | the line's taakveld | 1.1 Salarissen en sociale lasten |
| CostBooked | `dagbesteding` | 6.71c Dagbesteding (Wmo) | 3.4.1 Sociale uitkeringen in natura |
| CostBooked | `huishoudelijke-hulp` on `wmo` | 6.71a Huishoudelijke hulp (Wmo) | 3.8 |
| CostBooked | `begeleiding` on `wmo` | 6.71b Begeleiding (Wmo) | 3.8 |
| CostBooked | `vrijwilligerswerk` | 6.1 Samenkracht en burgerparticipatie | 3.8 |
| CostBooked | `overhead` | 0.4 Overhead | 3.8 |
| CostBooked | any other category | the line's taakveld | 3.8 |
| ReserveAdded | (dotatie, reflux included) | 0.10 Mutaties reserves | 7.1 Mutatie reserves |
| OrganisationCostBooked | the unit's cost | the unit's taakveld | 3.8 |
| OrganisationResultDetermined | a deficit: the uncovered net cost | the unit's taakveld | 3.8 |
| OrganisationResultDetermined | a surplus: paid back to the members | the unit's taakveld | 4.3.2 Inkomensoverdrachten - gemeenten |

The line's taakveld: 6.4 on a sub-budget (or an organisation's unit) named `wsw` or
`beschut-werk`; otherwise by budget: `inkomensdeel` and `werk-en-inkomen` 6.3,
`participatiebudget` and `algemene-middelen` 6.5 Arbeidsparticipatie, `wmo` 6.71d
Overige maatwerkarrangementen (Wmo), any other budget 6.5.

## Baten

| event | source / detail | taakveld | categorie |
|---|---|---|---|
| BudgetAllocated, IncomeBooked | `rijk`, `meeneemregeling` | the line's taakveld | 4.3.1 Inkomensoverdrachten - Rijk |
| BudgetAllocated, IncomeBooked | `sociaal-deelfonds`, `gemeentefonds`, `algemene-middelen` | 0.7 Algemene uitkering en overige uitkeringen gemeentefonds | 4.3.1 |
| BudgetAllocated, IncomeBooked | `gemeenten` (contributions to an organisation) | the line's taakveld | 4.3.2 Inkomensoverdrachten - gemeenten |
| BudgetAllocated, IncomeBooked | `opbrengst`, any other source | the line's taakveld | 3.8 |
| BudgetRevised | the source of the allocation it revises (see `lines`), else `rijk` | as that source | as that source |
| ReserveWithdrawn | (onttrekking) | 0.10 | 7.1 |
| OrganisationCostBooked | the members' contribution (the cost split) | the unit's taakveld | 4.3.2 |
| OrganisationResultDetermined | a deficit: charged to the members | the unit's taakveld | 4.3.2 |
| OrganisationResultDetermined | a surplus: the net revenue | the unit's taakveld | 3.8 |

## No lines
- FundsReallocated: money moving between the party's own budgets is neither a baat nor
  a last; where it came from was reported when it was allocated.
- ReserveEstablished: the opening balance is a balance-sheet position (reserves built
  up by earlier years' toevoegingen), not a mutation of this year; Iv3's exploitation
  matrix only sees reserves through 0.10. It is one `opening` line (0.10, 7.1), which
  ledger/iv3_cbs.py adds to the reserves' position at the start of its year.
- WinstRealised, WinstReinvested: memorandum figures in this ledger (they move no budget
  line; the journal keeps them apart from the money). The money itself is reported
  where it was booked (an `opbrengst`, a reinvestment's CostBooked); mapping winst too
  would count it twice.
- Commitments (SubsidyGranted, LoonwaardeMeasured, SubsidyEnded): not realised.
- Outflow (notional), placements, keys, memberships, steering modes, YearClosed.
- Correction: the exact negation of the lines of the event it reverses, reported in the
  correction's own year and effective date (as ledger/effects.py books it).

## Begroting (periode 0)
What the ledger knows as budget is the allocations: the baten of BudgetAllocated and
BudgetRevised (and their corrections) as above, and as lasten each budget line's
allocation change (allocations, revisions, FundsReallocated) on the line's taakveld
with the budget's usual categorie (`inkomensdeel` 4.1.1, `werk-en-inkomen` 1.1, `wmo`
3.4.1, any other 3.8): the frame the council set, assumed spent as allocated.

## Sources relied on, and the choices made where they are silent
- Vraagbaak Iv3 Gemeenten, "0.10 Mutaties reserves" (only categorie 7.1 on it) and
  "0.7 Algemene uitkering en overige uitkeringen gemeentefonds" (integratie- and
  decentralisatie-uitkeringen there; specifieke uitkeringen on the taakveld they fund:
  hence `rijk` (BUIG; the participatiebudget until 2014) on the line's taakveld and the
  sociaal deelfonds on 0.7).
- Iv3-informatievoorschrift (BZK, as published on findo.nl): "6.3 Inkomensregelingen"
  (inkomensvoorzieningen and loonkostensubsidies under the Participatiewet, Bbz
  levensonderhoud; uitkeringen on 4.1.1); "6.4 WSW en beschut werk" (beschut werk, Wsw, arbeidsmatige dagbesteding;
  re-integration belongs on 6.5, Wmo dagbesteding on 6.71; the Wsw budget's baten on
  0.7); "4.3.3 Inkomensoverdrachten - gemeenschappelijke regelingen" (a gemeente's
  contribution to a GR for the WSW or a deficit; compensation of another gemeente on
  4.3.2); the overhead taakveld (the BBV definition since 2017: only the costs of
  steering and supporting the staff of the primary process; the sociale dienst's own
  execution is primary process, so `uitvoering` stays on 6.x, never on 0.4).
- BZK, "3.0 Goederen en diensten" and Vraagbaak Iv3 Provincies "4.0 Overdrachten":
  goods and services need a counter-performance; sociale uitkeringen in natura are 3.4.1.
- Choices: loonkostensubsidie, no-risk and werkplekaanpassing are payments to an
  employer without a direct counter-performance, hence 4.2 Subsidies. The ledger cannot
  tell purchase from subsidy for the re-integration instruments and defaults to 3.8.
  Wsw wages of a gemeente are taken to go to its SW-bedrijf as a GR (4.3.3, the example
  the voorschrift gives); an organisation pays them itself (1.1). `tegenprestatie` is a
  condition of the bijstand, not re-integration (it may not be charged to the
  participatiebudget, seed 002 L1063), so 6.3. `algemene-middelen` are for the most part
  the algemene uitkering uit het gemeentefonds: the ledger cannot see which general
  revenue covered the line and reports them on 0.7; the gemeente's own full Iv3 shows
  the real mix. `meeneemregeling` is last year's unspent Rijk money released this year.
  An organisation's result is known net only, so it is reported net with its settlement.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ledger.effects import Effects, effects_of

MAPPING_VERSION = "2.0"
LASTEN, BATEN = "lasten", "baten"
OPENING = "opening"  # a reserve's opening balance: a position, not a mutation

# Taakvelden
OVERHEAD, GEMEENTEFONDS, RESERVES = "0.4", "0.7", "0.10"
SAMENKRACHT, INKOMEN, WSW, ARBEID = "6.1", "6.3", "6.4", "6.5"
HUISHOUDELIJKE_HULP, BEGELEIDING, DAGBESTEDING, MAATWERK = "6.71a", "6.71b", "6.71c", "6.71d"
# Categorieën
SALARISSEN, IN_NATURA, GOEDEREN_DIENSTEN = "1.1", "3.4.1", "3.8"
UITKERINGEN, SUBSIDIES = "4.1.1", "4.2"
VAN_RIJK, GEMEENTEN, GR = "4.3.1", "4.3.2", "4.3.3"
MUTATIE_RESERVES = "7.1"

_BUDGET_TAAKVELD = {
    "inkomensdeel": INKOMEN,
    "werk-en-inkomen": INKOMEN,
    "participatiebudget": ARBEID,
    "algemene-middelen": ARBEID,
    "wmo": MAATWERK,
}
_BUDGET_CATEGORIE = {"inkomensdeel": UITKERINGEN, "werk-en-inkomen": SALARISSEN, "wmo": IN_NATURA}
_WSW_LINES = frozenset({"wsw", "beschut-werk"})

# category -> (taakveld, or None for the line's; categorie)
_CATEGORIES: dict[str, tuple[str | None, str]] = {
    "uitkering": (INKOMEN, UITKERINGEN),
    "bbz": (INKOMEN, UITKERINGEN),
    "loonkostensubsidie": (INKOMEN, SUBSIDIES),
    "tegenprestatie": (INKOMEN, GOEDEREN_DIENSTEN),
    "wsw-loonkosten": (WSW, GR),
    "sw-tekort": (WSW, GR),
    "exploitatietekort": (WSW, GR),
    "no-risk": (None, SUBSIDIES),
    "werkplekaanpassing": (None, SUBSIDIES),
    "uitvoering": (None, SALARISSEN),
    "loonkosten": (None, SALARISSEN),
    "dagbesteding": (DAGBESTEDING, IN_NATURA),
    "vrijwilligerswerk": (SAMENKRACHT, GOEDEREN_DIENSTEN),
    "overhead": (OVERHEAD, GOEDEREN_DIENSTEN),
}
_ORGANISATION_CATEGORIES: dict[str, tuple[str | None, str]] = {"wsw-loonkosten": (WSW, SALARISSEN)}
# category -> taakveld on the `wmo` budget, where the Wmo's part says more than the budget
_WMO_CATEGORIES = {"huishoudelijke-hulp": HUISHOUDELIJKE_HULP, "begeleiding": BEGELEIDING}

# source -> (taakveld, or None for the line's; categorie)
_SOURCES: dict[str, tuple[str | None, str]] = {
    "rijk": (None, VAN_RIJK),
    "meeneemregeling": (None, VAN_RIJK),
    "sociaal-deelfonds": (GEMEENTEFONDS, VAN_RIJK),
    "gemeentefonds": (GEMEENTEFONDS, VAN_RIJK),
    "algemene-middelen": (GEMEENTEFONDS, VAN_RIJK),
    "gemeenten": (None, GEMEENTEN),
}


@dataclass(frozen=True, slots=True)
class Line:
    """One amount on one cell of the matrix."""

    side: str
    taakveld: str
    categorie: str
    cents: int

    def negated(self) -> Line:
        return replace(self, cents=-self.cents)


# Given a BudgetRevised's entry: the source of the allocation it revises, if known.
SourceOf = Callable[[dict[str, Any]], str | None]


def _unknown(entry: dict[str, Any]) -> str | None:
    return None


def _line_taakveld(budget: str | None, line: str | None) -> str:
    """Where a budget line's money goes when its category or source does not say."""
    if line in _WSW_LINES:
        return WSW
    return _BUDGET_TAAKVELD.get(budget or "", ARBEID)


def lines(
    entry: dict[str, Any],
    derived: dict[str, Any] | None = None,
    *,
    organisation: bool = False,
    source_of: SourceOf = _unknown,
) -> list[Line]:
    """The Iv3 lines of one stored event (its entry and what the ledger derived for it).
    `organisation`: the party is a shared organisation. `source_of` resolves what a
    BudgetRevised carries no field for: the source of the allocation it revises."""
    derived = derived or {}
    if entry["type"] == "Correction":
        original = derived["original"]
        return [line.negated() for line in _own(original, original.get("derived") or {}, organisation, source_of)]
    return _own(entry, derived, organisation, source_of)


def begroting(
    entry: dict[str, Any], derived: dict[str, Any] | None = None, *, source_of: SourceOf = _unknown
) -> list[Line]:
    """The begroting (periode 0) lines of one event: the allocations' baten, and each
    budget line's allocation change as lasten (see the module docstring)."""
    derived = derived or {}
    allocating = reversed_type(entry, derived) in ("BudgetAllocated", "BudgetRevised")
    baten = lines(entry, derived, source_of=source_of) if allocating else []
    return baten + allocation_changes(effects_of(entry, derived))


def reversed_type(entry: dict[str, Any], derived: dict[str, Any]) -> str:
    """An event's type, or for a correction the type of the event it reverses."""
    return derived["original"]["type"] if entry["type"] == "Correction" else entry["type"]


def allocation_changes(effects: Effects) -> list[Line]:
    """The begroting's lasten of one event's effects: each budget line's allocation
    change, on the line's taakveld with the budget's usual categorie. Apart from
    `begroting` because they never depend on another event, and the projector has the
    effects at hand (projections/iv3_sums.py keeps them as they come)."""
    out = []
    for d in effects.lines:
        if d.allocated:
            categorie = _BUDGET_CATEGORIE.get(d.budget, GOEDEREN_DIENSTEN)
            out.append(Line(LASTEN, _line_taakveld(d.budget, d.sub_budget), categorie, d.allocated))
    return out


def _own(entry: dict[str, Any], derived: dict[str, Any], organisation: bool, source_of: SourceOf) -> list[Line]:
    kind, data = entry["type"], entry["data"]
    amount = data.get("amountCents", 0)
    if kind == "CostBooked":
        return [_cost(data["category"], data["budget"], data.get("subBudget"), amount, organisation)]
    if kind == "SubsidyPaid":
        return [_cost("loonkostensubsidie", derived["budget"], None, amount, organisation)]
    if kind in ("BudgetAllocated", "IncomeBooked"):
        return [_baat(data["source"], data["budget"], data.get("subBudget"), amount)]
    if kind == "BudgetRevised":
        return [_baat(source_of(entry) or "rijk", data["budget"], data.get("subBudget"), amount)]
    if kind == "ReserveEstablished":
        opening = data.get("openingBalanceCents", 0)
        return [Line(OPENING, RESERVES, MUTATIE_RESERVES, opening)] if opening else []
    if kind == "ReserveAdded":
        return [Line(LASTEN, RESERVES, MUTATIE_RESERVES, amount)]
    if kind == "ReserveWithdrawn":
        return [Line(BATEN, RESERVES, MUTATIE_RESERVES, amount)]
    if kind == "OrganisationCostBooked":
        taakveld = _line_taakveld(None, data["unit"])
        return [Line(LASTEN, taakveld, GOEDEREN_DIENSTEN, amount), Line(BATEN, taakveld, GEMEENTEN, amount)]
    if kind == "OrganisationResultDetermined" and amount:
        taakveld = _line_taakveld(None, data["unit"])
        net, settled = (LASTEN, BATEN) if amount < 0 else (BATEN, LASTEN)
        return [Line(net, taakveld, GOEDEREN_DIENSTEN, abs(amount)), Line(settled, taakveld, GEMEENTEN, abs(amount))]
    return []


def _cost(category: str, budget: str, sub: str | None, cents: int, organisation: bool) -> Line:
    place = (_ORGANISATION_CATEGORIES if organisation else {}).get(category) or _CATEGORIES.get(category)
    taakveld, categorie = place or (None, GOEDEREN_DIENSTEN)
    if taakveld is None and budget == "wmo" and sub not in _WSW_LINES:
        taakveld = _WMO_CATEGORIES.get(category)
    return Line(LASTEN, taakveld or _line_taakveld(budget, sub), categorie, cents)


def _baat(source: str, budget: str, sub: str | None, cents: int) -> Line:
    taakveld, categorie = _SOURCES.get(source, (None, GOEDEREN_DIENSTEN))
    return Line(BATEN, taakveld or _line_taakveld(budget, sub), categorie, cents)


def code_order(code: str) -> tuple[int, ...]:
    """Sort key of a taakveld or categorie code: 0.4 before 0.10, 6.5 before 6.71a."""
    return tuple((int(digits), rest) for digits, rest in re.findall(r"(\d+)(\D*)", code))
