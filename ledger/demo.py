"""Demo data: the four municipalities and organisations of the source documents, as the
batches their systems would post (figures in `ledger.sources`, each with its seed line).

- Purmerend's participatiebudget and reserve 2014-2018 (seed 002);
- Lelystad's integratie-uitkering 2015-2019 in its parts A, B and C (2016-2019 voorlopig,
  as the source estimates them), the NUON reserve
  that lends a million a year for three years, and (illustrative) winst reinvested
  "op de voorkant" (seed 000);
- the Regionaal Werkbedrijf Stedendriehoek en Noord-Veluwe: 14 members, Apeldoorn
  holding the Rijk's setup money in three tranches, the 2015 begroting: a concept
  (voorlopig) the bestuur adopts (definitief) and, illustratively, amends, and an
  (illustrative) verplichting on its monitoring line (seed 003);
- Drentsche Aa: the 2015 Wsw unit results, split by inhabitants or by usage, the
  (illustrative) quarterly advances its members paid against their shares, and the
  business case's placements and outflow (seed 004).

Event ids are derived from each event's place in the demo, so loading it twice stores
it once: the second load is an idempotent retry.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from ledger import sources as src

_NAMESPACE = uuid.UUID("0b7d3a52-55a4-4f57-9d0e-8d7c1f3e2a61")
PURMEREND = src.PURMEREND
YEARS = src.PURMEREND_YEARS
LELYSTAD_COMPONENTS = {"a": "a-klassieke-doelgroep", "b": "b-nieuwe-doelgroep", "c": "c-sociale-werkvoorziening"}
RWB = "RWB-STEDENDRIEHOEK"
DRENTSCHE_AA = "DRENTSCHE-AA"
ILLUSTRATIVE = "illustratief: dit bedrag staat niet in de bron"
# The sources name no CBS number (overheidsnummer) of either GR: these are made up, in a
# range no gemeente has, so an Iv3 delivery of the demo can be written and checked.
RWB_CBS_NUMBER, DRENTSCHE_AA_CBS_NUMBER = "9801", "9802"
_CBS_NUMBER_REF = "CBS-nummer illustratief: niet in de bron"


@dataclass(frozen=True)
class Batch:
    """One atomic post: what it is, and its events in api.md's JSON shape."""

    title: str
    events: list[dict[str, Any]]


def _event(key: str, kind: str, party: str, effective: str, data: dict[str, Any], reference: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(_NAMESPACE, key)),
        "type": kind,
        "party": party,
        "effectiveDate": effective,
        "reference": reference,
        "data": data,
    }


def _registered(code: str, name: str, reference: str) -> dict[str, Any]:
    return _event(f"{code}/registered", "PartyRegistered", code, "2014-01-01", {"name": name, "kind": "gemeente"}, reference)


# --- Purmerend (seed 002) ----------------------------------------------------------

_PURMEREND_REF = "Beleidsplan Participatiewet Purmerend, Participatiebudget 2014-2018"


def purmerend_setup() -> list[dict[str, Any]]:
    """Registering Purmerend and its reserve: posted by an admin."""
    reserve = {
        "reserve": "participatie",
        "openingBalanceCents": src.PURMEREND_RESERVE_OPENING,
        "purpose": "Opvangen dalende rijksmiddelen participatiebudget (ingesteld 2011)",
    }
    return [
        _event("purmerend/registered", "PartyRegistered", PURMEREND, "2014-01-01",
               {"name": "Purmerend", "kind": "gemeente"}, _PURMEREND_REF),
        _event("purmerend/reserve", "ReserveEstablished", PURMEREND, "2014-01-01", reserve, _PURMEREND_REF),
    ]


def purmerend_year(year: int) -> list[dict[str, Any]]:
    """One year's participatiebudget as the gemeente posts it: one atomic batch."""
    index = YEARS.index(year)
    events = []
    for row, (kind, data, euros) in enumerate(src.PURMEREND_ROWS):
        amount = euros[index]
        if amount is None:
            continue
        payload: dict[str, Any] = {"budget": "participatiebudget", **data, "amountCents": amount * src.EURO}
        events.append(_event(f"purmerend/{year}/{row}", kind, PURMEREND, f"{year}-12-31", payload, _PURMEREND_REF))
    return events


def purmerend() -> list[Batch]:
    return [Batch("Purmerend: registratie en reserve", purmerend_setup())] + [
        Batch(f"Purmerend: participatiebudget {year}", purmerend_year(year)) for year in YEARS
    ]


