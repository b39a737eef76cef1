"""Euro amounts as a spreadsheet writes them, read into exact cents.

A controller types `1.234,56` in Excel-NL, a financial report prints `22.616-`, an
accounting format shows zero as `€ -`, and a plain CSV holds `1234.56`. Each is read
as decimal digits, never through a float, so no amount is rounded on its way in; one
finer than a cent is refused rather than rounded. The only ambiguous form is a single
dot before three digits (`1.500`): Dutch thousands or a plain decimal point. It reads
as Dutch where the text or its file is Dutch (a `€`, a trailing minus, a
`;`-separated CSV), else as the decimal point.
"""

from __future__ import annotations

import re
from decimal import Decimal

# After the sign and the euro sign are taken off: digits, Dutch thousands dots, a decimal comma or point.
DUTCH = re.compile(r"(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?", re.ASCII)  # 1.234.567,89  1234,5  1234
PLAIN = re.compile(r"\d+(?:\.\d+)?", re.ASCII)  # 1234.56
MAX_LENGTH = 32  # characters: the ledger's largest amount with its thousands dots is 21, and no parse is slow
SPACES = re.compile(r"[\s\u00a0\u202f]+")


class NotAnAmount(ValueError):
    """A text that is no euro amount, or one finer than a cent; the message says how to write it."""


def cents_of_text(text: str, dutch: bool = False) -> int:
    """The cents of a euro amount written as text; `dutch`: the file is Excel-NL's."""
    compact = SPACES.sub("", text)
    if compact == "€-":
        return 0  # the accounting format's zero
    negative = False
    if compact.endswith("-"):  # 22.616-, as a Dutch report prints a negative amount
        compact, negative, dutch = compact[:-1], True, True
    elif compact.startswith(("-", "+")):
        compact, negative = compact[1:], compact[0] == "-"
    if compact.startswith("€"):  # € 1.234,56 and -€ 12,50
        compact, dutch = compact[1:], True
    magnitude = unsigned_decimal(compact, dutch)
    if magnitude is None:
        raise NotAnAmount("is not an amount in euros: write 1.234,56 or 1234.56")
    return _cents(magnitude, negative)


def unsigned_decimal(text: str, dutch: bool) -> Decimal | None:
    """`text` as digits with Dutch thousands dots and decimal comma, or with a decimal
    point; None if it is neither. `dutch` reads a lone `1.500` as fifteen hundred."""
    if len(text) > MAX_LENGTH:
        return None
    if PLAIN.fullmatch(text) and not (dutch and DUTCH.fullmatch(text) and "." in text):
        return Decimal(text)
    if DUTCH.fullmatch(text):
        return Decimal(text.replace(".", "").replace(",", "."))
    return None


def cents_of_number(value: int | float) -> int:
    """The cents of a euro amount in a spreadsheet's number cell. Excel keeps 15
    significant digits; a float's noise beyond them (0.1 + 0.2) is no amount."""
    if isinstance(value, int):
        return value * 100
    amount = Decimal(f"{value:.15g}")  # inf and nan too
    if not amount.is_finite():
        raise NotAnAmount("is not a finite number")
    return _cents(abs(amount), amount < 0)


def _cents(euros: Decimal, negative: bool) -> int:
    cents = euros.scaleb(2)
    if cents != cents.to_integral_value():
        raise NotAnAmount("is finer than a cent: at most two decimals")
    return -int(cents) if negative else int(cents)
