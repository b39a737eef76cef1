"""The Iv3 delivery as CBS takes it: the ledger's Iv3 lines (ledger/iv3.py) written in
CBS's JSON data schema 2.1.1, in the codes of that year's definities file, with the
balance sections, and the checks of the definities that the ledger's figures can fail.

Pure: `projections/iv3.py` reads the lines and the positions, this module writes the
delivery. The CBS files are in ledger/cbs/ (unchanged, gzipped; see its README.md).

## Which definities file
The one of the party's overheidslaag (`Gemeente`, or `GR` for a shared organisation)
and boekjaar. Before the first file (Gemeente 2017, GR 2018 in CBS's repository) there
were no taakvelden: `BeforeTaakvelden` (the API's 422 iv3-before-taakvelden). After the
last file the last one is used and the delivery says so in `opmerkingen`: the ledger
keeps budget years ahead (a begroting is made a year early) and CBS publishes a year's
file late; the newest code list is the best the ledger knows, and the remark tells the
controller to check it against CBS's file once it is out.

## Codes per year (`place`)
The mapping's Wmo taakvelden 6.71a-d are 6.71 until 2022, 6.71a-d in 2023-2024 and
6.711-6.714 from 2025 (CBS split 6.71 in 2023 and renumbered in 2025). Every other
code the mapping uses is in every year's lists; the tests hold every code of every
delivery to its year's lists. A line on a grey cell (`grijze_cellen`) moves: a Rijk
baat (4.3.1) to 0.7, where the gemeentefonds' uitkeringen are reported (6.4 and 6.5
take no 4.3.1 in the files up to 2022: the participatiebudget went into the
gemeentefonds in 2015; 2023's open the cell again); any other line to categorie 3.8 of its taakveld (a Wmo
werkplekaanpassing: no 4.2 on 6.71). Should that be grey too, it is 0.8 Overige baten
en lasten, 3.8 (never grey). Moved lines keep their cents: no amount is lost, and the
tests require no amount in a grey cell.

## The balance (`balans_lasten`, `balans_baten`, `balans_standen`)
The ledger's part of the books is taken as one closed set: its reserves (P112
bestemmingsreserves: every reserve of the ledger is established for a purpose, its
ReserveEstablished's `purpose`; the algemene reserve, P111, is the gemeente's own
buffer outside this ledger), the results of its years not taken into a reserve
(P114 saldo van rekening), and as their counterpart the money they are (A23 liquide
middelen). So, per period:
- lasten 0.10/7.1 (toevoegingen) are balans_baten on the reserve, baten 0.10/7.1
  (onttrekkingen) balans_lasten on it, both 7.1;
- the result, baten minus lasten, is a last (a surplus) or a baat (a deficit) on 0.11
  Resultaat/7.1, and balans_baten (or balans_lasten) on P114/7.1;
- the money, every other baat received minus every other last paid, is balans_lasten
  (more money) or balans_baten (less) on A23/6.1 Financiële transacties.
The standen: at the start of the year the reserves' opening balances (ReserveEstablished
of that year or before) plus every earlier year's mutations, P114 the earlier years'
results, A23 their sum; at the period's end each plus the period's mutations. The
standper codes are the definities': `1 januari`/`ultimo` for the begroting and the
jaarrekening, `1-1-YYYY` and the quarter's last day for the quarters (`1 januari` and
`ultimo` in the 2017-2019 files, which list no others).

## Amounts
`bedrag` is in thousands of euros, as CBS's inzendinstructie asks (its Excel model
says "bedragen x 1.000 euro"), written exactly: the cents as a decimal fraction of a
thousand (EUR 1.234,56 is 1.23456), never rounded. Rounding each cell to whole thousands
would make the delivery fail its own checks (the totals of PF006 and the balance of
PF007/PF008 differ by the rounding) or need a made-up rounding line; CBS's checks
allow for rounding, not for a ledger that rounds. The values are `Decimal`, so no float
ever holds money: the API writes them as JSON numbers digit for digit.

## The checks (`failed`), as far as the ledger's figures can fail them
CBS's `controles` give a check's code and periods, its name is in fouten.json; the
formula below is the ledger's reading of that name. The 2017-2019 files (definitiebestand
1.0) hold one check, `controlelijst` "Controle 01", written out as a formula: PF001's,
with no periods given (the ledger applies it to 1-5, as the later files do).
- PF001 saldo niet-financiële rekening = saldo financiële rekening (periods 1-5):
  baten minus lasten of the lopende rekening (categorieën 1-5, taakvelden and balance)
  equal lasten minus baten of 6.1 (the EMU-saldo both ways). Passes: the A23/6.1 line is that saldo.
- PF002 only 6.1, 7.2, 7.5 on the financial balance codes the check lists: A23 has 6.1
  only. Passes.
- PF003 standen develop by the matrix' mutations, for the codes listed per period:
  A23 (listed for 1-5), P112 and P114 (for 5): each end stand is the start stand
  plus its mutations by construction. Passes.
- PF004 verrekencategorieën (7.1-7.5) add up to the same on both sides: every 7.1 last
  on 0.10 or 0.11 has its baat on the balance and the reverse. Passes.
- PF005 categorie 6.1 only on the balance (0.5 Treasury excepted): the mapping puts no
  line on 6.1. Passes.
- PF006 totaal lasten = totaal baten (periods 0 and 5): the result line on 0.11.
  Passes (it is written in every period, so the quarters balance too).
- PF007, PF008 activa = passiva at the start and at the end (period 5): A23 is the
  reserves plus P114 by construction. Passes.
- PF009 no 4.3.9 or 4.4.9 (onverdeeld) in periods 1-5: the mapping never uses them.
  Passes.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from ledger import iv3

CBS_DIR = Path(__file__).with_name("cbs")
SCHEMA_FILE = "iv3_data_schema_v2_1_1.json"
GEMEENTE, GR = "Gemeente", "GR"
BEGROTING, JAARREKENING = 0, 5
SIDES = ("lasten", "baten", "balans_lasten", "balans_baten")

# Taakvelden and categorieën of the balancing lines (see the module docstring)
RESULTAAT, OVERIG = "0.11", "0.8"
FINANCIEEL = "6.1"
BESTEMMINGSRESERVES, SALDO, LIQUIDE_MIDDELEN = "P112", "P114", "A23"
_INTERNAL = ("7.1", "7.2", "7.3", "7.4", "7.5")
_ONVERDEELD = ("4.3.9", "4.4.9")
_PF002_ALLOWED = ("6.1", "7.2", "7.5")
# The mapping's Wmo parts (2023's codes) as CBS numbers them per year
_WMO_2025 = {iv3.HUISHOUDELIJKE_HULP: "6.711", iv3.BEGELEIDING: "6.712", iv3.DAGBESTEDING: "6.713",
             iv3.MAATWERK: "6.714"}
_WMO_SPLIT, _WMO_RENUMBERED = 2023, 2025


class BeforeTaakvelden(Exception):
    """A boekjaar before the first definities file of its overheidslaag."""

    def __init__(self, overheidslaag: str, year: int, first: int):
        super().__init__(
            f"Iv3 by taakveld starts with boekjaar {first} for a {overheidslaag} (the BBV taakvelden start with "
            f"begroting 2017); {year} was reported by the older functie-indeling, which the ledger does not write"
        )
        self.overheidslaag, self.year, self.first = overheidslaag, year, first


def read(name: str) -> Any:
    """One of CBS's files in ledger/cbs/, as JSON."""
    with gzip.open(CBS_DIR / f"{name}.gz", "rt", encoding="utf-8") as f:
        return json.load(f)


