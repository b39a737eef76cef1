"""As-of on every read, through the real HTTP API (api.md "Reading": every read accepts
`asOf`, an instant, and answers as the ledger knew it at that recorded time).

The method, for each family of reads:
1. post a history and note the instant T: the recordedAt of its last event (a read
   with asOf includes every event recorded at or before T);
2. take every read without asOf at that moment: the whole response (status, and the
   JSON body parsed, or the CSV / NDJSON text);
3. post later events: corrections (one dated in the earlier year it corrects), a new
   allocation key, a member leaving, a placement and a subsidy ending, a new reserve,
   a closed year, ...;
4. read again with asOf=T, also written in other offsets (+01:00, -05:00): every
   response must equal the one taken at T exactly. Without asOf the reads show the new
   state: the test names which reads changed, and checks their figures by hand.

Lists are read with a page size that holds them whole, so `next` and `previous` are
null and the bodies compare whole. Paging through a past view is tested on its own:
there the links carry `asOf` (so paging stays in the past) and legitimately differ
from the links read at T, while everything else is equal.

Effective date and recorded time are two axes: a correction dated 31 December 2016
and recorded later changes 2016's figures from the instant it was recorded, never
before; a correction after the year is closed is dated (and booked) in the next year
and never changes 2016 at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest

from tests.conftest import Api, assert_problem, event, register
from tests.test_organisations import organisation, post_ok
from tests.test_subsidies import allocation, grant, outflow, paid, placement, placement_ended, target
from tests.test_subsidies import ended as subsidy_ended

P = "GM0439"
ORG = "GR-TEST"
PB = "participatiebudget"
CSV = "text/csv"
NDJSON = "application/x-ndjson"
BEFORE_EVERYTHING = "2000-01-01T00:00:00Z"


# --- reads, and taking all of them at once ------------------------------------------


@dataclass(frozen=True)
class Read:
    path: str
    params: tuple[tuple[str, Any], ...] = ()
    accept: str | None = None

    def __str__(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.params)
        return f"GET {self.path}{'?' + query if query else ''}{' [' + self.accept + ']' if self.accept else ''}"


def read(path: str, accept: str | None = None, **params: Any) -> Read:
    return Read(path, tuple(params.items()), accept)


class Answer(NamedTuple):
    """One response: its status, its body (JSON parsed, CSV and NDJSON as text), and the
    raw bytes, so that two answers are equal only when they are equal byte for byte."""

    status: int
    content: Any
    raw: bytes


async def fetch(api: Api, token: str, r: Read, as_of: str | None = None) -> Answer:
    params = {**dict(r.params), **({"asOf": as_of} if as_of is not None else {})}
    headers = {"Authorization": f"Bearer {token}", **({"Accept": r.accept} if r.accept else {})}
    response = await api.client.get(r.path, params=params, headers=headers)
    raw = await response.read()
    if response.content_type in ("application/json", "application/problem+json"):
        return Answer(response.status, orjson.loads(raw), raw)
    return Answer(response.status, raw.decode(), raw)


Snapshot = dict[str, Answer]


async def take(api: Api, token: str, reads: list[Read], as_of: str | None = None) -> Snapshot:
    return {str(r): await fetch(api, token, r, as_of) for r in reads}


def body(snapshot: Snapshot, r: Read) -> Any:
    answer = snapshot[str(r)]
    assert answer.status == 200, (str(r), answer.content)
    return answer.content


def in_offset(instant: str, hours: int) -> str:
    """The same instant written in another offset, e.g. 2025-05-01T13:00:00.000001+01:00."""
    return datetime.fromisoformat(instant).astimezone(timezone(timedelta(hours=hours))).isoformat()


def just_before(instant: str) -> str:
    """One microsecond (the ledger's resolution) before `instant`, in UTC."""
    earlier = datetime.fromisoformat(instant) - timedelta(microseconds=1)
    return earlier.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def assert_as_of_answers_as_then(api: Api, token: str, reads: list[Read], instant: str, then: Snapshot) -> None:
    """Every read with asOf=`instant` (in UTC and two other offsets) equals the read
    taken without asOf at that instant, byte for byte."""
    for as_of in (instant, in_offset(instant, 1), in_offset(instant, -5)):
        got = await take(api, token, reads, as_of)
        for name, expected in then.items():
            message = f"{name} with asOf={as_of} differs from the read taken then"
            assert (got[name].status, got[name].content) == (expected.status, expected.content), message
            assert got[name].raw == expected.raw, message


def changed(now: Snapshot, then: Snapshot) -> set[str]:
    return {name for name in then if now[name] != then[name]}


async def accepted(api: Api, token: str, *events: dict[str, Any]) -> str:
    """Post `events` as one batch; the recordedAt of its last event (the instant to note)."""
    return (await post_ok(api, token, *events))[-1]["recordedAt"]


def balance(rows: dict[str, Any], budget: str, year: int, sub: str | None = None) -> tuple[int, ...]:
    """(allocated, income, spent, committed, available) of one row of a balances body."""
    (row,) = [r for r in rows["results"] if (r["budget"], r["year"], r["subBudget"]) == (budget, year, sub)]
    return row["allocatedCents"], row["incomeCents"], row["spentCents"], row["committedCents"], row["availableCents"]


def reserve_rows(rows: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    return {r["reserve"]: (r["balanceCents"], r["addedCents"], r["withdrawnCents"]) for r in rows["results"]}


def winst_figures(w: dict[str, Any]) -> tuple[int, int, int, int]:
    return w["realisedCents"], w["reinvestedCents"], w["carriedOverCents"], w["unappropriatedCents"]


def shares(split: dict[str, Any]) -> dict[str, int]:
    return {s["party"]: s["amountCents"] for s in split["shares"]}


def by_member(w: dict[str, Any]) -> dict[str, int]:
    return {m["party"]: m["amountCents"] for m in w["byMember"]}


# --- a gemeente's balances, reserves, winst, trail, journal, trial balance and log ----

TRAIL_2016 = f"/v1/balances/{P}/2016/{PB}/trail"
BALANCES, BALANCES_2016 = read("/v1/balances", party=P, pageSize=1000), read("/v1/balances", party=P, year=2016)
RESERVES, RESERVES_2016 = read("/v1/reserves", party=P), read("/v1/reserves", party=P, year=2016)
WINST_2016, WINST_2017 = read("/v1/winst", party=P, year=2016), read("/v1/winst", party=P, year=2017)
TRAIL = read(TRAIL_2016, pageSize=1000)
TRIAL = read("/v1/trial-balance", party=P)
EVENTS = read("/v1/events", limit=1000)
GEMEENTE_READS = [
    BALANCES, BALANCES_2016, read("/v1/balances", CSV, party=P),
    RESERVES, RESERVES_2016, read("/v1/reserves", CSV, party=P, year=2016),
    WINST_2016, WINST_2017, read("/v1/winst", party=P),
    TRAIL, read(TRAIL_2016, CSV),
    read("/v1/journal", party=P, pageSize=1000), read("/v1/journal", party=P, year=2016, pageSize=1000),
    read("/v1/journal", CSV, party=P),
    read("/v1/trial-balance"), TRIAL, read("/v1/trial-balance", CSV, party=P),
    EVENTS, read("/v1/events", NDJSON), read("/v1/events", CSV, limit=1000),
]


# The Iv3 read (being added alongside): read with the rest wherever the app serves it.
IV3 = "/v1/iv3"
IV3_READS = [read(IV3, party=P, year=2019, period=5), read(IV3, party=P, year=2019, period=4),
             read(IV3, CSV, party=P, year=2019, period=5)]  # 2019: 2016 has no taakvelden (a 422)


def with_iv3(api: Api, reads: list[Read]) -> list[Read]:
    served = {route.resource.canonical for route in api.client.app.router.routes() if route.resource is not None}
    return reads + IV3_READS if IV3 in served else reads


def correction(original: dict[str, Any], date: str, party: str = "GM0439") -> dict[str, Any]:
    return event("Correction", {"corrects": original["id"], "reason": "onjuist geboekt"}, party=party, date=date)


async def test_a_correction_dated_in_an_earlier_year_changes_it_only_from_when_it_was_recorded(
    api: Api, gemeente: str
) -> None:
    auditor = api.token("auditor")
    reads = with_iv3(api, GEMEENTE_READS)
    withdrawal = event("ReserveWithdrawn", {"reserve": "participatie", "budget": PB, "amountCents": 20_000},
                       date="2016-06-30")
    cost = event("CostBooked", {"budget": PB, "category": "begeleiding", "amountCents": 30_000}, date="2016-06-30")
    scholing = event("CostBooked", {"budget": PB, "category": "scholing", "amountCents": 4_000}, date="2016-09-30")
    reinvestment = event("WinstReinvested", {"destination": "dagbesteding", "amountCents": 2_000}, date="2016-09-30")
    t1 = await accepted(
        api, gemeente,
        event("ReserveEstablished", {"reserve": "participatie", "openingBalanceCents": 50_000, "purpose": "test"},
              date="2016-01-01"),
        event("BudgetAllocated", {"budget": PB, "source": "rijk", "amountCents": 100_000}, date="2016-01-01"),
        withdrawal, cost, scholing,
        event("WinstRealised", {"source": "loonvormende-arbeid", "amountCents": 5_000}, date="2016-06-30"),
        reinvestment,
    )
    then = await take(api, auditor, reads)
    # At T1: 2016 allocated 100.000, income (the withdrawal) 20.000, spent 30.000 + 4.000;
    # available 100.000 + 20.000 - 34.000 = 86.000. The reserve: 50.000 - 20.000 = 30.000.
    assert balance(body(then, BALANCES_2016), PB, 2016) == (100_000, 20_000, 34_000, 0, 86_000)
    assert reserve_rows(body(then, RESERVES_2016)) == {"participatie": (30_000, 50_000, 20_000)}
    assert winst_figures(body(then, WINST_2016)) == (5_000, 2_000, 0, 3_000)
    assert winst_figures(body(then, WINST_2017)) == (0, 0, 3_000, 3_000)
    assert await take(api, auditor, reads, t1) == then  # the two paths agree at the instant itself

    # Later: the cost is corrected, dated 31 December 2016 (effective in 2016) ...
    t2 = await accepted(api, gemeente, correction(cost, "2016-12-31"))
    # ... so are the withdrawal and the reinvestment, and a reserve dated March 2016 is
    # established only now; then 2016 is closed, and the scholing cost of 2016 is corrected
    # by the route around a closed year: dated, and booked, in 2017.
    await accepted(
        api, gemeente, correction(withdrawal, "2016-12-31"), correction(reinvestment, "2016-12-31"),
        event("ReserveEstablished", {"reserve": "tweede", "openingBalanceCents": 5_000, "purpose": "test"},
              date="2016-03-01"),
    )
    await accepted(api, gemeente, event("YearClosed", {}, date="2016-12-31"))
    await accepted(
        api, gemeente,
        event("BudgetAllocated", {"budget": PB, "source": "rijk", "amountCents": 40_000}, date="2017-01-01"),
        event("CostBooked", {"budget": PB, "category": "begeleiding", "amountCents": 10_000}, date="2017-03-31"),
        correction(scholing, "2017-01-15"),
    )

    await assert_as_of_answers_as_then(api, auditor, reads, t1, then)
    now = await take(api, auditor, reads)
    assert changed(now, then) == {str(r) for r in reads}  # every one of these reads moved on
    # Now 2016: income 20.000 - 20.000 = 0, spent 34.000 - 30.000 = 4.000 (the scholing
    # correction went to 2017), available 100.000 - 4.000 = 96.000.
    assert balance(body(now, BALANCES_2016), PB, 2016) == (100_000, 0, 4_000, 0, 96_000)
    # 2017: allocated 40.000, spent 10.000 - 4.000 = 6.000, available 34.000.
    assert balance(body(now, BALANCES), PB, 2017) == (40_000, 0, 6_000, 0, 34_000)
    # The reserve at the end of 2016: 50.000 - 20.000 + 20.000; the new one with its 5.000.
    assert reserve_rows(body(now, RESERVES_2016)) == {"participatie": (50_000, 50_000, 0), "tweede": (5_000, 5_000, 0)}
    assert winst_figures(body(now, WINST_2016)) == (5_000, 0, 0, 5_000)
    assert winst_figures(body(now, WINST_2017)) == (0, 0, 5_000, 5_000)

    # The correction is effective in 2016, but 2016 shows it only from its recorded
    # instant on: one microsecond earlier the cost is still there.
    before_t2 = (await fetch(api, auditor, BALANCES_2016, just_before(t2))).content
    at_t2 = (await fetch(api, auditor, BALANCES_2016, t2)).content
    assert balance(before_t2, PB, 2016) == (100_000, 20_000, 34_000, 0, 86_000)
    assert balance(at_t2, PB, 2016) == (100_000, 20_000, 4_000, 0, 116_000)
    trail = (await fetch(api, auditor, TRAIL, t2)).content
    assert [(r["type"], r["effectiveDate"], r["spentCents"]) for r in trail["results"]][-1] == (
        "Correction", "2016-12-31", -30_000)
    assert trail["results"][-1]["recordedAt"] == t2


# --- a shared organisation: cost splits under both policies, winst by member ----------

SPLIT = f"/v1/organisations/{ORG}/cost-split"
SPLIT_KEY = read(SPLIT, year=2015)  # the policy of the year's key
SPLIT_SOLIDARITEIT = read(SPLIT, year=2015, policy="solidariteit")
SPLIT_PROFIJT = read(SPLIT, year=2015, policy="profijt")
ORG_WINST = read("/v1/winst", party=ORG, year=2015)
ORG_WINST_SOLIDARITEIT = read("/v1/winst", party=ORG, year=2015, policy="solidariteit")
ORG_WINST_PROFIJT = read("/v1/winst", party=ORG, year=2015, policy="profijt")
ORGANISATION_READS = [
    SPLIT_KEY, SPLIT_SOLIDARITEIT, SPLIT_PROFIJT, read(SPLIT, CSV, year=2015, policy="profijt"),
    ORG_WINST, ORG_WINST_SOLIDARITEIT, ORG_WINST_PROFIJT, read("/v1/winst", party=ORG),
    read("/v1/journal", party=ORG, pageSize=1000), read("/v1/trial-balance", party=ORG),
    read("/v1/events", party=ORG, limit=1000),
]


async def test_cost_splits_and_winst_by_member_as_known_before_a_new_key_a_leaver_and_a_correction(api: Api) -> None:
    org = await organisation(api, ORG, ["GM0001", "GM0002"])
    auditor = api.token("auditor")
    werk = event("OrganisationCostBooked", {"unit": "werk", "amountCents": 600, "usage": {"GM0001": 1}}, party=ORG)
    t1 = await accepted(
        api, org,
        event("AllocationKeySet", {"basis": "vast", "weights": {"GM0001": 1, "GM0002": 1}, "policy": "solidariteit"},
              party=ORG, date="2015-01-01"),
        event("OrganisationCostBooked", {"unit": "staf", "amountCents": 1_000}, party=ORG),
        werk,
        event("WinstRealised", {"source": "loonvormende-arbeid", "amountCents": 300, "member": "GM0002"}, party=ORG),
        event("WinstRealised", {"source": "opdrachten", "amountCents": 100}, party=ORG),
    )
    then = await take(api, auditor, ORGANISATION_READS)
    # At T1 the key is 1:1, solidariteit. Costs 1.000 + 600 = 1.600: 800 each pooled;
    # by profijt staf 500 each by the key and werk's 600 to GM0001 (its only user).
    assert body(then, SPLIT_KEY) == body(then, SPLIT_SOLIDARITEIT)
    assert (body(then, SPLIT_KEY)["totalCents"], shares(body(then, SPLIT_KEY))) == (1_600, {"GM0001": 800, "GM0002": 800})
    assert shares(body(then, SPLIT_PROFIJT)) == {"GM0001": 1_100, "GM0002": 500}
    # Winst 300 + 100: pooled 200 each; by profijt GM0002 earned 300, the 100 by the key.
    assert by_member(body(then, ORG_WINST)) == {"GM0001": 200, "GM0002": 200}
    assert by_member(body(then, ORG_WINST_PROFIJT)) == {"GM0001": 50, "GM0002": 350}

    # Later: werk is corrected, the 2015 key becomes 3:1 under profijt; then GM0002 turns
    # out to have been away from 1 July to 1 October 2015 (it left and joined again), and
    # 100 of the winst is reinvested.
    t2 = await accepted(
        api, org,
        event("Correction", {"corrects": werk["id"], "reason": "dubbel"}, party=ORG, date="2015-12-31"),
        event("AllocationKeySet", {"basis": "vast", "weights": {"GM0001": 3, "GM0002": 1}, "policy": "profijt"},
              party=ORG, date="2015-06-01"),
    )
    await accepted(api, org, event("MembershipChanged", {"member": "GM0002", "change": "left"}, party=ORG,
                                   date="2015-07-01"))
    await accepted(api, org, event("MembershipChanged", {"member": "GM0002", "change": "joined"}, party=ORG,
                                   date="2015-10-01"))
    await accepted(api, org, event("WinstReinvested", {"destination": "dagbesteding", "amountCents": 100}, party=ORG,
                                   date="2015-09-30"))

    await assert_as_of_answers_as_then(api, auditor, ORGANISATION_READS, t1, then)
    now = await take(api, auditor, ORGANISATION_READS)
    assert changed(now, then) == {str(r) for r in ORGANISATION_READS}
    # Now: costs 1.000 + 600 - 600 = 1.000 and the key's policy is profijt. GM0002 weighs
    # 1 x 273/365 (1 January - 30 June: 181 days, 1 October - 31 December: 92), GM0001 3:
    # of 3 + 273/365 = 1.368/365, GM0001 1.000 x 1.095/1.368 = 800,44 and GM0002
    # 1.000 x 273/1.368 = 199,56; the cent left goes to the larger remainder (GM0002).
    # werk and its correction cancel out for GM0001.
    assert body(now, SPLIT_KEY)["policy"] == "profijt"
    for r in (SPLIT_KEY, SPLIT_SOLIDARITEIT, SPLIT_PROFIJT):
        assert (body(now, r)["totalCents"], shares(body(now, r))) == (1_000, {"GM0001": 800, "GM0002": 200})
    assert [s["weight"] for s in body(now, SPLIT_KEY)["shares"]] == [3, round(273 / 365, 6)]
    # Winst by profijt: GM0002's 300, and the 100 by the key: 80,04 / 19,96 -> 80 and 320;
    # pooled: 400 x 1.095/1.368 = 320,18 and 400 x 273/1.368 = 79,82 -> 320 and 80.
    assert winst_figures(body(now, ORG_WINST)) == (400, 100, 0, 300)
    assert by_member(body(now, ORG_WINST)) == {"GM0001": 80, "GM0002": 320}
    assert by_member(body(now, ORG_WINST_SOLIDARITEIT)) == {"GM0001": 320, "GM0002": 80}

    # Between the new key and the leaver: the key is 3:1 and GM0002 still weighs a full year.
    split = (await fetch(api, auditor, SPLIT_PROFIJT, t2)).content
    assert (split["basis"], split["totalCents"], shares(split)) == ("vast", 1_000, {"GM0001": 750, "GM0002": 250})
    assert [s["weight"] for s in split["shares"]] == [3, 1]


# --- KPIs: placements, targets, outflow and subsidy commitments -----------------------

KPIS = read("/v1/kpis", party=P, year=2015)
INKOMENSDEEL = read("/v1/balances", party=P, year=2015, budget="inkomensdeel")
KPI_READS = [
    KPIS, read("/v1/kpis", CSV, party=P, year=2015), INKOMENSDEEL,
    read(f"/v1/balances/{P}/2015/inkomensdeel/trail", pageSize=1000),
    read("/v1/journal", party=P, year=2015, pageSize=1000), read("/v1/events", party=P, limit=1000),
]


async def test_kpis_as_known_before_placements_outflow_and_a_subsidy_changed(api: Api, gemeente: str) -> None:
    auditor = api.token("auditor")
    registered = outflow("c1", "volledig", 500_000)
    t1 = await accepted(
        api, gemeente,
        allocation(5_000_000), target("beschut-werk", 2, binding=True),
        placement("p1", "beschut-werk", 32, "2015-02-01"), placement("p2", "banenafspraak", 25, "2015-03-01"),
        registered,
        grant("lks-1", "2015-03-01", "2015-12-31", date="2015-02-15"),  # March-December: 10 x 92.625
        grant("lks-2", "2014-10-01", "2015-12-31"),  # 2015: 12 x 92.625
    )
    then = await take(api, auditor, KPI_READS)
    kpis = body(then, KPIS)
    assert [(k["kind"], k["started"], k["ended"], k["active"], k["target"]) for k in kpis["placements"]] == [
        ("banenafspraak", 1, 0, 1, None), ("beschut-werk", 1, 0, 1, 2)]
    assert (kpis["banenafspraakJobs"], kpis["beschutWerk"]) == (1.0, {"places": 1, "cap": 2, "target": 2})
    assert kpis["outflow"] == {"volledig": 1, "gedeeltelijk": 0, "avoidedBenefitCents": 500_000}
    assert kpis["subsidies"] == {"active": 2, "committedCents": 926_250 + 1_111_500}

    # Later: p1 ends, p3 starts, the outflow is corrected, lks-1 ends after September and
    # March is paid, lks-2 turns out to have ended in 2014, and a new target replaces the old one.
    await accepted(api, gemeente, placement_ended("p1", "2015-06-01"), placement("p3", "banenafspraak", 12.5, "2015-04-01"))
    await accepted(api, gemeente, correction(registered, "2015-10-15"))
    await accepted(api, gemeente, subsidy_ended("lks-1", "2015-09-30"), paid("lks-1", 92_625),
                   subsidy_ended("lks-2", "2014-12-31"))
    await accepted(api, gemeente, target("beschut-werk", 3, binding=True))

    await assert_as_of_answers_as_then(api, auditor, KPI_READS, t1, then)
    now = await take(api, auditor, KPI_READS)
    assert changed(now, then) == {str(r) for r in KPI_READS}
    kpis = body(now, KPIS)
    assert [(k["kind"], k["started"], k["ended"], k["active"], k["target"]) for k in kpis["placements"]] == [
        ("banenafspraak", 2, 0, 2, None), ("beschut-werk", 1, 1, 0, 3)]
    # 25 + 12,5 hours = 1,5 jobs of 25 hours
    assert (kpis["banenafspraakJobs"], kpis["beschutWerk"]) == (1.5, {"places": 0, "cap": 3, "target": 3})
    assert kpis["outflow"] == {"volledig": 0, "gedeeltelijk": 0, "avoidedBenefitCents": 0}
    # lks-1 March-September 7 x 92.625 = 648.375 planned, 92.625 of it paid: 555.750 open;
    # lks-2 has no 2015 months left. Available 5.000.000 - 92.625 - 555.750 = 4.351.625.
    assert kpis["subsidies"] == {"active": 1, "committedCents": 555_750}
    assert balance(body(now, INKOMENSDEEL), "inkomensdeel", 2015) == (5_000_000, 0, 92_625, 555_750, 4_351_625)


# --- paging through a past view -------------------------------------------------------


async def test_paging_with_as_of_stays_in_the_past(api: Api, gemeente: str) -> None:
    auditor = api.token("auditor")
    t1 = await accepted(api, gemeente, *[allocation(1_000 * n) for n in range(1, 5)])  # 1 + 4 events: 5 in the log
    journal = {"party": P, "pageSize": 3}

    async def pages(path: str, params: dict[str, Any], as_of: str | None = None) -> list[dict[str, Any]]:
        """Every page, following `next` as a client would."""
        out: list[dict[str, Any]] = []
        status, page = await api.get(auditor, path, **params, **({"asOf": as_of} if as_of else {}))
        while True:
            assert status == 200, page
            out.append(page)
            if page["next"] is None:
                return out
            status, page = await api.get(auditor, urlsplit(page["next"]).path, **dict(parse_qsl(urlsplit(page["next"]).query)))

    then_events = await pages("/v1/events", {"limit": 2})
    then_journal = await pages("/v1/journal", journal)
    await accepted(api, gemeente, *[allocation(7) for _ in range(3)])
    for path, params, then in (("/v1/events", {"limit": 2}, then_events), ("/v1/journal", journal, then_journal)):
        past = await pages(path, params, as_of=in_offset(t1, 1))
        # The same pages with the same rows and counts; the links differ only in carrying asOf
        # (normalised or not, it names the same instant), so the next page is in the past too.
        assert [(p["count"], p["results"]) for p in past] == [(p["count"], p["results"]) for p in then]
        for old, new in zip(then, past, strict=True):
            for link in ("next", "previous"):
                if old[link] is None:
                    assert new[link] is None
                    continue
                query = dict(parse_qsl(urlsplit(new[link]).query))
                assert datetime.fromisoformat(query.pop("asOf")) == datetime.fromisoformat(t1)
                assert query == dict(parse_qsl(urlsplit(old[link]).query))
        assert len(await pages(path, params)) > len(then)  # without asOf the later events are there


# --- before the first event, offsets, and instants without a zone --------------------

EMPTY_LIST = {"count": 0, "next": None, "previous": None, "results": []}


async def everything(api: Api) -> str:
    """A gemeente and an organisation with something in every read; the org's token."""
    org = await organisation(api, ORG, ["GM0001", "GM0002"])
    await register(api, api.token("admin"), P)
    gemeente = api.token("gemeente", P)
    await accepted(
        api, gemeente,
        event("ReserveEstablished", {"reserve": "r", "openingBalanceCents": 1_000, "purpose": "test"}, date="2015-01-01"),
        allocation(1_000_000), placement("p1", "beschut-werk", 32, "2015-02-01"), outflow("c1", "volledig", 100),
        grant("lks-1", "2015-03-01", "2015-12-31"),
        event("WinstRealised", {"source": "opdrachten", "amountCents": 100}, date="2015-06-30"),
    )
    await accepted(
        api, org,
        event("AllocationKeySet", {"basis": "vast", "weights": {"GM0001": 1, "GM0002": 1}, "policy": "profijt"},
              party=ORG, date="2015-01-01"),
        event("OrganisationCostBooked", {"unit": "staf", "amountCents": 1_000}, party=ORG),
        event("WinstRealised", {"source": "opdrachten", "amountCents": 100, "member": "GM0001"}, party=ORG),
    )
    return org


ALL_READS = [
    *GEMEENTE_READS, *ORGANISATION_READS, *KPI_READS,
    read(f"/v1/organisations/{ORG}/cost-split", CSV, year=2015),
    read("/v1/reserves", CSV, party=P),
    read("/v1/trial-balance", CSV),
    read("/v1/journal", CSV, party=P, year=2015),
]


async def test_before_the_first_event_every_read_is_empty_or_zero(api: Api) -> None:
    await everything(api)
    auditor = api.token("auditor")
    reads = with_iv3(api, ALL_READS)
    now = await take(api, auditor, reads)
    assert all(answer.status == 200 for answer in now.values())
    past = await take(api, auditor, reads, BEFORE_EVERYTHING)
    zero_winst = {"realisedCents": 0, "reinvestedCents": 0, "carriedOverCents": 0, "unappropriatedCents": 0,
                  "bySource": {}, "byDestination": {}}
    zero_kpis = {
        "party": P, "year": 2015, "placements": [], "banenafspraakJobs": 0.0,
        "beschutWerk": {"places": 0, "cap": None, "target": None},
        "outflow": {"volledig": 0, "gedeeltelijk": 0, "avoidedBenefitCents": 0},
        "subsidies": {"active": 0, "committedCents": 0},
    }
    for r in reads:
        status, content, _ = past[str(r)]
        if r.path in (SPLIT, IV3):
            # The exceptions: the organisation (for Iv3: the party) was not registered
            # then, so the answer is what it is for an unregistered code now, a 404; not
            # an empty split or report of a party that did not exist.
            assert status == 404 and content["title"], (str(r), content)
            continue
        assert status == 200, (str(r), content)
        if r.accept == CSV:
            assert len(content.splitlines()) == 1, str(r)  # no rows: the table's header alone
        elif r.accept == NDJSON:
            assert content == "", str(r)  # no rows: an empty stream
        elif r.path == "/v1/winst":
            params = dict(r.params)
            # Not known as an organisation then: no policy and no byMember, just zeros.
            assert content == {"party": params["party"], "year": params.get("year"), **zero_winst}, str(r)
        elif r.path == "/v1/kpis":
            assert content == zero_kpis
        elif r.path == "/v1/trial-balance":
            expected: dict[str, Any] = {"position": 0, "debitCents": 0, "creditCents": 0}
            assert content == (expected if "party" not in dict(r.params) else {**expected, "accounts": []}), str(r)
        else:
            assert content == EMPTY_LIST, str(r)


async def test_every_read_with_as_of_in_another_offset_names_the_same_instant(api: Api) -> None:
    org = await everything(api)
    auditor = api.token("auditor")
    reads = with_iv3(api, ALL_READS)
    t1 = await accepted(api, org, event("OrganisationCostBooked", {"unit": "staf", "amountCents": 5}, party=ORG))
    then = await take(api, auditor, reads)
    await accepted(api, org, event("OrganisationCostBooked", {"unit": "werk", "amountCents": 7}, party=ORG))
    # +01:00, -05:00, +05:45 (Nepal, a quarter-hour offset) and Z: the same instant, the same answers.
    for as_of in (in_offset(t1, 1), in_offset(t1, -5), datetime.fromisoformat(t1).astimezone(
            timezone(timedelta(hours=5, minutes=45))).isoformat(), t1.replace("Z", "+00:00")):
        assert await take(api, auditor, reads, as_of) == then, as_of


@pytest.mark.parametrize("as_of", ["2017-03-01T00:00:00", "2017-03-01", "gisteren", "2017-03-01T00:00:00 01:00"])
async def test_as_of_without_a_time_zone_is_a_400_on_every_read(api: Api, as_of: str) -> None:
    await everything(api)
    auditor = api.token("auditor")
    for r in with_iv3(api, ALL_READS):
        headers = {"Authorization": f"Bearer {auditor}", **({"Accept": r.accept} if r.accept else {})}
        response = await api.client.get(r.path, params={**dict(r.params), "asOf": as_of}, headers=headers)
        problem = await response.json(content_type=None)
        assert_problem(response.status, response.headers["Content-Type"], problem, 400)
        assert [p["name"] for p in problem["invalidParams"]] == ["asOf"], str(r)


# --- GET /v1/events/{id} ----------------------------------------------------------------


async def test_one_event_as_of_before_it_was_recorded_is_not_found(api: Api, gemeente: str) -> None:
    auditor = api.token("auditor")
    cost = allocation(1_000)
    t1 = await accepted(api, gemeente, cost)
    path = f"/v1/events/{cost['id']}"
    status, now = await api.get(auditor, path)
    assert status == 200 and now["recordedAt"] == t1
    assert await api.get(auditor, path, asOf=t1) == (200, now)
    assert (await api.get(auditor, path, asOf=in_offset(t1, 1)))[1] == now
    r = await api.client.get(path, params={"asOf": just_before(t1)}, headers={"Authorization": f"Bearer {auditor}"})
    assert_problem(r.status, r.headers["Content-Type"], await r.json(content_type=None), 404)
    r = await api.client.get(path, params={"asOf": "2017-03-01T00:00:00"}, headers={"Authorization": f"Bearer {auditor}"})
    assert_problem(r.status, r.headers["Content-Type"], await r.json(content_type=None), 400)


@pytest.mark.parametrize("as_of", ["0999-12-31T00:00:00Z", "0001-01-01T00:00:00+01:00"])
async def test_as_of_in_the_distant_past_is_before_every_event(api: Api, gemeente: str, as_of: str) -> None:
    """Instants compare as fixed-width text: a year below 1000 is padded ('0999-...', not
    '999-...', which sorts after '2025-...'), and an offset that takes the instant below
    year 1 in UTC is still before every event (not a 500)."""
    await accepted(api, gemeente, allocation(1_000))
    status, body_ = await api.get(api.token("auditor"), "/v1/balances", party=P, asOf=as_of)
    assert (status, body_) == (200, EMPTY_LIST)
