"""The SiSa mapping: the Participatiewet indicators of the SiSa bijlage the ledger can
derive, per bijlage year, from the stored events. Version 1.0.

SiSa (Single information, Single audit) is how a gemeente, and a gemeenschappelijke
regeling carrying out a task for it, accounts to the Rijk for a specifieke uitkering: a
bijlage to the jaarrekening with, per regeling, numbered indicators (`G2/01`), sent to
the CBS by 15 July of the next year (Regeling informatieverstrekking sisa, art. 2). The
Participatiewet's line is SZW G2, the gebundelde uitkering of article 69 Participatiewet
(the BUIG: algemene bijstand, IOAW, IOAZ, Bbz-levensonderhoud, loonkostensubsidie), in
the ledger the `inkomensdeel`. `projections/sisa.py` adds the events up; every answer
carries `MAPPING_VERSION`, so a figure can be traced to the table that placed it.
Change the table: raise the version.

## What each derived indicator adds up (amounts in cents, by budget year)

| measure | events |
|---|---|
| besteding algemene bijstand | CostBooked `uitkering` |
| baten algemene bijstand (exclusief Rijk) | IncomeBooked on the `inkomensdeel` from any source but the Rijk's money (`rijk`, `meeneemregeling`, `sociaal-deelfonds`, `gemeentefonds`) and the party's own (`algemene-middelen`): its own revenue (`opbrengst`: terugvordering, verhaal) |
| besteding loonkostensubsidie art. 10d | CostBooked `loonkostensubsidie`, every SubsidyPaid |

A Correction counts as the negation of (the corrected part of) the event it reverses,
in the correction's own year, as everywhere in the ledger (ledger/effects.py).

Where the ledger does not hold what an indicator asks, the row says so (`missing`) and
carries no value, rather than a guess:
- IOAW and IOAZ: the ledger's category `uitkering` does not tell the law a benefit is
  paid under; a party booking its IOAW and IOAZ as `uitkering` finds them in the
  algemene bijstand.
- Bbz 2004 levensonderhoud: `bbz` does not tell beginnende from gevestigde
  zelfstandigen, and until 2019 the gevestigde were a regeling of their own (G3).
- A gemeente's part carried out by a gemeenschappelijke regeling: the GR's bookings
  carry no member, so they show in the GR's own answer (`deel openbaar lichaam`),
  never in the member's (`gemeentedeel`), which holds what the gemeente booked itself.

## Years, codes and sources
Mapped are only the years for which the regeling's code and title were confirmed in a
published bijlage; any other year is refused (`sisa-year-not-mapped`), not guessed:
- 2016: "SZW G2 Gebundelde uitkering op grond van artikel 69 Participatiewet
  gemeentedeel 2016" beside "G3 Besluit bijstandsverlening zelfstandigen 2004
  (exclusief levensonderhoud beginnende zelfstandigen)" (gemeente Maassluis,
  Jaarverslag 2016, "Single information Single audit",
  maassluis.jaarverslag-2016.nl/p666).
- 2018: "SZW G2 - Gebundelde uitkering op grond van artikel 69 Participatiewet
  gemeentedeel 2018" beside G3 Bbz 2004 excl. levensonderhoud beginnende zelfstandigen
  (gemeente Dronten, Jaarstukken 2018, 5.6 "Single Information Single Audit (SiSa)",
  dronten.jaarverslag-2018.nl/p14389).
- Not mapped: 2015 and 2017 (no bijlage of those years read); 2019 and later (from 2020
  the Bbz-levensonderhoud of gevestigde zelfstandigen moved into the gebundelde
  uitkering, imk.nl "Voorlopige verdeling bijstandsbudgetten 2020", so the G2 of those
  years differs, and no bijlage of them was read as far as G2).
- Indicator numbers: the bijlage numbers a regeling's indicators from 01 in the order
  of its columns ("Indicatornummer: D1 / 01", gemeente Groningen, Jaarverslag 2016,
  "Sisa-bijlage"; "Indicator: B1/01", gemeente Lingewaard, Jaarverslag 2020). G2/01
  "Besteding (jaar T) algemene bijstand" and G2/02 "Baten (jaar T) algemene bijstand
  (exclusief Rijk)" are the first two columns of the gemeentedeel as the issue names
  them; the numbers of the further columns (IOAW, IOAZ, Bbz, loonkostensubsidie) could
  not be read in any bijlage, so those rows carry `code: null`: the figure is there
  (where the ledger holds it), to be typed into the column of that text. The deel
  openbaar lichaam numbers its columns per gemeente, which could not be confirmed
  either: every row of a GR's answer has `code: null`.
- The loonkostensubsidie column: the Rijk sets a gemeente's loonkostensubsidie budget
  from "de netto uitgaven ... volgens de verantwoordingsinformatie, bedoeld in artikel
  17a, eerste lid, van de Financiële-verhoudingswet" (Besluit van 22 september 2021,
  Stb. 2021, 442), that is from this SiSa line.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

MAPPING_VERSION = "1.0"
REGELING = "G2"
TITLE = "Gebundelde uitkering op grond van artikel 69 Participatiewet"
GEMEENTEDEEL, OPENBAAR_LICHAAM = "gemeentedeel", "deel openbaar lichaam"

# Measures: what the ledger adds up for an indicator.
BIJSTAND, BIJSTAND_BATEN, LKS = "bijstand", "bijstand-baten", "loonkostensubsidie"
MEASURES = (BIJSTAND, BIJSTAND_BATEN, LKS)
_NOT_BATEN = frozenset({"rijk", "meeneemregeling", "sociaal-deelfonds", "gemeentefonds", "algemene-middelen"})


def _law(name: str) -> str:
    return (f"the ledger's category uitkering does not tell the law a benefit is paid under; "
            f"{name} booked as uitkering is in the algemene bijstand")


_BBZ = ("the ledger's category bbz does not tell beginnende from gevestigde zelfstandigen "
        "(until 2019 the gevestigde are regeling G3)")


@dataclass(frozen=True, slots=True)
class Indicator:
    """One column of the bijlage: its number where confirmed (see the module docstring),
    its text, and the measure that fills it or why the ledger cannot."""

    code: str | None
    text: str
    measure: str | None = None
    missing: str | None = None


def _gemeentedeel() -> tuple[Indicator, ...]:
    return (
        Indicator("G2/01", "Besteding (jaar T) algemene bijstand", BIJSTAND),
        Indicator("G2/02", "Baten (jaar T) algemene bijstand (exclusief Rijk)", BIJSTAND_BATEN),
        Indicator(None, "Besteding (jaar T) IOAW", missing=_law("IOAW")),
        Indicator(None, "Besteding (jaar T) IOAZ", missing=_law("IOAZ")),
        Indicator(None, "Besteding (jaar T) Bbz 2004 levensonderhoud beginnende zelfstandigen", missing=_BBZ),
        Indicator(None, "Besteding (jaar T) loonkostensubsidie o.g.v. artikel 10d Participatiewet", LKS),
    )


YEARS: dict[int, tuple[Indicator, ...]] = {2016: _gemeentedeel(), 2018: _gemeentedeel()}


class YearNotMapped(Exception):
    """The mapping holds no bijlage of this year."""

    def __init__(self, year: int):
        super().__init__(f"the SiSa mapping {MAPPING_VERSION} covers the bijlagen of {', '.join(map(str, YEARS))}, not {year}")


def indicators(year: int, organisation: bool) -> tuple[Indicator, ...]:
    """The columns of `year`'s G2 for a gemeente, or for a GR (the deel openbaar lichaam:
    the same texts, numbers unconfirmed); YearNotMapped for a year not in YEARS."""
    if year not in YEARS:
        raise YearNotMapped(year)
    columns = YEARS[year]
    return tuple(replace(c, code=None) for c in columns) if organisation else columns


def amounts(entry: dict[str, Any], derived: dict[str, Any] | None = None) -> dict[str, int]:
    """What one stored event adds to each measure; a correction, the negation of what
    the (part of the) event it reverses added."""
    derived = derived or {}
    if entry["type"] == "Correction":
        original = derived["original"]
        return {m: -cents for m, cents in _own(original).items()}
    return _own(entry)


def _own(entry: dict[str, Any]) -> dict[str, int]:
    kind, data = entry["type"], entry["data"]
    if kind == "CostBooked" and data["category"] == "uitkering":
        return {BIJSTAND: data["amountCents"]}
    if (kind == "CostBooked" and data["category"] == "loonkostensubsidie") or kind == "SubsidyPaid":
        return {LKS: data["amountCents"]}
    if kind == "IncomeBooked" and data["budget"] == "inkomensdeel" and data["source"] not in _NOT_BATEN:
        return {BIJSTAND_BATEN: data["amountCents"]}
    return {}