# --- Lelystad (seed 000) -----------------------------------------------------------

_LELYSTAD_REF = "De Nieuwe Onderneming, Lelystad juni 2015, Bijlage 3"


def lelystad() -> list[Batch]:
    code = src.LELYSTAD
    batches = [Batch("Lelystad: registratie", [_registered(code, "Lelystad", _LELYSTAD_REF)])]
    for year, figures in src.LELYSTAD_INTEGRATIE_UITKERING.items():
        # 2015 as the Rijk made it available; the later years as estimated (voorlopig).
        estimated = year in src.LELYSTAD_ESTIMATED_YEARS
        status = {"status": "voorlopig"} if estimated else {}
        reference = f"{_LELYSTAD_REF}; inschatting (L1853-1899)" if estimated else _LELYSTAD_REF
        batches.append(Batch(f"Lelystad: integratie-uitkering {year}" + (" (inschatting)" if estimated else ""), [
            _event(f"lelystad/{year}/{part}", "BudgetAllocated", code, f"{year}-01-01",
                   {"budget": "participatiebudget", "subBudget": sub, "source": "sociaal-deelfonds",
                    "amountCents": figures[part], **status}, reference)
            for part, sub in LELYSTAD_COMPONENTS.items()
        ]))
    nuon = src.NUON_RESERVE
    opening = {
        "reserve": nuon["reserve"], "openingBalanceCents": nuon["openingCents"], "revolving": True,
        "purpose": "NUON: drie jaar jaarlijks 1 miljoen aan het budget klassieke doelgroep; "
                   "de revenuen vloeien terug tot het beschikbaar gestelde bedrag",
    }
    reserve = [_event("lelystad/nuon", "ReserveEstablished", code, "2015-01-01", opening,
                      f"{_LELYSTAD_REF}; beginsaldo {ILLUSTRATIVE}")]
    reserve += [
        _event(f"lelystad/nuon/{year}", "ReserveWithdrawn", code, f"{year}-01-15",
               {"reserve": nuon["reserve"], "budget": nuon["toBudget"], "subBudget": LELYSTAD_COMPONENTS["a"],
                "amountCents": cents}, "Kadernota 2016: NUON reserve, jaarlijks 1 miljoen")
        for year, cents in nuon["withdrawals"].items()
    ]
    batches.append(Batch("Lelystad: NUON reserve 2015-2018", reserve))
    winst = src.LELYSTAD_WINST
    year = winst["year"]
    moves = [
        _event(f"lelystad/winst/{year}/{source}", "WinstRealised", code, f"{year}-06-30",
               {"source": source, "amountCents": cents}, ILLUSTRATIVE)
        for source, cents in winst["realised"].items()
    ] + [
        _event(f"lelystad/winst/{year}/{destination}", "WinstReinvested", code, f"{year}-09-30",
               {"destination": destination, "amountCents": cents}, f"{ILLUSTRATIVE}; op de voorkant (L1419-1423)")
        for destination, cents in winst["reinvested"].items()
    ]
    batches.append(Batch(f"Lelystad: winst {year} (illustratief)", moves))
    return batches


# --- Regionaal Werkbedrijf Stedendriehoek en Noord-Veluwe (seed 003) ----------------

_RWB_REF = "Regionaal Werkbedrijf Stedendriehoek en Noord-Veluwe, 2015"


