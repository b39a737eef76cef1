"""Iv3 over HTTP (api.md): the delivery as CBS takes it, mapped by the versioned table
of ledger/iv3.py and written per year by ledger/iv3_cbs.py.

Every expected line is worked out by hand from that table, never by the code under
test; the Purmerend scenario must add up to its published spending and income. Amounts
are read as the JSON writes them (thousands of euros, exact) and turned back into cents.
The delivery's own shape (schema, code lists, grey cells, checks) is tests/test_iv3_cbs.py's.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import iv3, rules
from tests.conftest import Api, assert_problem, register
from tests.conftest import event as _event
from tests.test_purmerend import EXPECTED, post_purmerend

Cells = list[tuple[str, str, int]]
RESULT = "0.11"  # the result line the delivery balances lasten and baten with (ledger/iv3_cbs.py)


def event(kind: str, data: dict[str, Any], party: str = "GM0439", date: str = "2018-06-30", **extra: Any) -> dict[str, Any]:
    return _event(kind, data, party=party, date=date, **extra)


def cents(bedrag: Decimal) -> int:
    """A bedrag (thousands of euros) back in cents, exactly."""
    value = bedrag.scaleb(5)
    assert value == value.to_integral_value(), bedrag
    return int(value)


async def iv3_of(api: Api, token: str, party: str = "GM0439", **params: Any) -> dict[str, Any]:
    r = await api.client.get("/v1/iv3", params={"party": party, **params}, headers={"Authorization": f"Bearer {token}"})
    text = await r.text()
    assert r.status == 200, text
    return json.loads(text, parse_float=Decimal)


def cells(body: dict[str, Any], side: str) -> Cells:
    """A side of the matrix as (taakveld, categorie, cents), in the order answered, without the result line."""
    return [(r["taakveld"], r["categorie"], cents(r["bedrag"])) for r in body["data"][side] if r["taakveld"] != RESULT]


def total(body: dict[str, Any], side: str) -> int:
    return sum(c for _, _, c in cells(body, side))


def result_line(body: dict[str, Any]) -> tuple[str, int] | None:
    """The 0.11 line: (its side, cents), if any."""
    found = [(side, cents(r["bedrag"])) for side in ("lasten", "baten") for r in body["data"][side] if r["taakveld"] == RESULT]
    assert len(found) <= 1
    return found[0] if found else None


def notes(body: dict[str, Any]) -> dict[str, str]:
    """The delivery's opmerkingen, `key: value` each, as a dict."""
    return dict(o["tekst"].split(": ", 1) for o in body.get("opmerkingen", []))


async def post_ok(api: Api, token: str, *events: dict[str, Any]) -> list[dict[str, Any]]:
    status, body = await api.post(token, {"events": list(events)})
    assert status == 201, body
    return body["events"]


def allocated(budget: str, source: str, cents: int, sub: str | None = None, date: str = "2018-01-01") -> dict[str, Any]:
    data = {"budget": budget, "source": source, "amountCents": cents, **({"subBudget": sub} if sub else {})}
    return event("BudgetAllocated", data, date=date)


def cost(budget: str, category: str, cents: int, sub: str | None = None, date: str = "2018-06-30", **extra: Any) -> dict[str, Any]:
    data = {"budget": budget, "category": category, "amountCents": cents, **({"subBudget": sub} if sub else {})}
    return event("CostBooked", data, date=date, **extra)


def correction(corrects: str, date: str) -> dict[str, Any]:
    return event("Correction", {"corrects": corrects, "reason": "onjuist geboekt"}, date=date)


# --- the Purmerend scenario ------------------------------------------------------------


