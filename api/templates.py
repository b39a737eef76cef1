"""A spreadsheet to fill in, per event type (`GET /v1/templates/{type}`): the header row
of every field the type takes and one example row, which posts as it is once the
examples before it in api.md's order have (the parties registered, the budget
allocated, the grant made) and the party has an inkomensdeel to pay a loonkostensubsidie
from. Its id is fixed per type, so that the Correction's
example corrects the CostBooked's; a row of one's own needs an id of its own."""

from __future__ import annotations

import uuid
from typing import Any

from api.spreadsheet import ENVELOPE, FIELDS

GEMEENTE = "GM0439"
ORGANISATION = "RWB-VOORBEELD"
_IDS = uuid.UUID("4f1f0a52-7d3c-4f4e-9b61-2d0c8e5a9f10")  # the namespace of the examples' ids


def example_id(kind: str) -> str:
    return str(uuid.uuid5(_IDS, kind))


_COST = {"budget": "participatiebudget", "category": "begeleiding"}
EXAMPLES: dict[str, tuple[str, dict[str, Any]]] = {  # each type's party and data
    "PartyRegistered": (GEMEENTE, {"name": "Purmerend", "kind": "gemeente", "cbsNumber": "0439"}),
    "OrganisationRegistered": (ORGANISATION, {"name": "Regionaal Werkbedrijf (voorbeeld)",
                                              "members": ["GM0439", "GM0200"], "fundHolder": "GM0200"}),
    "PartyUpdated": (GEMEENTE, {"name": "Gemeente Purmerend"}),
    "MembershipChanged": (ORGANISATION, {"member": "GM0995", "change": "joined"}),
    "BudgetAllocated": (GEMEENTE, {"budget": "participatiebudget", "source": "rijk", "amountCents": 100_000_000,
                                   "status": "definitief"}),
    "BudgetRevised": (GEMEENTE, {"budget": "participatiebudget", "amountCents": 2_261_600,
                                 "councilDecision": "raad 2018-12-13", "kind": "begrotingswijziging"}),
    "SteeringModeSet": (GEMEENTE, {"budget": "participatiebudget", "mode": "integraal"}),
    "IncomeBooked": (GEMEENTE, {"budget": "participatiebudget", "source": "terugvordering", "amountCents": 50_000}),
    "FundsReallocated": (GEMEENTE, {"fromBudget": "participatiebudget", "toBudget": "participatiebudget",
                                    "toSubBudget": "re-integratie", "amountCents": 1_000_000}),
    "CostBooked": (GEMEENTE, {**_COST, "amountCents": 1_250_000}),
    "CommitmentRegistered": (GEMEENTE, {"commitmentId": "ORD-2018-001", **_COST, "amountCents": 500_000}),
    "CommitmentReleased": (GEMEENTE, {"commitmentId": "ORD-2018-001", "amountCents": 100_000}),
    "SubsidyGranted": (GEMEENTE, {"subsidyId": "LKS-2018-001", "clientRef": "client-001",
                                  "instrument": "loonkostensubsidie", "budget": "inkomensdeel",
                                  "loonwaardePct": 60, "wmlMonthlyCents": 180_000, "partTimeFactor": 1,
                                  "startDate": "2018-04-01", "endDate": "2018-12-31"}),
    "LoonwaardeMeasured": (GEMEENTE, {"subsidyId": "LKS-2018-001", "loonwaardePct": 70}),
    "SubsidyPaid": (GEMEENTE, {"subsidyId": "LKS-2018-001", "amountCents": 72_000}),
    "SubsidyEnded": (GEMEENTE, {"subsidyId": "LKS-2018-001"}),
    "PlacementStarted": (GEMEENTE, {"placementId": "PL-2018-001", "clientRef": "client-002", "kind": "detachering",
                                    "hoursPerWeek": 32}),
    "PlacementEnded": (GEMEENTE, {"placementId": "PL-2018-001", "reason": "contract afgelopen"}),
    "PlacementTargetSet": (GEMEENTE, {"kind": "detachering", "places": 10, "binding": False}),
    "OutflowRegistered": (GEMEENTE, {"clientRef": "client-003", "extent": "volledig", "reason": "werk gevonden",
                                     "avoidedBenefitCents": 1_500_000}),
    "ReserveEstablished": (GEMEENTE, {"reserve": "participatie", "openingBalanceCents": 10_000_000,
                                      "purpose": "tekorten op het participatiebudget", "revolving": False}),
    "ReserveAdded": (GEMEENTE, {"reserve": "participatie", "amountCents": 500_000}),
    "ReserveWithdrawn": (GEMEENTE, {"reserve": "participatie", "budget": "participatiebudget", "amountCents": 300_000}),
    "WinstRealised": (GEMEENTE, {"source": "loonvormende-arbeid", "amountCents": 250_000}),
    "WinstReinvested": (GEMEENTE, {"destination": "re-integratie", "amountCents": 100_000}),
    "AllocationKeySet": (ORGANISATION, {"basis": "inwoners", "weights": {"GM0439": 92_000, "GM0200": 162_000},
                                        "policy": "solidariteit"}),
    "OrganisationResultDetermined": (ORGANISATION, {"unit": "wsw", "amountCents": -5_000_000,
                                                    "usage": {"GM0439": 12, "GM0200": 30}}),
    "OrganisationCostBooked": (ORGANISATION, {"unit": "monitoring", "amountCents": 250_000}),
    "ContributionInvoiced": (ORGANISATION, {"member": "GM0439", "amountCents": 1_000_000}),
    "ContributionPaid": (ORGANISATION, {"member": "GM0439", "amountCents": 1_000_000}),
    "YearClosed": (GEMEENTE, {}),
    "YearReopened": (GEMEENTE, {}),
    "Correction": (GEMEENTE, {"corrects": example_id("CostBooked"), "reason": "dubbel geboekt"}),
}
REFERENCES = {"YearClosed": "jaarrekening 2018", "YearReopened": "raadsbesluit 2019-07-04",
              "CostBooked": "factuur 2018-0042"}
DATES = {"PartyRegistered": "2014-01-01", "OrganisationRegistered": "2014-01-01"}


def template(kind: str) -> tuple[list[str], dict[str, Any]] | None:
    """The columns of `kind`'s spreadsheet and its example row, as a table (api/render.py)
    writes them; None for no event type."""
    if kind not in EXAMPLES:
        return None
    party, data = EXAMPLES[kind]
    date = DATES.get(kind, "2018-03-31")
    row: dict[str, Any] = {"id": example_id(kind), "type": kind, "party": party, "effectiveDate": date,
                           "year": int(date[:4]), "reference": REFERENCES.get(kind, "voorbeeld 2018-001")}
    columns = list(ENVELOPE)
    for name, field_kind in FIELDS[kind].items():
        value = data.get(name)
        if field_kind == "object":
            for key, item in (value or {}).items():
                columns.append(f"{name}.{key}")
                row[f"{name}.{key}"] = item
        elif field_kind == "array":
            for item in value or []:
                columns.append(f"{name}.{item}")
                row[f"{name}.{item}"] = True
        else:
            columns.append(name)
            row[name] = value
    return columns, row