def rwb() -> list[Batch]:
    members = [_registered(code, name, _RWB_REF) for code, name in src.RWB_MEMBERS.items()]
    organisation = _event("rwb/registered", "OrganisationRegistered", RWB, "2014-01-01",
                          {"name": "Regionaal Werkbedrijf Stedendriehoek en Noord-Veluwe",
                           "members": list(src.RWB_MEMBERS), "fundHolder": src.RWB_FUND_HOLDER,
                           "cbsNumber": RWB_CBS_NUMBER}, f"{_RWB_REF}; {_CBS_NUMBER_REF}")
    tranches = [
        _event(f"rwb/rijk/{year}", "BudgetAllocated", src.RWB_FUND_HOLDER, f"{year}-07-01",
               {"budget": "rwb-opstartmiddelen", "source": "rijk", "amountCents": cents},
               f"Rijksbijdrage opstart Regionaal Werkbedrijf, tranche {year}")
        for year, cents in src.RWB_RIJK_TRANCHES
    ]
    begroting = [
        _event(f"rwb/begroting/2015/{line}", "BudgetAllocated", RWB, "2015-01-01",
               {"budget": "werkbedrijf", "subBudget": line, "source": "centrumgemeente", "amountCents": cents,
                "status": "voorlopig"},
               f"Concept begroting 2015: {name}")
        for line, (name, cents) in src.RWB_BEGROTING_2015.items()
    ]
    binding = _event("rwb/begroting/2015/onvoorzien-binding", "SteeringModeSet", RWB, "2015-01-01",
                     {"budget": "werkbedrijf", "subBudget": "onvoorzien", "mode": "kaderstellend"},
                     "Onvoorzien is een vast kader")
    # The bestuur adopts the concept (L1838-1841): each line definitief, its figure unchanged.
    adopted = [
        _event(f"rwb/begroting/2015/{line}/vastgesteld", "BudgetAllocated", RWB, src.RWB_BEGROTING_2015_ADOPTED,
               {"budget": "werkbedrijf", "subBudget": line, "source": "centrumgemeente", "amountCents": 0,
                "status": "definitief"},
               f"Begroting 2015 vastgesteld door het bestuur (L1838-1841), ongewijzigd; datum {ILLUSTRATIVE}")
        for line in src.RWB_BEGROTING_2015
    ]
    amendment = src.RWB_AMENDMENT_2015
    amended = [
        _event(f"rwb/begroting/2015/wijziging/{line}", "BudgetRevised", RWB, amendment["date"],
               {"budget": "werkbedrijf", "subBudget": line, "amountCents": cents,
                "councilDecision": amendment["councilDecision"], "kind": "begrotingswijziging"},
               f"Onvoorzien ingezet voor ontbrekende ondersteuning (L2623-2625); {ILLUSTRATIVE}")
        for line, cents in ((amendment["from"], -amendment["cents"]), (amendment["to"], amendment["cents"]))
    ]
    return [
        Batch("Regionaal Werkbedrijf: de 14 gemeenten", members),
        Batch("Regionaal Werkbedrijf: registratie, Apeldoorn als centrumgemeente", [organisation]),
        Batch("Apeldoorn: rijksbijdrage in drie tranches", tranches),
        Batch("Regionaal Werkbedrijf: conceptbegroting 2015", begroting + [binding]),
        Batch("Regionaal Werkbedrijf: begroting 2015 vastgesteld", adopted),
        Batch("Regionaal Werkbedrijf: begrotingswijziging 2015 (illustratief)", amended),
        Batch("Regionaal Werkbedrijf: verplichting monitoring 2015 (illustratief)", rwb_commitment()),
    ]


def rwb_commitment() -> list[dict[str, Any]]:
    """An order on the monitoring line, part of it paid against the order, part released:
    what /v1/commitments lists, and what the line's committedCents holds meanwhile."""
    c = src.RWB_COMMITMENT_2015
    line = {"budget": "werkbedrijf", "subBudget": c["line"]}
    (ordered, registered), (invoiced, used), (closed, released) = c["registered"], c["used"], c["released"]
    ref = f"Opdracht monitoring banen (L2606-2609); {ILLUSTRATIVE}"
    return [
        _event("rwb/2015/verplichting/monitoring", "CommitmentRegistered", RWB, ordered,
               {"commitmentId": c["commitmentId"], **line, "category": "monitoring", "amountCents": registered}, ref),
        _event("rwb/2015/verplichting/monitoring/factuur", "CostBooked", RWB, invoiced,
               {**line, "category": "monitoring", "amountCents": used, "commitmentId": c["commitmentId"]}, ref),
        _event("rwb/2015/verplichting/monitoring/vrijgevallen", "CommitmentReleased", RWB, closed,
               {"commitmentId": c["commitmentId"], "amountCents": released}, ref),
    ]


# --- Drentsche Aa (seed 004) -------------------------------------------------------

_DRENTSCHE_AA_REF = "Businesscase Drentsche Aa (Alescon en ISD-AAT), 2015"