async def test_purmerend_adds_up_to_its_spending_and_income_every_year(api: Api) -> None:
    """Lasten are the year's spending: Purmerend's CostBooked (it adds nothing to its
    reserve, so no ReserveAdded); baten are allocated + income, the withdrawal from the
    reserve included; the result line is their difference. Checked against /v1/balances
    and the published table, for the years with taakvelden."""
    gemeente = await post_purmerend(api)
    for year, (income, spent, saldo, _) in EXPECTED.items():
        if year < 2017:
            continue
        body = await iv3_of(api, gemeente, year=year)
        metadata = {k: v for k, v in body["metadata"].items() if k != "datum"}
        assert metadata == {
            "overheidslaag": "Gemeente",
            "overheidsnummer": "0439",
            "overheidsnaam": "Purmerend",
            "boekjaar": year,
            "periode": 5,
            "status": "Realisatie",
            "details_openbaar": False,
            "financieel_pakket": "participatie-ledger",
            "export_software": f"participatie-ledger (Iv3-mapping {iv3.MAPPING_VERSION})",
        }
        assert notes(body)["boekjaar"] == "voorlopig" and notes(body)["mapping"] == iv3.MAPPING_VERSION
        _, balances = await api.get(gemeente, "/v1/balances", party="GM0439", year=year)
        (row,) = balances["results"]
        assert total(body, "lasten") == row["spentCents"] == spent * 100
        assert total(body, "baten") == row["allocatedCents"] + row["incomeCents"] == income * 100
        assert total(body, "baten") - total(body, "lasten") == saldo * 100
        assert result_line(body) == ((("lasten" if saldo > 0 else "baten"), abs(saldo) * 100) if saldo else None)


async def test_years_before_the_taakvelden_have_no_delivery(api: Api) -> None:
    gemeente = await post_purmerend(api)
    for year in (2014, 2015, 2016):
        r = await api.client.get("/v1/iv3", params={"party": "GM0439", "year": year},
                                 headers={"Authorization": f"Bearer {gemeente}"})
        body = await r.json(content_type=None)
        assert_problem(r.status, r.headers["Content-Type"], body, 422)
        assert body["type"] == "urn:participatie-ledger:problem:iv3-before-taakvelden"
        assert body["firstYear"] == 2017


# --- the table, family by family ----------------------------------------------------------


async def test_allocations_and_income_are_baten_by_source(api: Api, gemeente: str) -> None:
    first = allocated("participatiebudget", "sociaal-deelfonds", 200_000)
    events = [
        allocated("inkomensdeel", "rijk", 100_000),
        first,
        allocated("participatiebudget", "rijk", 30_000, sub="wsw"),
        # A revision has no source: it takes its allocation's (same line, else same budget).
        event("BudgetRevised", {"budget": "participatiebudget", "amountCents": 5_000}),
        event("BudgetRevised", {"budget": "participatiebudget", "subBudget": "wsw", "amountCents": -1_000}),
        event("BudgetRevised", {"budget": "inkomensdeel", "amountCents": -10_000}),
        event("IncomeBooked", {"budget": "participatiebudget", "source": "opbrengst", "amountCents": 700}),
        event("IncomeBooked", {"budget": "participatiebudget", "source": "meeneemregeling", "amountCents": 400}),
        event("IncomeBooked", {"budget": "werk-en-inkomen", "source": "gemeentefonds", "amountCents": 9_000}),
        event("IncomeBooked", {"budget": "algemene-middelen", "source": "algemene-middelen", "amountCents": 8_000}),
        event("FundsReallocated", {"fromBudget": "participatiebudget", "toBudget": "inkomensdeel", "amountCents": 2_000}),
    ]
    await post_ok(api, gemeente, *events)
    body = await iv3_of(api, gemeente, year=2018)
    assert cells(body, "lasten") == []
    assert cells(body, "baten") == [
        # sociaal deelfonds 200.000 + its revision 5.000 + 9.000 + 8.000, and off the grey cells
        # 6.4 and 6.5 x 4.3.1: the Rijk's wsw line 30.000 - 1.000 and the meeneemregeling 400
        ("0.7", "4.3.1", 251_400),
        ("6.3", "4.3.1", 90_000),  # BUIG 100.000 - 10.000
        ("6.5", "3.8", 700),
    ]
    _, balances = await api.get(gemeente, "/v1/balances", party="GM0439", year=2018)
    lines = [r for r in balances["results"] if r["subBudget"] is None]
    assert total(body, "baten") == sum(r["allocatedCents"] + r["incomeCents"] for r in lines) == 342_100