@cache
def _years(overheidslaag: str) -> tuple[int, ...]:
    prefix = f"iv3_definities_{overheidslaag}_"
    return tuple(sorted(int(p.name[len(prefix):][:4]) for p in CBS_DIR.glob(f"{prefix}*.json.gz")))


def first_year(overheidslaag: str) -> int:
    return _years(overheidslaag)[0]


def _leaves(tree: Iterable[dict[str, Any]]) -> list[str]:
    return [code for node in tree for code in (_leaves(node["subcodes"]) if node.get("subcodes") else [node["code"]])]


def _codes(tree: Iterable[dict[str, Any]]) -> set[str]:
    out: set[str] = set()
    for node in tree:
        out.add(node["code"])
        out |= _codes(node.get("subcodes", ()))
    return out


@dataclass(frozen=True)
class Definities:
    """What one year's definities file says: its code lists, grey cells and checks."""

    overheidslaag: str
    boekjaar: int  # of the file, which may be before the delivery's
    codes: Mapping[str, frozenset[str]]  # taakveld, categorie_lasten, categorie_baten, balanscode, standper
    leaves: Mapping[str, tuple[str, ...]]  # the same lists' codes without subcodes, in the file's order
    grey: Mapping[str, frozenset[tuple[str, str]]]  # per side: (taakveld or balanscode, categorie)
    controles: Mapping[str, tuple[dict[str, Any], ...]]  # foutcode -> calculaties
    begin_standper: frozenset[str]
    end_standper: frozenset[str]

    def checked_in(self, foutcode: str, period: int) -> list[dict[str, Any]]:
        """The calculaties of a check that apply to `period`."""
        return [c for c in self.controles.get(foutcode, ()) if period in c.get("periode", ())]


