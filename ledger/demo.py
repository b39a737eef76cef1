"""Demo data from the source documents, as the events a municipality would post.

Purmerend's participatiebudget and reserve 2014-2018 (seed 002 L1316-1360, see
shared/reference/purmerend.md), figures as published in whole euros, posted in
cents. Event ids are derived from the content's place in the scenario, so loading
the demo twice stores it once (the second load is an idempotent retry).
"""

from __future__ import annotations

import uuid
from typing import Any

_NAMESPACE = uuid.UUID("0b7d3a52-55a4-4f57-9d0e-8d7c1f3e2a61")
PURMEREND = "GM0439"
YEARS = (2014, 2015, 2016, 2017, 2018)

# (event type, data without amount, euros per year 2014..2018; None: nothing that year)
_PURMEREND_ROWS: list[tuple[str, dict[str, Any], tuple[int | None, ...]]] = [
    ("BudgetAllocated", {"source": "rijk"}, (2_348_483, None, None, None, None)),
    ("BudgetAllocated", {"source": "sociaal-deelfonds"}, (None, 1_975_616, 1_975_616, 1_982_104, 2_059_961)),
    ("ReserveWithdrawn", {"reserve": "participatie"}, (548_441, 290_654, 301_757, 293_564, 189_198)),
    ("IncomeBooked", {"source": "meeneemregeling"}, (102_562, None, None, None, None)),
    ("IncomeBooked", {"source": "algemene-middelen"}, (1_455_273, 1_923_745, 2_116_054, 2_333_743, 2_535_568)),
    ("CostBooked", {"category": "loonkosten"}, (1_989_373, 1_977_245, 2_005_916, 2_046_381, 2_065_225)),
    ("CostBooked", {"category": "sociaal-rendement"}, (100_753, 268_748, 438_250, 609_735, 783_344)),
    ("CostBooked", {"category": "scholing"}, (55_829, 10_000, 10_000, 10_000, 10_000)),
    ("CostBooked", {"category": "activering"}, (461_000, 360_000, 360_000, 360_000, 360_000)),
    ("CostBooked", {"category": "bemiddeling"}, (415_000, 266_947, 266_904, 268_098, 268_098)),
    ("CostBooked", {"category": "diagnose"}, (88_500, 81_000, 81_000, 81_000, 81_000)),
    ("CostBooked", {"category": "uitvoering"}, (891_738, 863_154, 868_436, 871_276, 876_755)),
    ("CostBooked", {"category": "individuele-kosten"}, (220_000, 220_421, 220_421, 220_421, 220_421)),
    ("CostBooked", {"category": "projecten"}, (82_566, None, None, None, None)),
    ("CostBooked", {"category": "inburgering"}, (35_000, 20_000, 20_000, 20_000, 20_000)),
    ("CostBooked", {"category": "bbz"}, (5_000, 2_500, 2_500, 2_500, 2_500)),
    ("CostBooked", {"category": "oud-wiw"}, (110_000, 120_000, 120_000, 120_000, 120_000)),
]


def _event(key: str, kind: str, effective: str, data: dict[str, Any], party: str = PURMEREND) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(_NAMESPACE, key)),
        "type": kind,
        "party": party,
        "effectiveDate": effective,
        "reference": "Beleidsplan Participatiewet Purmerend, Participatiebudget 2014-2018",
        "data": data,
    }


def purmerend_setup() -> list[dict[str, Any]]:
    """Registering Purmerend and its reserve: posted by an admin."""
    return [
        _event("purmerend/registered", "PartyRegistered", "2014-01-01", {"name": "Purmerend", "kind": "gemeente"}),
        _event(
            "purmerend/reserve",
            "ReserveEstablished",
            "2014-01-01",
            {
                "reserve": "participatie",
                "openingBalanceCents": 162_361_400,
                "purpose": "Opvangen dalende rijksmiddelen participatiebudget (ingesteld 2011)",
            },
        ),
    ]


def purmerend_year(year: int) -> list[dict[str, Any]]:
    """One year's participatiebudget as the gemeente posts it: one atomic batch."""
    index = YEARS.index(year)
    events = []
    for row, (kind, data, euros) in enumerate(_PURMEREND_ROWS):
        amount = euros[index]
        if amount is None:
            continue
        payload: dict[str, Any] = {"budget": "participatiebudget", **data, "amountCents": amount * 100}
        events.append(_event(f"purmerend/{year}/{row}", kind, f"{year}-12-31", payload))
    return events