async def test_the_begroting_is_the_allocations(api: Api, gemeente: str) -> None:
    await post_ok(
        api, gemeente,
        allocated("inkomensdeel", "rijk", 100_000),
        allocated("participatiebudget", "sociaal-deelfonds", 200_000),
        allocated("participatiebudget", "rijk", 30_000, sub="wsw"),
        event("BudgetRevised", {"budget": "participatiebudget", "amountCents": 5_000}),
        event("BudgetRevised", {"budget": "inkomensdeel", "amountCents": -10_000}),
        event("FundsReallocated", {"fromBudget": "participatiebudget", "toBudget": "inkomensdeel", "amountCents": 2_000}),
        event("IncomeBooked", {"budget": "participatiebudget", "source": "opbrengst", "amountCents": 700}),
        cost("participatiebudget", "begeleiding", 50_000),
    )
    body = await iv3_of(api, gemeente, year=2018, period=0)
    assert body["metadata"]["periode"] == 0
    # the Rijk's wsw line 30.000 is off the grey cell 6.4 x 4.3.1, on 0.7
    assert cells(body, "baten") == [("0.7", "4.3.1", 235_000), ("6.3", "4.3.1", 90_000)]
    assert cells(body, "lasten") == [
        ("6.3", "4.1.1", 92_000),  # inkomensdeel 100.000 - 10.000 + 2.000 reallocated in
        ("6.4", "3.8", 30_000),  # the wsw line
        ("6.5", "3.8", 203_000),  # participatiebudget 200.000 + 5.000 - 2.000
    ]
    assert total(body, "lasten") == total(body, "baten") == 325_000


COSTS = [  # (budget, category, sub-budget, cents, expected taakveld, expected categorie)
    ("inkomensdeel", "uitkering", None, 1_000, "6.3", "4.1.1"),
    ("participatiebudget", "bbz", None, 20, "6.3", "4.1.1"),
    ("inkomensdeel", "loonkostensubsidie", None, 3_000, "6.3", "4.2"),
    ("algemene-middelen", "tegenprestatie", None, 40, "6.3", "3.8"),
    ("inkomensdeel", "bijzondere-kosten", None, 19, "6.3", "3.8"),
    ("werk-en-inkomen", "uitvoering", None, 13_000, "6.3", "1.1"),
    ("participatiebudget", "wsw-loonkosten", None, 5_000, "6.4", "4.3.3"),
    ("participatiebudget", "sw-tekort", None, 600, "6.4", "4.3.3"),
    ("participatiebudget", "exploitatietekort", None, 70, "6.4", "4.3.3"),
    ("participatiebudget", "begeleiding", "beschut-werk", 900, "6.4", "3.8"),
    ("participatiebudget", "begeleiding", None, 800, "6.5", "3.8"),
    ("participatiebudget", "jobcoach", None, 10, "6.5", "3.8"),
    ("projecten", "kantoor", None, 15, "6.5", "3.8"),
    ("participatiebudget", "no-risk", None, 11, "6.5", "4.2"),
    ("participatiebudget", "werkplekaanpassing", None, 12, "6.5", "4.2"),
    ("participatiebudget", "uitvoering", None, 14_000, "6.5", "1.1"),
    ("wmo", "dagbesteding", None, 1_600, "6.71", "3.4.1"),  # 6.71c from 2023 (tests/test_iv3_cbs.py)
    ("wmo", "huishoudelijke-hulp", None, 21, "6.71", "3.8"),  # 6.71a from 2023
    ("wmo", "vrijwilligerswerk", None, 17, "6.1", "3.8"),
    ("werk-en-inkomen", "overhead", None, 18, "0.4", "3.8"),
]