@cache
def definities(overheidslaag: str, year: int) -> Definities:
    """The definities of `year` (the last file's after it); BeforeTaakvelden before the first."""
    years = _years(overheidslaag)
    if year < years[0]:
        raise BeforeTaakvelden(overheidslaag, year, years[0])
    used = max(y for y in years if y <= year)
    raw = read(f"iv3_definities_{overheidslaag}_{used}.json")
    lists = raw["codelijsten"]
    names = ("taakveld", "categorie_lasten", "categorie_baten", "balanscode", "standper")
    codes = {name: frozenset(_codes(lists[name]["codelijst"])) for name in names}
    leaves = {name: tuple(_leaves(lists[name]["codelijst"])) for name in names}
    key = {"lasten": "taakveld", "baten": "taakveld", "balans_lasten": "balanscode", "balans_baten": "balanscode"}
    grey = {side: frozenset((g[key[side]], g["categorie"]) for g in raw["grijze_cellen"].get(side, ())) for side in SIDES}
    standper = lists["standper"]["codelijst"]
    if "controles" in raw:
        controles = {c["foutcode"]: tuple(c["calculaties"]) for c in raw["controles"]}
    else:  # definitiebestand 1.0 (2017-2019): PF001 alone, as a formula, without periods
        controles = {"PF001": ({"periode": [1, 2, 3, 4, 5]},)}
    return Definities(
        overheidslaag, used, codes, leaves, grey, controles,
        frozenset(s["code"] for s in standper if s["omschrijving"] == "begindatum"),
        frozenset(s["code"] for s in standper if s["omschrijving"] == "einddatum"),
    )


def taakveld_in(year: int, code: str) -> str:
    """The mapping's taakveld as CBS numbers it in `year` (see the module docstring)."""
    if code not in _WMO_2025:
        return code
    if year >= _WMO_RENUMBERED:
        return _WMO_2025[code]
    return code if year >= _WMO_SPLIT else "6.71"


def place(defs: Definities, year: int, side: str, taakveld: str, categorie: str) -> tuple[str, str]:
    """The cell of `year`'s matrix a mapped line goes to: its codes of that year, off a
    grey cell (see the module docstring)."""
    grey = defs.grey[side]
    cell = (taakveld_in(year, taakveld), categorie)
    if cell not in grey:
        return cell
    if side == iv3.BATEN and categorie == iv3.VAN_RIJK and (iv3.GEMEENTEFONDS, categorie) not in grey:
        return iv3.GEMEENTEFONDS, categorie
    if (cell[0], iv3.GOEDEREN_DIENSTEN) not in grey:
        return cell[0], iv3.GOEDEREN_DIENSTEN
    return OVERIG, iv3.GOEDEREN_DIENSTEN


