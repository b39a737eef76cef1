"""The demo data (`ledger demo`) posted over HTTP as its batches, and what the ledger
then answers: the published figures of the four sources (ledger/sources.py), the budget
cycle on them (issue 17, with the README's examples run against the served demo), and
the parties a controller picks from (`GET /v1/parties`)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ledger import demo
from ledger import sources as src
from tests.conftest import Api, load_demo, serve_demo
from tests.procs_ledger import ROOT, cli_env


async def results(api: Api, token: str, path: str, **params: Any) -> list[dict[str, Any]]:
    status, body = await api.get(token, path, **params)
    assert status == 200, body
    return body["results"]


async def total_row(api: Api, token: str, party: str, year: int, budget: str) -> dict[str, Any]:
    rows = await results(api, token, "/v1/balances", party=party, year=year, budget=budget)
    (total,) = [r for r in rows if r["subBudget"] is None]
    return total


async def test_the_demo_answers_the_published_figures(api: Api) -> None:
    admin = await load_demo(api)
    # Purmerend (seed 002): the 2018 deficit "22.616–", and the reserve empty after 2018.
    assert (await total_row(api, admin, "GM0439", 2018, "participatiebudget"))["saldoCents"] == -2_261_600
    (reserve,) = await results(api, admin, "/v1/reserves", party="GM0439", year=2018)
    assert reserve["balanceCents"] == 0
    # Lelystad (seed 000): the integratie-uitkering A+B+C, and the NUON reserve lent out by 2018.
    for year, figures in src.LELYSTAD_INTEGRATIE_UITKERING.items():
        assert (await total_row(api, admin, src.LELYSTAD, year, "participatiebudget"))["allocatedCents"] == figures["total"]
    (nuon,) = await results(api, admin, "/v1/reserves", party=src.LELYSTAD, year=2018)
    assert (nuon["reserve"], nuon["balanceCents"]) == ("nuon", 0)
    # Regionaal Werkbedrijf (seed 003): Apeldoorn holds the Rijk's million; the 2015 begroting.
    tranches = await results(api, admin, "/v1/balances", party=src.RWB_FUND_HOLDER, budget="rwb-opstartmiddelen")
    assert sum(r["allocatedCents"] for r in tranches if r["subBudget"] is None) == src.RWB_RIJK_TOTAL
    assert (await total_row(api, admin, demo.RWB, 2015, "werkbedrijf"))["allocatedCents"] == src.RWB_BEGROTING_2015_TOTAL
    # Drentsche Aa (seed 004): the members pay the net 1.3 mln, split as test_organisations works out by hand.
    for policy, gm0106 in (("solidariteit", 69_602_228), ("profijt", 86_048_387)):
        status, split = await api.get(admin, f"/v1/organisations/{demo.DRENTSCHE_AA}/cost-split", year=2015, policy=policy)
        assert status == 200 and split["totalCents"] == 130_000_000, split
        assert {s["party"]: s["amountCents"] for s in split["shares"]}["GM0106"] == gm0106
    status, kpis = await api.get(admin, "/v1/kpis", party=demo.DRENTSCHE_AA, year=2015)
    assert kpis["banenafspraakJobs"] == 58 and kpis["beschutWerk"]["cap"] == 20
    assert kpis["outflow"]["volledig"] == 145 + 77
    assert kpis["outflow"]["avoidedBenefitCents"] == sum(cents for _, cents in src.DRENTSCHE_AA_OUTFLOW_2015.values())


async def test_the_demo_shows_the_budget_cycle(api: Api) -> None:
    """Issue 17 on the demo: the Werkbedrijf's concept begroting adopted and amended and its order on a line,
    Lelystad's estimates voorlopig, both reserves' runways, and Drentsche Aa's advances
    settled against each member's share; Purmerend's published figures untouched."""
    admin = api.token("admin")
    for batch in demo.batches():
        status, body = await api.post(admin, {"events": batch.events})
        assert status == 201, (batch.title, body)
        if batch.title == "Regionaal Werkbedrijf: conceptbegroting 2015":  # before the bestuur adopts it
            concept = await results(api, admin, "/v1/balances", party=demo.RWB, year=2015)
            assert {r["status"] for r in concept} == {"voorlopig"} and len(concept) == 1 + len(src.RWB_BEGROTING_2015)
    # 2. The begroting: adopted unchanged (seed 003 L1838-1841), then € 25.000 moved from onvoorzien.
    rows = {r["subBudget"]: r for r in await results(api, admin, "/v1/balances", party=demo.RWB, year=2015)}
    split = {sub: (r["primitiveCents"], r["amendmentsCents"], r["allocatedCents"], r["status"])
             for sub, r in rows.items()}
    assert split[None] == (50_000_000, 0, 50_000_000, "definitief")
    assert split["onvoorzien"] == (10_000_000, -2_500_000, 7_500_000, "definitief")
    assert split["werkgeversdienstverlening"] == (4_000_000, 2_500_000, 6_500_000, "definitief")
    assert all(v[1] == 0 for sub, v in split.items() if sub not in ("onvoorzien", "werkgeversdienstverlening"))
    status, body = await api.get(admin, "/v1/events", party=demo.RWB, limit=1000)
    revised = [e for e in body["results"] if e["type"] == "BudgetRevised"]
    assert [(e["data"]["kind"], e["data"]["councilDecision"]) for e in revised] == [
        ("begrotingswijziging", src.RWB_AMENDMENT_2015["councilDecision"])] * 2
    assert all(demo.ILLUSTRATIVE in e["reference"] for e in revised)
    # Lelystad's meerjarenraming in one read: 2015 as made available, 2016-2019 the source's estimates.
    years = await results(api, admin, "/v1/balances", party=src.LELYSTAD, budget="participatiebudget",
                          fromYear=2015, toYear=2019)
    assert {(r["year"], r["status"]) for r in years if r["subBudget"] is None} == {
        (2015, "definitief"), (2016, "voorlopig"), (2017, "voorlopig"), (2018, "voorlopig"), (2019, "voorlopig")}
    # Lelystad's NUON withdrawals are reserve money: outside its structural saldo.
    (nuon_year,) = [r for r in years if r["year"] == 2016 and r["subBudget"] is None]
    assert nuon_year["saldoCents"] - nuon_year["structuralSaldoCents"] == src.NUON_RESERVE["withdrawals"][2016]
    # Purmerend as published (seed 002): no amendment, structural deficit ca. € 212.000 (L1280).
    purmerend = await total_row(api, admin, "GM0439", 2018, "participatiebudget")
    assert (purmerend["primitiveCents"], purmerend["amendmentsCents"]) == (205_996_100, 0)
    assert purmerend["status"] == "definitief"
    assert (purmerend["saldoCents"], purmerend["structuralSaldoCents"]) == (-2_261_600, -21_181_400)
    # 4. Runways: Purmerend's reserve and Lelystad's NUON reserve both run dry in 2018.
    for path, closings in (
        ("/v1/reserves/GM0439/participatie/runway",
         {2014: 107_517_300, 2015: 78_451_900, 2016: 48_276_200, 2017: 18_919_800, 2018: 0}),
        (f"/v1/reserves/{src.LELYSTAD}/nuon/runway",
         {2015: 300_000_000, 2016: 200_000_000, 2017: 100_000_000, 2018: 0}),
    ):
        status, runway = await api.get(admin, path)
        assert status == 200 and runway["emptyAt"] == 2018, runway
        assert {y["year"]: y["closingCents"] for y in runway["years"]} == closings
    # 5. Advances by inhabitants, settled by each policy: one member pays more, the others get money back.
    invoiced = {m: 4 * cents for m, cents in src.DRENTSCHE_AA_ADVANCE_2015.items()}
    paid = {"GM1680": 26_000_000, "GM0106": 70_000_000, "GM1730": 25_500_000}  # Tynaarlo: three quarters
    for policy, settlement in (
        ("profijt", {"GM1680": 19_233_871 - 26_000_000, "GM0106": 86_048_387 - 70_000_000,
                     "GM1730": 24_717_742 - 25_500_000}),
        ("solidariteit", {"GM1680": 26_165_473 - 26_000_000, "GM0106": 69_602_228 - 70_000_000,
                          "GM1730": 34_232_299 - 25_500_000}),
    ):
        path = f"/v1/organisations/{demo.DRENTSCHE_AA}/cost-split"
        status, body = await api.get(admin, path, year=2015, policy=policy)
        assert status == 200, body
        shares = {s["party"]: s for s in body["shares"]}
        assert {m: s["invoicedCents"] for m, s in shares.items()} == invoiced
        assert {m: s["paidCents"] for m, s in shares.items()} == paid
        assert {m: s["settlementCents"] for m, s in shares.items()} == settlement
    assert settlement["GM0106"] < 0 < settlement["GM1730"]  # solidariteit: the other way round
    status, body = await api.get(admin, "/v1/events", party=demo.DRENTSCHE_AA, limit=1000)
    advances = [e for e in body["results"] if e["type"] in ("ContributionInvoiced", "ContributionPaid")]
    assert len(advances) == 12 + 11 and all(demo.ILLUSTRATIVE in e["reference"] for e in advances)
    # 3. The Werkbedrijf's order on its monitoring line: 30.000, 18.000 paid against it, 2.000 released.
    (order,) = await results(api, admin, "/v1/commitments", party=demo.RWB, year=2015)
    assert (order["commitmentId"], order["registeredCents"], order["usedCents"], order["releasedCents"],
            order["openCents"]) == ("RWB-2015-monitoring", 3_000_000, 1_800_000, 200_000, 1_000_000)
    line = {r["subBudget"]: r for r in await results(api, admin, "/v1/balances", party=demo.RWB, year=2015)}
    assert (line["monitoring-banen"]["committedCents"], line["monitoring-banen"]["availableCents"]) == (
        1_000_000, 4_000_000 - 1_800_000 - 1_000_000)
    assert line[None]["committedCents"] == 1_000_000


def _readme_examples() -> str:
    """The README's first post ("Using it") and every command of "The budget cycle", one script."""
    readme = (ROOT / "README.md").read_text()
    using = readme.split("\n## Using it\n", 1)[1]
    cycle = readme.split("\n## The budget cycle\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", using, re.DOTALL)[:1] + re.findall(r"```sh\n(.*?)```", cycle, re.DOTALL)
    assert len(blocks) >= 6
    return "set -eu\n" + "\n".join(blocks)