async def test_costs_are_lasten_by_category_and_budget(api: Api, gemeente: str) -> None:
    budgets = sorted({c[0] for c in COSTS})
    await post_ok(api, gemeente, *(allocated(b, "gemeentefonds", 1) for b in budgets))
    await post_ok(api, gemeente, *(cost(b, category, cents, sub) for b, category, sub, cents, _, _ in COSTS))
    body = await iv3_of(api, gemeente, year=2018)
    assert cells(body, "lasten") == [
        ("0.4", "3.8", 18),
        ("6.1", "3.8", 17),
        ("6.3", "1.1", 13_000),
        ("6.3", "3.8", 59),  # tegenprestatie 40 + an unknown category on the inkomensdeel 19
        ("6.3", "4.1.1", 1_020),  # uitkering 1.000 + bbz 20
        ("6.3", "4.2", 3_000),
        ("6.4", "3.8", 900),
        ("6.4", "4.3.3", 5_670),  # wsw-loonkosten 5.000 + sw-tekort 600 + exploitatietekort 70
        ("6.5", "1.1", 14_000),
        ("6.5", "3.8", 825),  # begeleiding 800 + jobcoach 10 + an own budget's cost 15
        ("6.5", "4.2", 23),  # no-risk 11 + werkplekaanpassing 12
        ("6.71", "3.4.1", 1_600),
        ("6.71", "3.8", 21),
    ]
    assert cells(body, "baten") == [("0.7", "4.3.1", len(budgets))]
    _, balances = await api.get(gemeente, "/v1/balances", party="GM0439", year=2018)
    assert total(body, "lasten") == sum(r["spentCents"] for r in balances["results"] if r["subBudget"] is None)


async def test_a_loonkostensubsidie_payment_and_not_its_commitment(api: Api, gemeente: str) -> None:
    grant = {"subsidyId": "lks-1", "clientRef": "client-1", "instrument": "loonkostensubsidie",
             "loonwaardePct": 50, "wmlMonthlyCents": 160_000, "startDate": "2018-03-01"}
    await post_ok(
        api, gemeente,
        allocated("inkomensdeel", "rijk", 1_000_000),
        event("SubsidyGranted", grant, date="2018-03-01"),
        event("SubsidyPaid", {"subsidyId": "lks-1", "amountCents": 2_500}, date="2018-03-31"),
    )
    body = await iv3_of(api, gemeente, year=2018)
    assert cells(body, "lasten") == [("6.3", "4.2", 2_500)]
    assert cells(body, "baten") == [("6.3", "4.3.1", 1_000_000)]


async def test_reserve_mutations_are_on_0_10_and_the_opening_balance_is_not(api: Api, gemeente: str) -> None:
    await post_ok(
        api, gemeente,
        allocated("participatiebudget", "sociaal-deelfonds", 10_000),
        event("ReserveEstablished", {"reserve": "participatie", "openingBalanceCents": 50_000, "purpose": "buffer"}),
        event("ReserveAdded", {"reserve": "participatie", "budget": "participatiebudget", "amountCents": 3_000}),
        event("ReserveAdded", {"reserve": "participatie", "amountCents": 500}),
        event("ReserveWithdrawn", {"reserve": "participatie", "budget": "participatiebudget", "amountCents": 1_200}),
    )
    body = await iv3_of(api, gemeente, year=2018)
    assert cells(body, "lasten") == [("0.10", "7.1", 3_500)]
    assert cells(body, "baten") == [("0.7", "4.3.1", 10_000), ("0.10", "7.1", 1_200)]
    # Lasten are the spending (the dotatie from the budget is spent of it) plus the
    # addition that came from no budget.
    _, balances = await api.get(gemeente, "/v1/balances", party="GM0439", year=2018)
    assert total(body, "lasten") == balances["results"][0]["spentCents"] + 500


async def test_winst_outflow_and_placements_move_no_iv3_line(api: Api, gemeente: str) -> None:
    await post_ok(
        api, gemeente,
        event("WinstRealised", {"source": "loonvormende-arbeid", "amountCents": 5_000}),
        event("WinstReinvested", {"destination": "dagbesteding", "amountCents": 1_000}),
        event("OutflowRegistered", {"clientRef": "client-9", "extent": "volledig", "reason": "werk",
                                    "avoidedBenefitCents": 1_200_000}),
        event("PlacementStarted", {"placementId": "p-1", "clientRef": "client-8", "kind": "beschut-werk",
                                   "hoursPerWeek": 20}),
    )
    body = await iv3_of(api, gemeente, year=2018)
    assert body["data"] == {side: [] for side in ("lasten", "baten", "balans_lasten", "balans_baten", "balans_standen")}