def drentsche_aa() -> list[Batch]:
    members = [_registered(code, name, _DRENTSCHE_AA_REF) for code, name in src.DRENTSCHE_AA_MEMBERS.items()]
    organisation = _event("drentsche-aa/registered", "OrganisationRegistered", DRENTSCHE_AA, "2014-01-01",
                          {"name": "Drentsche Aa", "members": list(src.DRENTSCHE_AA_MEMBERS),
                           "cbsNumber": DRENTSCHE_AA_CBS_NUMBER}, f"{_DRENTSCHE_AA_REF}; {_CBS_NUMBER_REF}")
    key = _event("drentsche-aa/key/2015", "AllocationKeySet", DRENTSCHE_AA, "2015-01-01",
                 {"basis": "inwoners", "weights": src.DRENTSCHE_AA_INWONERS, "policy": "profijt"},
                 f"Profijtbeginsel in plaats van solidariteit (L1936-1944); inwoners {ILLUSTRATIVE}")
    units = [
        _event(f"drentsche-aa/2015/{unit}", "OrganisationResultDetermined", DRENTSCHE_AA, "2015-12-31",
               {"unit": unit, "amountCents": cents, "usage": src.DRENTSCHE_AA_USAGE[unit]},
               f"Resultaat Wsw-onderdeel {unit} 2015; gebruik per gemeente {ILLUSTRATIVE}")
        for unit, cents in src.DRENTSCHE_AA_UNITS_2015.items()
    ]
    flows = [_event("drentsche-aa/2015/beschut-cap", "PlacementTargetSet", DRENTSCHE_AA, "2015-01-01",
                    {"kind": "beschut-werk", "places": src.DRENTSCHE_AA_BESCHUT_CAP_2015, "binding": True},
                    f"Aantal plekken beschut werk bepaald door de gemeenten (L1371-1377); aantal {ILLUSTRATIVE}")]
    for kind, (count, hours) in src.DRENTSCHE_AA_PLACEMENTS_2015.items():
        flows += [
            _event(f"drentsche-aa/2015/{kind}/{n}", "PlacementStarted", DRENTSCHE_AA, "2015-07-01",
                   {"placementId": f"DA-2015-{kind}-{n:03}", "clientRef": f"DA-{kind}-{n:03}", "kind": kind,
                    "hoursPerWeek": hours}, "Businesscase: jaarlijkse stromen (L1077-1087)")
            for n in range(1, count + 1)
        ]
    for reason, (count, cents) in src.DRENTSCHE_AA_OUTFLOW_2015.items():
        flows += [
            _event(f"drentsche-aa/2015/uitstroom/{reason}/{n}", "OutflowRegistered", DRENTSCHE_AA, "2015-12-31",
                   {"clientRef": f"DA-{reason}-{n:03}", "extent": "volledig", "reason": reason,
                    "avoidedBenefitCents": cents // count}, "Businesscase: jaarlijkse stromen (L1077-1087)")
            for n in range(1, count + 1)
        ]
    return [
        Batch("Drentsche Aa: de drie gemeenten", members),
        Batch("Drentsche Aa: registratie", [organisation]),
        Batch("Drentsche Aa: verdeelsleutel en Wsw-resultaten 2015", [key, *units]),
        Batch("Drentsche Aa: voorschotten 2015 (illustratief)", drentsche_aa_advances()),
        Batch("Drentsche Aa: plaatsingen en uitstroom 2015", flows),
    ]


def drentsche_aa_advances() -> list[dict[str, Any]]:
    """Each member's quarterly advance on its 2015 contribution, and what it paid of them:
    the cost split settles the year's share against what was paid."""
    events = []
    for quarter, (invoiced, paid) in enumerate(src.DRENTSCHE_AA_ADVANCE_QUARTERS_2015, start=1):
        for member, cents in src.DRENTSCHE_AA_ADVANCE_2015.items():
            data = {"member": member, "amountCents": cents}
            events.append(_event(f"drentsche-aa/2015/voorschot/{member}/{quarter}", "ContributionInvoiced",
                                 DRENTSCHE_AA, invoiced, data, f"Voorschot 2015, kwartaal {quarter}; {ILLUSTRATIVE}"))
            if quarter <= src.DRENTSCHE_AA_QUARTERS_PAID_2015[member]:
                events.append(_event(f"drentsche-aa/2015/betaald/{member}/{quarter}", "ContributionPaid", DRENTSCHE_AA,
                                     paid, data, f"Betaling voorschot 2015, kwartaal {quarter}; {ILLUSTRATIVE}"))
    return events


def batches() -> list[Batch]:
    """The whole demo, in the order it is posted (members before their organisations)."""
    return purmerend() + lelystad() + rwb() + drentsche_aa()