def test_the_readme_budget_cycle_examples_run_against_the_demo(tmp_path: Path) -> None:
    """`make run`, then the README's commands as written (on another port): each answers
    2xx, and leaves what the README says it does."""
    if shutil.which("curl") is None or not (ROOT / ".venv/bin/ledger").exists():
        pytest.skip("needs curl and the virtualenv's ledger command")
    with serve_demo(tmp_path) as (served, _):
        script = _readme_examples().replace("http://127.0.0.1:8080", served.base)
        out = subprocess.run(["bash", "-c", script], check=False, cwd=ROOT, env=cli_env(served.db),
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert '"status":4' not in out.stdout and '"status":5' not in out.stdout, out.stdout  # no problem answered
        assert '"emptyAt":2018' in out.stdout and "GM0995,nuon,2018,100000000,0,100000000,0" in out.stdout
        assert out.stdout.count(",voorlopig") == 16 and '"settlementCents":16048387' in out.stdout
        # The invoice was corrected away in two parts; the raad then covered the 2018 deficit.
        (row,) = [r for r in served.get("/v1/balances", party="GM0439", year=2018)["results"] if r["subBudget"] is None]
        assert row["spentCents"] == 480_734_300  # as published: the € 12.500 invoice is reversed whole
        assert (row["amendmentsCents"], row["saldoCents"], row["structuralSaldoCents"]) == (2_261_600, 0, -18_919_800)
        shares = served.get(f"/v1/organisations/{demo.DRENTSCHE_AA}/cost-split", year=2015)["shares"]
        assert {s["party"]: s["settlementCents"] for s in shares}["GM1730"] == 24_717_742 - 34_000_000
        # The Werkbedrijf's campaign used up its order and no more; Purmerend 2014 reopened and closed again.
        assert '"commitmentId":"RWB-2015-campagne","budget":"werkbedrijf","subBudget":"communicatie",' \
               '"category":"communicatie","registeredCents":1000000,"usedCents":1000000' in out.stdout
        assert '"closedYears":[]' in out.stdout and out.stdout.count("closed GM0439 2014 at position") == 2
        assert "until reopened at position" in out.stdout


def test_the_illustrative_usage_adds_up_to_the_published_headcounts() -> None:
    """Usage per member is made up (seed 004 lacks its annexes), but not beyond the units' staff."""
    usage = {unit: sum(by_member.values()) for unit, by_member in src.DRENTSCHE_AA_USAGE.items()}
    assert usage == src.DRENTSCHE_AA_HEADCOUNT_2015


async def test_loading_the_demo_again_stores_nothing(api: Api) -> None:
    admin = await load_demo(api)
    status, before = await api.get(admin, "/v1/events", limit=1)
    for batch in demo.batches():
        status, body = await api.post(admin, {"events": batch.events})
        assert status == 200, (batch.title, body)
    status, after = await api.get(admin, "/v1/events", limit=1)
    assert after["count"] == before["count"] == sum(len(b.events) for b in demo.batches())


async def test_parties_are_what_the_token_may_read_with_the_years_of_their_figures(api: Api) -> None:
    admin = await load_demo(api)
    everyone = {p["code"]: p for p in await results(api, admin, "/v1/parties", pageSize=1000)}
    assert len(everyone) == 1 + 1 + len(src.RWB_MEMBERS) + 1 + len(src.DRENTSCHE_AA_MEMBERS) + 1
    assert everyone["GM0439"] == {"code": "GM0439", "name": "Purmerend", "kind": "gemeente", "fundHolder": None,
                                  "cbsNumber": None, "members": [], "years": [2014, 2015, 2016, 2017, 2018],
                                  "closedYears": []}
    rwb = everyone[demo.RWB]
    assert (rwb["kind"], rwb["fundHolder"], rwb["members"]) == ("organisation", "GM0200", sorted(src.RWB_MEMBERS))
    assert rwb["cbsNumber"] == demo.RWB_CBS_NUMBER  # made up: the sources name none (ledger/demo.py)
    assert everyone["GM0200"]["years"] == [2014, 2015, 2016]  # Apeldoorn's registration and the Rijk's tranches
    # A gemeente reads itself and the organisation it is a member of; a controller its own party.
    assen = api.token("gemeente", "GM0106")
    assert [p["code"] for p in await results(api, assen, "/v1/parties")] == [demo.DRENTSCHE_AA, "GM0106"]
    controller = api.token("controller", "GM0439")
    assert [p["code"] for p in await results(api, controller, "/v1/parties")] == ["GM0439"]
    status, body = await api.get(assen, "/v1/parties", party="GM0439")
    assert status == 403, body
    # As a table, a gemeente first and then its organisation: the same columns on every row.
    apeldoorn = api.token("gemeente", src.RWB_FUND_HOLDER)
    r = await api.client.get("/v1/parties", headers={"Authorization": f"Bearer {apeldoorn}", "Accept": "text/csv"})
    assert r.status == 200
    assert (await r.text()).splitlines() == [
        "code,name,kind,fundHolder,cbsNumber,members,years,closedYears",
        "GM0200,Apeldoorn,gemeente,,,[],\"[2014,2015,2016]\",[]",
        f"{demo.RWB},Regionaal Werkbedrijf Stedendriehoek en Noord-Veluwe,organisation,GM0200,{demo.RWB_CBS_NUMBER},"
        + '"' + str(sorted(src.RWB_MEMBERS)).replace("'", '""').replace(" ", "") + '",\"[2014,2015]\",[]',
    ]
    # As the ledger knew it before anything was posted: nobody.
    assert await results(api, admin, "/v1/parties", asOf="2000-01-01T00:00:00Z") == []


async def test_the_dashboard_page_loads_nothing_from_elsewhere(api: Api) -> None:
    r = await api.client.get("/")
    assert r.status == 200 and r.content_type == "text/html"
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    page = await r.text()
    assert 'lang="nl"' in page and "http://" not in page and "https://" not in page
    for asset in ("dashboard.js", "dashboard.css"):
        r = await api.client.get(f"/dashboard/{asset}")
        assert r.status == 200 and "https://" not in await r.text()
    r = await api.client.get("/dashboard/..%2Fapp.py")
    assert r.status == 404 and r.content_type == "application/problem+json"