def thousands(cents: int) -> Decimal:
    """Cents as thousands of euros, exactly: 123_456 cents (EUR 1.234,56) -> 1.23456."""
    return Decimal(cents).scaleb(-5)


@dataclass(frozen=True)
class Position:
    """Where the ledger's part of the balance stands at the start of a year, in cents."""

    reserves: int  # P112
    result: int  # the earlier years' results, P114

    @property
    def money(self) -> int:
        return self.reserves + self.result


def position(earlier: Iterable[iv3.Line], opening_lines: Iterable[iv3.Line]) -> Position:
    """The start of a year: `earlier`, every realised line of the years before, and
    `opening_lines`, the reserves' opening balances of the year itself."""
    reserves = result = 0
    for line in [*earlier, *opening_lines]:
        if line.side == iv3.OPENING:
            reserves += line.cents
            continue
        sign = 1 if line.side == iv3.BATEN else -1
        result += sign * line.cents
        if line.taakveld == iv3.RESERVES:
            reserves -= sign * line.cents
    return Position(reserves, result)


def standper(defs: Definities, year: int, period: int) -> tuple[str, str]:
    """The standper codes of a period's start and end stand (see the module docstring)."""
    if period in (BEGROTING, JAARREKENING):
        return "1 januari", "ultimo"
    month, day = {1: (3, 31), 2: (6, 30), 3: (9, 30), 4: (12, 31)}[period]
    begin, end = f"1-1-{year}", f"{day}-{month}-{year}"
    return (begin if begin in defs.begin_standper else "1 januari"), (end if end in defs.end_standper else "ultimo")


def delivery(
    defs: Definities,
    metadata: dict[str, Any],
    contact: dict[str, str],
    lines: Iterable[iv3.Line],
    start: Position,
    opmerkingen: list[dict[str, str]],
) -> dict[str, Any]:
    """The delivery of one period: `lines` (the period's lasten and baten, cents) in
    `metadata["boekjaar"]`'s cells, the balancing lines and the balance, in thousands."""
    year, period = metadata["boekjaar"], metadata["periode"]
    cells: dict[tuple[str, str, str], int] = {}
    reserve_moves = 0  # the net toevoeging, cents

    def add(side: str, code: str, categorie: str, cents: int) -> None:
        cells[(side, code, categorie)] = cells.get((side, code, categorie), 0) + cents

    for line in lines:
        if line.side == iv3.OPENING:
            continue
        add(line.side, *place(defs, year, line.side, line.taakveld, line.categorie), line.cents)
        if line.taakveld == iv3.RESERVES:
            balance_side = "balans_baten" if line.side == iv3.LASTEN else "balans_lasten"
            add(balance_side, BESTEMMINGSRESERVES, iv3.MUTATIE_RESERVES, line.cents)
            reserve_moves += line.cents if line.side == iv3.LASTEN else -line.cents
    result = sum(c for (s, _, _), c in cells.items() if s == iv3.BATEN) - sum(
        c for (s, _, _), c in cells.items() if s == iv3.LASTEN
    )
    money = result + reserve_moves
    if result:
        add(iv3.LASTEN if result > 0 else iv3.BATEN, RESULTAAT, iv3.MUTATIE_RESERVES, abs(result))
        add("balans_baten" if result > 0 else "balans_lasten", SALDO, iv3.MUTATIE_RESERVES, abs(result))
    if money:
        add("balans_lasten" if money > 0 else "balans_baten", LIQUIDE_MIDDELEN, FINANCIEEL, abs(money))
    begin, end = standper(defs, year, period)
    stands = {
        LIQUIDE_MIDDELEN: (start.money, start.money + money),
        BESTEMMINGSRESERVES: (start.reserves, start.reserves + reserve_moves),
        SALDO: (start.result, start.result + result),
    }
    ordered = sorted(cells.items(), key=lambda c: (iv3.code_order(c[0][1]), iv3.code_order(c[0][2])))
    data: dict[str, list[dict[str, Any]]] = {
        side: [
            {("taakveld" if side in ("lasten", "baten") else "balanscode"): code, "categorie": categorie,
             "bedrag": thousands(cents)}
            for (s, code, categorie), cents in ordered
            if s == side and cents
        ]
        for side in SIDES
    }
    data["balans_standen"] = [
        {"balanscode": code, "standper": when, "bedrag": thousands(cents)}
        for code in stands
        if any(stands[code])
        for when, cents in zip((begin, end), stands[code])
    ]
    out: dict[str, Any] = {"metadata": metadata, "contact": contact, "data": data}
    if opmerkingen:
        out["opmerkingen"] = opmerkingen
    return out