async def test_an_organisations_own_figures(api: Api) -> None:
    admin = api.token("admin")
    await register(api, admin, "GM0439", "GM1680")
    status, body = await api.post(admin, event("OrganisationRegistered", {"name": "GR", "members": ["GM0439", "GM1680"]},
                                               party="GR-TEST", date="2018-01-01"))
    assert status == 201, body
    org = api.token("organisation", "GR-TEST")
    # CBS gives a GR its number: none yet, no delivery (a number made up from the code would misfile it).
    r = await api.client.get("/v1/iv3", params={"party": "GR-TEST", "year": 2018}, headers={"Authorization": f"Bearer {org}"})
    body = await r.json(content_type=None)
    assert_problem(r.status, r.headers["Content-Type"], body, 422)
    assert body["type"] == "urn:participatie-ledger:problem:cbs-number-missing"
    status, body = await api.post(org, event("PartyUpdated", {"cbsNumber": "9901"}, party="GR-TEST", date="2018-01-01"))
    assert status == 403, body  # admin only
    status, body = await api.post(admin, event("PartyUpdated", {"cbsNumber": "9901"}, party="GR-TEST", date="2018-01-01"))
    assert status == 201, body
    await post_ok(
        api, org,
        event("BudgetAllocated", {"budget": "exploitatie", "source": "gemeenten", "amountCents": 5_000}, party="GR-TEST"),
        event("CostBooked", {"budget": "exploitatie", "category": "wsw-loonkosten", "amountCents": 700}, party="GR-TEST"),
        event("OrganisationCostBooked", {"unit": "staf", "amountCents": 1_000}, party="GR-TEST"),
        event("OrganisationCostBooked", {"unit": "wsw", "amountCents": 2_000}, party="GR-TEST"),
        event("OrganisationResultDetermined", {"unit": "beschut-werk", "amountCents": -300}, party="GR-TEST"),
        event("OrganisationResultDetermined", {"unit": "werk", "amountCents": 100}, party="GR-TEST"),
    )
    body = await iv3_of(api, org, party="GR-TEST", year=2018)
    assert (body["metadata"]["overheidslaag"], body["metadata"]["overheidsnummer"]) == ("GR", "9901")
    assert cells(body, "lasten") == [
        ("6.4", "1.1", 700),  # its own Wsw wages
        ("6.4", "3.8", 2_300),  # the wsw unit's cost 2.000 + the beschut-werk deficit 300
        ("6.5", "3.8", 1_000),  # staf
        ("6.5", "4.3.2", 100),  # the surplus paid back to the members
    ]
    assert cells(body, "baten") == [
        ("6.4", "4.3.2", 2_300),  # the members pay the wsw cost and the deficit
        ("6.5", "3.8", 100),  # the surplus, net
        ("6.5", "4.3.2", 6_000),  # the members' contribution 5.000 and the staf cost 1.000
    ]


# --- corrections, asOf, periods, status --------------------------------------------------


async def test_a_correction_is_the_exact_negation_in_its_own_year(api: Api, gemeente: str) -> None:
    await post_ok(
        api, gemeente,
        allocated("participatiebudget", "sociaal-deelfonds", 100_000),
        allocated("participatiebudget", "rijk", 100_000, date="2019-01-01"),
    )
    booked, revised = await post_ok(
        api, gemeente,
        cost("participatiebudget", "begeleiding", 50_000, date="2018-05-01"),
        event("BudgetRevised", {"budget": "participatiebudget", "amountCents": 7_000}),
    )
    await post_ok(api, gemeente, correction(booked["id"], "2019-02-15"), correction(revised["id"], "2019-02-15"))
    body = await iv3_of(api, gemeente, year=2018)
    assert cells(body, "lasten") == [("6.5", "3.8", 50_000)]
    assert cells(body, "baten") == [("0.7", "4.3.1", 107_000)]
    body = await iv3_of(api, gemeente, year=2019)
    assert cells(body, "lasten") == [("6.5", "3.8", -50_000)]
    assert [r["bedrag"] for r in body["data"]["lasten"] if r["taakveld"] == "6.5"] == [Decimal("-0.5")]  # -500 euro
    # The revision revised the sociaal deelfonds' allocation of 2018: its reversal leaves
    # 0.7; 2019's participatiebudget from the Rijk is off the grey cell 6.5 x 4.3.1, on 0.7 too.
    assert cells(body, "baten") == [("0.7", "4.3.1", 100_000 - 7_000)]


