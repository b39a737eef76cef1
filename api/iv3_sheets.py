"""An Iv3 delivery as the three sheets of CBS's Excel model (lasten, baten, balans), for
a controller to check before the JSON goes to CBS.

Each sheet is the model's matrix over the year's full code lists (ledger/iv3_cbs.py's
definities): lasten and baten a row per taakveld and a column per categorie; balans a
row per balanscode with its start stand, its mutations per categorie (lasten, then
baten) and its end stand. Grey cells are grey, as in the model. Amounts are numbers in
thousands of euros, as in the model ("bedragen x 1.000 euro") and the JSON, exact to the
cent (five decimals: 1,23456 is EUR 1.234,56), so a sheet adds up to the delivery's totals.
Every text is a code from CBS's files or the delivery's own keys: nothing a user typed.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import PatternFill

from ledger import iv3_cbs

THOUSANDS_FORMAT = "#,##0.00000"
GREY = PatternFill("solid", fgColor="BFBFBF")
UNIT = "bedragen x 1.000 euro"


def workbook(body: Mapping[str, Any]) -> bytes:
    """The delivery `body` as an .xlsx file of the sheets lasten, baten and balans."""
    meta, data = body["metadata"], body["data"]
    defs = iv3_cbs.definities(meta["overheidslaag"], meta["boekjaar"])
    book = Workbook(write_only=True)
    for side in ("lasten", "baten"):
        sheet = book.create_sheet(side)
        categories = defs.leaves[f"categorie_{side}"]
        amounts = {(line["taakveld"], line["categorie"]): line["bedrag"] for line in data[side]}
        sheet.append([f"taakveld ({UNIT})", *categories])
        for taakveld in defs.leaves["taakveld"]:
            sheet.append([taakveld, *(_amount(sheet, amounts.get((taakveld, c)), (taakveld, c) in defs.grey[side])
                                      for c in categories)])
    sheet = book.create_sheet("balans")
    begin, end = iv3_cbs.standper(defs, meta["boekjaar"], meta["periode"])
    stands = {(s["balanscode"], s["standper"]): s["bedrag"] for s in data["balans_standen"]}
    moves = {(side, line["balanscode"], line["categorie"]): line["bedrag"]
             for side in ("balans_lasten", "balans_baten") for line in data[side]}
    columns = [(side, c) for side in ("balans_lasten", "balans_baten")
               for c in defs.leaves["categorie_lasten" if side == "balans_lasten" else "categorie_baten"]]
    sheet.append([f"balanscode ({UNIT})", f"stand {begin}",
                  *(f"{side.removeprefix('balans_')} {c}" for side, c in columns), f"stand {end}"])
    for code in defs.leaves["balanscode"]:
        sheet.append([
            code, _amount(sheet, stands.get((code, begin)), False),
            *(_amount(sheet, moves.get((side, code, c)), (code, c) in defs.grey[side]) for side, c in columns),
            _amount(sheet, stands.get((code, end)), False),
        ])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _amount(sheet: Any, value: Decimal | None, grey: bool) -> Any:
    cell = WriteOnlyCell(sheet, value=value)
    if value is not None:
        cell.number_format = THOUSANDS_FORMAT
    if grey:
        cell.fill = GREY
    return cell