# --- the checks ---------------------------------------------------------------------


def failed(defs: Definities, body: Mapping[str, Any]) -> list[str]:
    """The foutcodes of the checks (see the module docstring) that `body` fails in its period."""
    period = body["metadata"]["periode"]
    data = body["data"]
    out = []

    def total(side: str, want: Any = lambda line: True) -> Decimal:
        return sum((Decimal(line["bedrag"]) for line in data[side] if want(line)), Decimal(0))

    def lopend(line: Mapping[str, Any]) -> bool:
        return line["categorie"] != FINANCIEEL and line["categorie"] not in _INTERNAL

    def financieel(line: Mapping[str, Any]) -> bool:
        return line["categorie"] == FINANCIEEL

    if defs.checked_in("PF001", period):  # as the 2017 file's formula writes it
        niet_financieel = sum(total(s.replace("lasten", "baten"), lopend) - total(s, lopend) for s in ("lasten", "balans_lasten"))
        financieel_saldo = sum(total(s, financieel) - total(s.replace("lasten", "baten"), financieel)
                               for s in ("lasten", "balans_lasten"))
        if niet_financieel != financieel_saldo:
            out.append("PF001")
    for calculatie in defs.checked_in("PF002", period):
        codes = set(calculatie.get("balanscode", ()))
        if any(line["balanscode"] in codes and line["categorie"] not in _PF002_ALLOWED
               for side in ("balans_lasten", "balans_baten") for line in data[side]):
            out.append("PF002")
    stands = {(s["balanscode"], s["standper"]): Decimal(s["bedrag"]) for s in data["balans_standen"]}
    begin, end = standper(defs, body["metadata"]["boekjaar"], period)
    for calculatie in defs.checked_in("PF003", period):
        for code in calculatie.get("balanscode", ()):
            debit = total("balans_lasten", lambda line: line["balanscode"] == code)
            credit = total("balans_baten", lambda line: line["balanscode"] == code)
            moved = debit - credit if code.startswith("A") else credit - debit
            if stands.get((code, end), Decimal(0)) - stands.get((code, begin), Decimal(0)) != moved:
                out.append("PF003")
                break
    if defs.checked_in("PF004", period):
        for categorie in _INTERNAL:
            def internal(line: Mapping[str, Any]) -> bool:
                return line["categorie"] == categorie
            if total("lasten", internal) + total("balans_lasten", internal) != total("baten", internal) + total(
                "balans_baten", internal
            ):
                out.append("PF004")
                break
    for calculatie in defs.checked_in("PF005", period):
        excluded = set(calculatie.get("uitgesloten_taakvelden", ()))
        if any(financieel(line) and line["taakveld"] not in excluded for side in ("lasten", "baten") for line in data[side]):
            out.append("PF005")
    if defs.checked_in("PF006", period) and total("lasten") != total("baten"):
        out.append("PF006")
    for code, when in (("PF007", begin), ("PF008", end)):
        if defs.checked_in(code, period):
            activa = sum((v for (c, w), v in stands.items() if w == when and c.startswith("A")), Decimal(0))
            passiva = sum((v for (c, w), v in stands.items() if w == when and c.startswith("P")), Decimal(0))
            if activa != passiva:
                out.append(code)
    if defs.checked_in("PF009", period) and any(
        line["categorie"] in _ONVERDEELD for side in SIDES for line in data[side]
    ):
        out.append("PF009")
    return out