async def test_as_of_before_and_after_a_correction(api: Api, gemeente: str) -> None:
    grant = {"subsidyId": "lks-1", "clientRef": "client-1", "instrument": "loonkostensubsidie",
             "loonwaardePct": 50, "wmlMonthlyCents": 160_000, "startDate": "2018-03-01"}
    *_, paid = await post_ok(
        api, gemeente,
        allocated("inkomensdeel", "rijk", 1_000_000),
        event("SubsidyGranted", grant, date="2018-03-01"),
        event("SubsidyPaid", {"subsidyId": "lks-1", "amountCents": 2_500}, date="2018-03-31"),
    )
    before = datetime.now(UTC).isoformat()
    (fixed,) = await post_ok(api, gemeente, correction(paid["id"], "2018-04-15"))
    then = await iv3_of(api, gemeente, year=2018, asOf=before)
    now = await iv3_of(api, gemeente, year=2018)
    assert cells(then, "lasten") == [("6.3", "4.2", 2_500)]
    assert cells(now, "lasten") == []  # paid and reversed in the same year: an empty cell
    assert await iv3_of(api, gemeente, year=2018, asOf=fixed["recordedAt"]) == now
    assert cells(now, "baten") == cells(then, "baten") == [("6.3", "4.3.1", 1_000_000)]


async def test_quarters_are_cumulative_by_effective_date(api: Api, gemeente: str) -> None:
    await post_ok(
        api, gemeente,
        allocated("participatiebudget", "sociaal-deelfonds", 100_000),
        cost("participatiebudget", "scholing", 100, date="2018-02-10"),
        cost("participatiebudget", "scholing", 200, date="2018-05-10"),
        cost("participatiebudget", "scholing", 400, date="2018-08-10"),
        cost("participatiebudget", "scholing", 800, date="2018-11-10"),
        cost("participatiebudget", "scholing", 1_600, date="2019-01-20", year=2018),  # a late invoice of 2018
    )
    # Booked last, dated in the first quarter: it lands in the first quarter and after.
    await post_ok(api, gemeente, cost("participatiebudget", "scholing", 3_200, date="2018-03-15"))
    lasten = {}
    for period in (1, 2, 3, 4, 5):
        body = await iv3_of(api, gemeente, year=2018, period=period)
        assert body["metadata"]["periode"] == period
        assert cells(body, "baten") == [("0.7", "4.3.1", 100_000)]
        lasten[period] = cells(body, "lasten")
    assert lasten == {
        1: [("6.5", "3.8", 3_300)],
        2: [("6.5", "3.8", 3_500)],
        3: [("6.5", "3.8", 3_900)],
        4: [("6.5", "3.8", 4_700)],
        5: [("6.5", "3.8", 6_300)],
    }


async def test_status_is_definitief_once_the_year_is_closed(api: Api, gemeente: str) -> None:
    await post_ok(api, gemeente, allocated("participatiebudget", "sociaal-deelfonds", 100_000))
    before = datetime.now(UTC).isoformat()
    await post_ok(api, gemeente, event("YearClosed", {}, date="2018-12-31"))
    for period in (0, 3, 5):
        body = await iv3_of(api, gemeente, year=2018, period=period)
        assert notes(body)["boekjaar"] == "definitief"
        assert body["metadata"]["status"] == ("Begroting" if period == 0 else "Realisatie")
    assert notes(await iv3_of(api, gemeente, year=2018, asOf=before))["boekjaar"] == "voorlopig"
    assert notes(await iv3_of(api, gemeente, year=2019))["boekjaar"] == "voorlopig"


async def test_csv_has_one_row_per_line_with_its_side(api: Api) -> None:
    gemeente = await post_purmerend(api)
    body = await iv3_of(api, gemeente, year=2018)
    r = await api.client.get("/v1/iv3", params={"party": "GM0439", "year": 2018},
                             headers={"Authorization": f"Bearer {gemeente}", "Accept": "text/csv"})
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await r.text())))
    sections = ("lasten", "baten", "balans_lasten", "balans_baten", "balans_standen")
    assert [(row["side"], row["taakveld"] or row["balanscode"], row["categorie"] or row["standper"],
             int(row["bedragCents"])) for row in rows] == [
        (side, line.get("taakveld") or line["balanscode"], line.get("categorie") or line["standper"], cents(line["bedrag"]))
        for side in sections for line in body["data"][side]
    ]
    assert {row["side"] for row in rows} == set(sections)  # Purmerend 2018: a deficit, and its reserve


async def test_refusals(api: Api, gemeente: str) -> None:
    async def get(token: str | None, **params: Any) -> tuple[int, str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = await api.client.get("/v1/iv3", params=params, headers=headers)
        return r.status, r.headers["Content-Type"], await r.json(content_type=None)

    bad = [({"year": "2018", "period": "6"}, "period"), ({"year": "2018", "period": "-1"}, "period"),
           ({"year": "2018", "period": "kwartaal"}, "period"), ({}, "year"), ({"year": "twintig"}, "year")]
    for params, name in bad:
        status, content_type, body = await get(gemeente, party="GM0439", **params)
        assert_problem(status, content_type, body, 400)
        assert body["invalidParams"][0]["name"] == name
    admin = api.token("admin")
    await register(api, admin, "GM1680")
    assert_problem(*await get(api.token("gemeente", "GM1680"), party="GM0439", year="2018"), 403)
    assert_problem(*await get(None, party="GM0439", year="2018"), 401)
    assert_problem(*await get(admin, party="GM9999", year="2018"), 404)


# --- the property ---------------------------------------------------------------------------

_BUDGETS = sorted(rules.STANDARD_BUDGETS) + ["eigen-budget"]
_CATEGORIES = sorted(rules.CHARGING_RULES) + ["uitvoering", "loonkosten", "overhead", "bbz", "iets-anders"]
_CHARGEABLE = [
    (b, c) for c in _CATEGORIES for b in _BUDGETS if b not in rules.STANDARD_BUDGETS or b in rules.CHARGING_RULES.get(c, {b})
]
_PARTIES = (f"GM{n:04d}" for n in itertools.count(2000))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(
    st.tuples(st.sampled_from(_CHARGEABLE), st.sampled_from([None, "wsw", "beschut-werk", "lijn-a"]),
              st.integers(min_value=1, max_value=10**9), st.sampled_from(["2018-02-01", "2018-07-01", "2018-12-31"])),
    min_size=1, max_size=15,
))
async def test_random_costs_add_up_to_what_was_spent(api: Api, costs: list[Any]) -> None:
    party = next(_PARTIES)
    admin = api.token("admin")
    await register(api, admin, party)
    token = api.token("gemeente", party)
    budgets = sorted({budget for (budget, _), *_ in costs})
    await post_ok(api, token, *(dict(allocated(b, "rijk", 1), party=party) for b in budgets))
    await post_ok(api, token, *(dict(cost(b, c, cents, sub, date=date), party=party) for (b, c), sub, cents, date in costs))
    body = await iv3_of(api, token, party=party, year=2018)
    _, balances = await api.get(token, "/v1/balances", party=party, year=2018)
    assert total(body, "lasten") == sum(r["spentCents"] for r in balances["results"] if r["subBudget"] is None)
    assert total(body, "baten") == len(budgets)


# --- the table itself, without a store ---------------------------------------------------


def test_a_correction_negates_every_line_of_what_it_reverses() -> None:
    original = {"id": "x", "type": "OrganisationResultDetermined", "party": "GR-TEST", "effectiveDate": "2018-12-31",
                "year": 2018, "data": {"unit": "wsw", "amountCents": -300}}
    fix = {"id": "y", "type": "Correction", "party": "GR-TEST", "effectiveDate": "2019-01-10", "year": 2019,
           "data": {"corrects": "x", "reason": "r"}}
    lines = iv3.lines(original)
    assert lines == [iv3.Line("lasten", "6.4", "3.8", 300), iv3.Line("baten", "6.4", "4.3.2", 300)]
    assert iv3.lines(fix, {"original": original}) == [line.negated() for line in lines]
    assert iv3.lines({**original, "data": {"unit": "wsw", "amountCents": 0}}) == []

