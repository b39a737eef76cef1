"""The dashboard in a real browser: `ledger demo`, `ledger serve`, and Debian's Chromium
driven by Selenium through ChromeDriver (no browser download), as a controller uses it.

Every amount the page shows is checked against the API's cents (the page's own
`data-cents`) and against its Dutch euro text, written here independently of the
page's formatter; the published figures (Purmerend's 2018 deficit, the Drentsche Aa
split worked out by hand in test_organisations.py, Purmerend's reserve running dry in
2018 and its structural deficit of about € 212.000) are checked as published, and the
Werkbedrijf's (illustrative) commitment of 2015 as the demo posts it. The screenshots of
Purmerend 2018 and Drentsche Aa 2015 are the README's pictures; the charts (drawn by the
vendored uPlot) and the commitments are pictured on their own as well, beside them in docs/.
"""

from __future__ import annotations

import base64
import csv
import re
import shutil
import struct
import time
import tomllib
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

import orjson
import pytest
from openpyxl import load_workbook

from tests.conftest import Served, event, serve_demo
from tests.procs_ledger import ROOT, cli, token

SCREENSHOTS = ROOT / "docs"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = (  # as root on a machine without a network: no sandbox, and no calls home at start
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,1400",
)


def euro(cents: int) -> str:
    """€ 1.234.567,89 as the users write it (and € -22.616,00)."""
    whole, rest = divmod(abs(cents), 100)
    return f"€ {'-' if cents < 0 else ''}{whole:,}".replace(",", ".") + f",{rest:02d}"


def test_euro_is_written_the_dutch_way() -> None:
    assert euro(123_456_789) == "€ 1.234.567,89"
    assert euro(-2_261_600) == "€ -22.616,00"
    assert euro(5) == "€ 0,05"


@pytest.fixture
def browser(skip_for_want_of: Callable[[str, str], NoReturn], tmp_path: Path) -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        skip_for_want_of("Chromium", f"no Chromium at {CHROMIUM} or no ChromeDriver at {CHROMEDRIVER}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_experimental_option("prefs", {  # downloads, more than one from a page, without asking
        "download.default_directory": str(tmp_path), "profile.default_content_setting_values.automatic_downloads": 1})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.downloads = tmp_path
    try:
        yield driver
    finally:
        driver.quit()


def sign_in(driver: Any, demo_server: Served, secret: str | None = None) -> None:
    """Open the dashboard and sign in, as the admin unless another token is given."""
    from selenium.webdriver.common.by import By

    driver.get(demo_server.base + "/")
    driver.find_element(By.ID, "token").send_keys(secret or demo_server.admin)
    driver.find_element(By.CSS_SELECTOR, "#inlogformulier button").click()


def choose(driver: Any, party: str, year: int) -> None:
    """Pick the party, then the year, from the selects a user clicks; wait until shown."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(driver, 20)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-klaar"))
    Select(driver.find_element(By.ID, "partij")).select_by_value(party)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-klaar") or "").startswith(party)
    Select(driver.find_element(By.ID, "jaar")).select_by_value(str(year))
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-klaar") == f"{party}/{year}")


def amounts(driver: Any, css: str) -> list[tuple[int, str]]:
    """(cents, text) of every amount at or under `css`."""
    from selenium.webdriver.common.by import By

    cells = driver.find_elements(By.CSS_SELECTOR, f"{css}[data-cents], {css} [data-cents]")
    return [(int(c.get_attribute("data-cents")), c.text) for c in cells]


def amount(driver: Any, css: str) -> int:
    """The one amount at `css`, its text checked against its cents."""
    ((cents, text),) = amounts(driver, css)
    assert text.endswith(euro(cents)), (text, cents)
    return cents


def screenshot(driver: Any, name: str) -> None:
    """The whole page, beyond the window's height, as the README shows it."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
    })
    SCREENSHOTS.mkdir(exist_ok=True)
    (SCREENSHOTS / name).write_bytes(base64.b64decode(shot["data"]))


def picture(driver: Any, css: str, name: str) -> None:
    """The one element at `css` alone (a chart with its legend), as docs/ shows it."""
    box = driver.execute_script(
        "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
        "return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height};", css)
    pad = 8
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": max(0, box["x"] - pad), "y": max(0, box["y"] - pad),
                 "width": box["width"] + 2 * pad, "height": box["height"] + 2 * pad, "scale": 1},
    })
    SCREENSHOTS.mkdir(exist_ok=True)
    (SCREENSHOTS / name).write_bytes(base64.b64decode(shot["data"]))


def downloaded(driver: Any, name: str) -> Path:
    """The file the browser saved as `name`, once it is whole."""
    path = driver.downloads / name
    deadline = time.monotonic() + 20
    while not path.exists():
        assert time.monotonic() < deadline, list(driver.downloads.iterdir())
        time.sleep(0.1)
    return path


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG file, read from its header: it is a PNG or this fails."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", data[:16]
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def drawn(driver: Any, css: str) -> int:
    """How many pixels of the canvas under `css` uPlot painted (a blank chart has none)."""
    return int(driver.execute_script(
        "const c = document.querySelector(arguments[0] + ' canvas');"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n;", css))


def wait_for(driver: Any, css: str, attribute: str, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 20).until(lambda d: d.find_element(By.CSS_SELECTOR, css).get_attribute(attribute) == value)


def no_errors_and_nothing_from_elsewhere(driver: Any, base: str) -> None:
    resources = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources and all(r.startswith(base) for r in resources), resources
    assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []


def test_an_unknown_token_is_refused_with_a_dutch_message(demo_server: Served, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    sign_in(browser, demo_server, "plg_not-a-token")
    message = WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "inlogfout").text)
    assert "onbekend" in message
    assert not browser.find_element(By.ID, "dashboard").is_displayed()


def test_purmerend_2018_shows_the_published_deficit_and_the_reserve_running_out(
    demo_server: Served, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    sign_in(browser, demo_server)
    choose(browser, "GM0439", 2018)
    rows = demo_server.get("/v1/balances", party="GM0439", year=2018)["results"]
    shown = amounts(browser, "#budgetten tbody")
    expected = []
    for r in sorted(rows, key=lambda r: (r["budget"], r["subBudget"] or "")):
        plan = r["allocatedCents"] + r["incomeCents"]
        expected += [r["allocatedCents"], r["incomeCents"], plan, r["spentCents"], r["committedCents"],
                     r["availableCents"], r["saldoCents"]]
    assert [cents for cents, _ in shown] == expected
    assert all(text.endswith(euro(cents)) for cents, text in shown), shown
    # The labels say what they hold: begroting is the primitive begroting plus its
    # amendments, beschikbaar adds the income (the reserve's 189.198 among it).
    heads = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#budgetten thead th")]
    assert heads[:8] == ["Budget", "Begroting", "Inkomsten", "Beschikbaar", "Realisatie", "Verplicht", "Vrij", "Saldo"]
    (total,) = [r for r in rows if r["budget"] == "participatiebudget" and r["subBudget"] is None]
    line = '#budgetten tr[data-budget="participatiebudget"][data-sub=""]'
    assert amount(browser, f'{line} [data-veld="begroting"]') == total["primitiveCents"] + total["amendmentsCents"]
    assert amount(browser, f'{line} [data-veld="inkomsten"]') == total["incomeCents"] >= 18_919_800
    assert amount(browser, f'{line} [data-veld="beschikbaar"]') == total["allocatedCents"] + total["incomeCents"]
    toelichting = browser.find_element(By.CSS_SELECTOR, "#budgetten .toelichting").text
    assert "beschikbaar is de begroting plus de inkomsten (ook onttrekkingen aan reserves" in toelichting
    # "22.616–" in the source (seed 002 L1316-1360): spent more than came in, flagged.
    row = browser.find_element(By.CSS_SELECTOR, '#budgetten tr[data-budget="participatiebudget"][data-sub=""]')
    saldo = row.find_element(By.CSS_SELECTOR, '[data-veld="saldo"]')
    assert saldo.text == "tekort € -22.616,00"
    assert "overschreden" in row.get_attribute("class") and "overschreden" in row.text
    # The reserve at each year's end (shared/reference/purmerend.md): empty after 2018.
    published = {2014: 1_075_173_00, 2015: 784_519_00, 2016: 482_762_00, 2017: 189_198_00, 2018: 0}
    for year, cents in published.items():
        (reserve,) = demo_server.get("/v1/reserves", party="GM0439", year=year)["results"]
        css = f'#reserves figure[data-reserve="participatie"] tr[data-jaar="{year}"] [data-veld="eind"]'
        assert amount(browser, css) == reserve["balanceCents"] == cents
    no_errors_and_nothing_from_elsewhere(browser, demo_server.base)
    screenshot(browser, "dashboard-purmerend.png")


def test_drentsche_aa_split_under_solidariteit_and_profijt_side_by_side(
    demo_server: Served, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    sign_in(browser, demo_server)
    choose(browser, "DRENTSCHE-AA", 2015)
    block = '#kostenverdeling [data-organisatie="DRENTSCHE-AA"]'
    # Worked out by hand in test_organisations.py: by inhabitants, and each unit by usage.
    by_hand = {
        "solidariteit": {"GM1680": 26_165_473, "GM0106": 69_602_228, "GM1730": 34_232_299},
        "profijt": {"GM1680": 19_233_871, "GM0106": 86_048_387, "GM1730": 24_717_742},
    }
    for policy, shares in by_hand.items():
        split = demo_server.get("/v1/organisations/DRENTSCHE-AA/cost-split", year=2015, policy=policy)
        assert {s["party"]: s["amountCents"] for s in split["shares"]} == shares
        for party, cents in shares.items():
            assert amount(browser, f'{block} tr[data-partij="{party}"] [data-veld="{policy}"]') == cents
        assert amount(browser, f'{block} tfoot [data-veld="{policy}"]') == 130_000_000 == split["totalCents"]
    assert amount(browser, f'{block} tr[data-partij="GM0106"] [data-veld="verschil"]') == 86_048_387 - 69_602_228
    # Voorschotten en afrekening (issue 17): what each member was invoiced and paid, and
    # what settles its share under each policy: the share less what it paid.
    settlement = f"{block} .afrekening"
    for policy in ("solidariteit", "profijt"):
        split = demo_server.get("/v1/organisations/DRENTSCHE-AA/cost-split", year=2015, policy=policy)
        for share in split["shares"]:
            row = f'{settlement} tr[data-partij="{share["party"]}"]'
            assert amount(browser, f'{row} [data-veld="gefactureerd"]') == share["invoicedCents"]
            assert amount(browser, f'{row} [data-veld="betaald"]') == share["paidCents"]
            shown = amount(browser, f'{row} [data-veld="afrekening-{policy}"]')
            assert shown == share["settlementCents"] == share["amountCents"] - share["paidCents"]
            word = browser.find_element(By.CSS_SELECTOR, f'{row} [data-veld="afrekening-{policy}"]').text
            assert word.startswith("bijbetalen" if shown > 0 else "terug" if shown < 0 else "€"), word  # not by colour alone
        total = sum(s["settlementCents"] for s in split["shares"])
        assert amount(browser, f'{settlement} tfoot [data-veld="afrekening-{policy}"]') == total
    keyed = demo_server.get("/v1/organisations/DRENTSCHE-AA/cost-split", year=2015)["policy"]
    assert f"afrekening {keyed} (sleutel)" in browser.find_element(By.CSS_SELECTOR, f"{settlement} thead").text.lower()
    # The business case's flows (seed 004 L1077-1087): 58 afspraakbanen, 20 beschut
    # werk places against a cap of 20, 145 + 77 out of benefits avoiding € 2.242.200.
    kpis = demo_server.get("/v1/kpis", party="DRENTSCHE-AA", year=2015)
    tile = lambda field: browser.find_element(By.CSS_SELECTOR, f'#kengetallen [data-veld="{field}"] .waarde').text  # noqa: E731
    assert tile("banenafspraak") == "58" and kpis["banenafspraakJobs"] == 58
    assert tile("beschut") == "20 / 20" and kpis["beschutWerk"] == {"places": 20, "cap": 20, "target": 20}
    assert tile("uitstroom") == "222 / 0"
    assert tile("vermeden") == euro(kpis["outflow"]["avoidedBenefitCents"]) == "€ 2.242.200,00"
    no_errors_and_nothing_from_elsewhere(browser, demo_server.base)
    screenshot(browser, "dashboard-drentsche-aa.png")


def test_lelystad_winst_and_the_nuon_reserve(demo_server: Served, browser: Any) -> None:
    sign_in(browser, demo_server)
    choose(browser, "GM0995", 2016)
    winst = demo_server.get("/v1/winst", party="GM0995", year=2016)
    assert amount(browser, '#winst [data-veld="gerealiseerd"]') == winst["realisedCents"] == 25_000_000
    assert amount(browser, '#winst [data-veld="geherinvesteerd"]') == winst["reinvestedCents"] == 21_000_000
    assert amount(browser, '#winst [data-veld="vrij"]') == winst["unappropriatedCents"] == 4_000_000
    assert amount(browser, '#winst tr[data-code="dagbesteding"]') == 15_000_000
    # The NUON reserve lends € 1 mln a year in 2016-2018 (seed 000 L1460-1463).
    for year, left in {2015: 300_000_000, 2016: 200_000_000, 2017: 100_000_000, 2018: 0}.items():
        assert amount(browser, f'#reserves figure[data-reserve="nuon"] tr[data-jaar="{year}"] [data-veld="eind"]') == left
    same_years_in_chart_and_table(browser, "GM0995", demo_server)


def same_years_in_chart_and_table(driver: Any, party: str, served: Served) -> None:
    """Every reserve's chart draws the years its table lists, no more (issue 20: Lelystad
    showed a 2014 bar the table lacked), and those are the runway's years."""
    from selenium.webdriver.common.by import By

    reserves = served.get("/v1/reserves", party=party)["results"]
    assert reserves
    for reserve in reserves:
        runway = served.get(f"/v1/reserves/{party}/{reserve['reserve']}/runway")
        figure = f'#reserves figure[data-reserve="{reserve["reserve"]}"]'
        wait_for(driver, f"{figure} .grafiek", "data-jaren", ",".join(str(y["year"]) for y in runway["years"]))
        table = [tr.get_attribute("data-jaar") for tr in driver.find_elements(By.CSS_SELECTOR, f"{figure} > table tbody tr")]
        plot = driver.find_element(By.CSS_SELECTOR, f"{figure} .grafiek")
        assert plot.get_attribute("data-jaren").split(",") == table == [str(y["year"]) for y in runway["years"]]
        assert plot.get_attribute("data-as").split(",") == table  # the axis labels no year the table lacks


def test_a_gemeente_sees_itself_and_its_share_in_its_organisation(demo_server: Served, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    sign_in(browser, demo_server, token(demo_server.db, "gemeente", "GM0106"))
    choose(browser, "GM0106", 2015)
    options = [o.get_attribute("value") for o in Select(browser.find_element(By.ID, "partij")).options]
    assert options == ["GM0106", "DRENTSCHE-AA"]  # its own party, then the organisation it is a member of
    own = browser.find_element(By.CSS_SELECTOR, '#kostenverdeling tr[data-partij="GM0106"]')
    assert "eigen" in own.get_attribute("class")
    assert amount(browser, '#kostenverdeling tr[data-partij="GM0106"] [data-veld="profijt"]') == 86_048_387


def test_download_excel_gives_the_balances_as_euro_numbers(demo_server: Served, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    sign_in(browser, demo_server)
    choose(browser, "GM0439", 2018)
    browser.find_element(By.CSS_SELECTOR, '#budgetten button.download').click()
    sheet = load_workbook(downloaded(browser, "balances-GM0439-2018.xlsx")).active
    header, *rows = list(sheet.values)
    saldo = header.index("saldo (EUR)")
    assert [Decimal(str(row[saldo])) for row in rows] == [Decimal("-22616.00")]  # a number, not text


def test_the_werkbedrijf_begroting_and_no_key_to_split_by(demo_server: Served, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    sign_in(browser, demo_server)
    choose(browser, "RWB-STEDENDRIEHOEK", 2015)
    # Seed 003 Bijlage 5: nine lines, € 500.000 in all; and no verdeelsleutel (digest 003).
    lines = browser.find_elements(By.CSS_SELECTOR, '#budgetten tr[data-budget="werkbedrijf"]:not([data-sub=""])')
    assert len(lines) == 9
    assert amount(browser, '#budgetten tr[data-budget="werkbedrijf"][data-sub=""] [data-veld="beschikbaar"]') == 50_000_000
    block = browser.find_element(By.CSS_SELECTOR, '#kostenverdeling [data-organisatie="RWB-STEDENDRIEHOEK"]')
    assert "geen verdeelsleutel" in block.text and not block.find_elements(By.TAG_NAME, "table")


def test_the_meerjarenraming_of_purmerend_as_a_chart_and_a_table_both_downloadable(
    demo_server: Served, browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    sign_in(browser, demo_server)
    choose(browser, "GM0439", 2018)
    section = "#meerjarenraming"
    wait_for(browser, section, "data-klaar", "GM0439/participatiebudget/2014-2018")
    # One read of the years (issue 17: fromYear..toYear), the budget's total rows.
    rows = demo_server.get("/v1/balances", party="GM0439", fromYear=2014, toYear=2018)["results"]
    totals = sorted((r for r in rows if r["budget"] == "participatiebudget" and r["subBudget"] is None), key=lambda r: r["year"])
    assert [r["year"] for r in totals] == [2014, 2015, 2016, 2017, 2018]
    shown = [int(tr.get_attribute("data-jaar")) for tr in browser.find_elements(By.CSS_SELECTOR, f"{section} figure > table tbody tr")]
    assert shown == [2014, 2015, 2016, 2017, 2018]  # a row per year
    fields = {"primitief": "primitiveCents", "wijzigingen": "amendmentsCents", "begroting": "allocatedCents",
              "inkomsten": "incomeCents", "realisatie": "spentCents", "saldo": "saldoCents",
              "structureel": "structuralSaldoCents"}
    for r in totals:
        row = f'{section} tr[data-jaar="{r["year"]}"]'
        for field, key in fields.items():
            assert amount(browser, f'{row} [data-veld="{field}"]') == r[key], (r["year"], field)
        assert r["allocatedCents"] == r["primitiveCents"] + r["amendmentsCents"]
        assert browser.find_element(By.CSS_SELECTOR, f'{row} [data-veld="status"]').text == r["status"]
    # 2018: the published deficit of 22.616, and without the reserve's 189.198 the
    # structural deficit of "ca. € 212.000" (seed 002 L1280), both flagged in words.
    last = f'{section} tr[data-jaar="2018"]'
    assert browser.find_element(By.CSS_SELECTOR, f'{last} [data-veld="saldo"]').text == "tekort € -22.616,00"
    assert browser.find_element(By.CSS_SELECTOR, f'{last} [data-veld="structureel"]').text == "tekort € -211.814,00"
    # The chart: drawn on its canvas, with a legend naming what it draws.
    assert drawn(browser, section) > 10_000
    legend = browser.find_element(By.CSS_SELECTOR, f"{section} .u-legend").text
    for name in ("Begroting", "Realisatie", "Saldo", "Structureel saldo"):
        assert name in legend, legend
    assert "tabel" in browser.find_element(By.CSS_SELECTOR, f"{section} .grafiek").get_attribute("aria-label")
    no_errors_and_nothing_from_elsewhere(browser, demo_server.base)
    picture(browser, f"{section} figure", "dashboard-meerjarenraming.png")

    # Fewer years: the table and the downloads follow.
    Select(browser.find_element(By.ID, "mjr-van")).select_by_value("2016")
    wait_for(browser, section, "data-klaar", "GM0439/participatiebudget/2016-2018")
    assert len(browser.find_elements(By.CSS_SELECTOR, f"{section} figure > table tbody tr")) == 3
    browser.find_element(By.CSS_SELECTOR, f"{section} button.csv").click()
    with downloaded(browser, "meerjarenraming-GM0439-participatiebudget-2016-2018.csv").open(newline="") as f:
        table = list(csv.DictReader(f))
    assert {row["budget"] for row in table} == {"participatiebudget"}
    assert {int(row["year"]) for row in table} == {2016, 2017, 2018}
    csv_totals = {int(row["year"]): row for row in table if not row["subBudget"]}
    for r in totals[2:]:
        assert int(csv_totals[r["year"]]["structuralSaldoCents"]) == r["structuralSaldoCents"]
        assert int(csv_totals[r["year"]]["saldoCents"]) == r["saldoCents"]
    browser.find_element(By.CSS_SELECTOR, f"{section} button.csv-nl").click()  # the Dutch CSV: ; and euros with a comma
    dutch = downloaded(browser, "meerjarenraming-GM0439-participatiebudget-2016-2018-nl.csv").read_bytes()
    assert dutch.startswith(b"\xef\xbb\xbf")
    rows_nl = list(csv.DictReader(dutch.decode("utf-8-sig").splitlines(), delimiter=";"))
    assert {row["structuralSaldo (EUR)"] for row in rows_nl if row["year"] == "2018" and not row["subBudget"]} == {"-211814,00"}
    browser.find_element(By.CSS_SELECTOR, f"{section} button.excel").click()
    header, *lines = list(load_workbook(downloaded(browser, "meerjarenraming-GM0439-participatiebudget-2016-2018.xlsx")).active.values)
    assert len(lines) == len(table) and "structuralSaldo (EUR)" in header, header
    browser.find_element(By.CSS_SELECTOR, f"{section} .kop button.afbeelding").click()
    width, height = png_size(downloaded(browser, "meerjarenraming-GM0439-participatiebudget-2016-2018.png"))
    assert width > 600 and height > 300


def test_purmerend_reserve_runway_runs_dry_in_2018(demo_server: Served, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    sign_in(browser, demo_server)
    choose(browser, "GM0439", 2018)
    runway = demo_server.get("/v1/reserves/GM0439/participatie/runway")
    # seed 002 L1316-1360: opening 1.623.614 in 2014, then the closing of each year.
    published = {2014: 1_075_173_00, 2015: 784_519_00, 2016: 482_762_00, 2017: 189_198_00, 2018: 0}
    assert {y["year"]: y["closingCents"] for y in runway["years"]} == published
    assert runway["years"][0]["openingCents"] == 1_623_614_00 and runway["emptyAt"] == 2018
    figure = '#reserves figure[data-reserve="participatie"]'
    assert browser.find_element(By.CSS_SELECTOR, figure).get_attribute("data-leeg-in") == "2018"
    assert "leeg in 2018" in browser.find_element(By.CSS_SELECTOR, f"{figure} figcaption").text
    shown = [int(tr.get_attribute("data-jaar")) for tr in browser.find_elements(By.CSS_SELECTOR, f"{figure} > table tbody tr")]
    assert shown == [y["year"] for y in runway["years"]]
    fields = {"begin": "openingCents", "toevoeging": "addedCents", "onttrekking": "withdrawnCents", "eind": "closingCents"}
    for y in runway["years"]:
        row = f'{figure} tr[data-jaar="{y["year"]}"]'
        for field, key in fields.items():
            assert amount(browser, f'{row} [data-veld="{field}"]') == y[key], (y["year"], field)
        assert y["openingCents"] + y["addedCents"] - y["withdrawnCents"] == y["closingCents"]
    # The year it runs dry says so in words, not by colour alone.
    assert browser.find_element(By.CSS_SELECTOR, f'{figure} tr[data-jaar="2018"] th').text == "2018 leeg"
    assert drawn(browser, figure) > 5_000
    assert "leeg in 2018" in browser.find_element(By.CSS_SELECTOR, f"{figure} .grafiek").get_attribute("aria-label")
    same_years_in_chart_and_table(browser, "GM0439", demo_server)
    no_errors_and_nothing_from_elsewhere(browser, demo_server.base)
    picture(browser, figure, "dashboard-reserve-looptijd.png")
    browser.find_element(By.CSS_SELECTOR, f"{figure} button.afbeelding").click()
    width, height = png_size(downloaded(browser, "reserve-GM0439-participatie.png"))
    assert width > 300 and height > 300


def test_the_readme_shows_every_picture_this_test_takes() -> None:
    readme = (ROOT / "README.md").read_text()
    linked = set(re.findall(r"\]\((docs/[^)\s]+\.png)\)", readme))
    taken = {f"docs/dashboard-{name}.png" for name in (
        "purmerend", "drentsche-aa", "meerjarenraming", "reserve-looptijd", "verplichtingen", "boekingen",
        "peildatum")}
    assert taken <= linked, taken - linked
    assert all((ROOT / path).is_file() for path in linked), linked


def test_the_chart_library_is_served_by_the_ledger_under_the_pages_policy(demo_server: Served) -> None:
    """uPlot is vendored (api/dashboard/vendor/README.md) and comes from the ledger itself,
    under the page's Content-Security-Policy, which allows nothing from elsewhere and no
    inline script or style; the vendored copy is the one its note names."""
    import hashlib
    import urllib.request

    vendor = ROOT / "api" / "dashboard" / "vendor"
    note = (vendor / "README.md").read_text()
    for name, kind in (("uPlot.iife.min.js", "javascript"), ("uPlot.min.css", "text/css")):
        with urllib.request.urlopen(f"{demo_server.base}/dashboard/vendor/{name}") as r:
            body, headers = r.read(), r.headers
        assert body == (vendor / name).read_bytes()
        assert f"{hashlib.sha256(body).hexdigest()}  {name}" in note
        assert kind in headers["Content-Type"]
        policy = headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert (vendor / "uPlot.LICENSE").read_text().startswith("The MIT License")
    assert b"(v1.6.32)" in (vendor / "uPlot.iife.min.js").read_bytes()[:80] and "uplot@1.6.32" in note
    # An installed ledger (the Docker image) carries the folder too, not only a checkout.
    with (ROOT / "pyproject.toml").open("rb") as f:
        assert "dashboard/vendor/*" in tomllib.load(f)["tool"]["setuptools"]["package-data"]["api"]


def test_the_werkbedrijf_commitment_of_2015_as_a_table_both_downloadable(demo_server: Served, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    sign_in(browser, demo_server)
    choose(browser, "RWB-STEDENDRIEHOEK", 2015)
    section = "#verplichtingen"
    (listed,) = demo_server.get("/v1/commitments", party="RWB-STEDENDRIEHOEK", year=2015)["results"]
    # The demo's (illustrative) order on the monitoring line: € 30.000 registered, an
    # invoice of € 18.000 against it, € 2.000 released, € 10.000 open.
    row = f'{section} tr[data-verplichting="RWB-2015-monitoring"]'
    figures = {"geregistreerd": ("registeredCents", 3_000_000), "gebruikt": ("usedCents", 1_800_000),
               "vrijgevallen": ("releasedCents", 200_000), "open": ("openCents", 1_000_000)}
    for field, (key, cents) in figures.items():
        assert amount(browser, f'{row} [data-veld="{field}"]') == listed[key] == cents, field
        assert amount(browser, f'{section} tfoot [data-veld="{field}"]') == cents, field
    def text(css: str) -> str:
        return str(browser.find_element(By.CSS_SELECTOR, css).text)

    assert text(f'{row} [data-veld="budget"]') == "Werkbedrijf · Monitoring banen"
    assert listed["budget"] == "werkbedrijf" and listed["subBudget"] == "monitoring-banen"
    assert text(f'{row} [data-veld="stand"]') == "open"
    assert len(browser.find_elements(By.CSS_SELECTOR, f"{section} tbody tr")) == 1
    assert not browser.find_element(By.CSS_SELECTOR, f"{section} > .leeg").is_displayed()
    # What is open counts in the line's Verplicht, in the budget table above.
    (line,) = [r for r in demo_server.get("/v1/balances", party="RWB-STEDENDRIEHOEK", year=2015)["results"]
               if r["budget"] == "werkbedrijf" and r["subBudget"] == "monitoring-banen"]
    shown = amount(browser, '#budgetten tr[data-budget="werkbedrijf"][data-sub="monitoring-banen"] [data-veld="verplicht"]')
    assert shown == line["committedCents"] >= 1_000_000
    # Not closed: the Iv3 report's status (the year's, not the begroting's) says so in words.
    assert 2015 not in demo_server.get("/v1/parties", party="RWB-STEDENDRIEHOEK")["results"][0]["closedYears"]
    assert browser.find_element(By.ID, "jaarstatus").get_attribute("data-status") == "open"
    assert "nog niet afgesloten" in text("#jaarstatus") and text("#jaarstatus").startswith("open")
    no_errors_and_nothing_from_elsewhere(browser, demo_server.base)
    picture(browser, section, "dashboard-verplichtingen.png")

    browser.find_element(By.CSS_SELECTOR, f'{section} button[data-formaat="csv"]').click()
    with downloaded(browser, "commitments-RWB-STEDENDRIEHOEK-2015.csv").open(newline="") as f:
        (line_csv,) = list(csv.DictReader(f))
    assert line_csv["commitmentId"] == "RWB-2015-monitoring" and line_csv["subBudget"] == "monitoring-banen"
    assert {k: int(line_csv[k]) for k, _ in figures.values()} == {k: c for k, c in figures.values()}
    browser.find_element(By.CSS_SELECTOR, f'{section} button[data-formaat="csv-nl"]').click()
    dutch = downloaded(browser, "commitments-RWB-STEDENDRIEHOEK-2015-nl.csv").read_bytes().decode("utf-8-sig")
    (line_nl,) = list(csv.DictReader(dutch.splitlines(), delimiter=";"))
    assert (line_nl["registered (EUR)"], line_nl["open (EUR)"]) == ("30000,00", "10000,00")
    browser.find_element(By.CSS_SELECTOR, f"{section} button.download:not([data-formaat])").click()
    header, *lines = list(load_workbook(downloaded(browser, "commitments-RWB-STEDENDRIEHOEK-2015.xlsx")).active.values)
    (line_xlsx,) = [dict(zip(header, values, strict=True)) for values in lines]
    assert Decimal(str(line_xlsx["open (EUR)"])) == Decimal("10000.00")  # a number in euros, not text
    assert Decimal(str(line_xlsx["registered (EUR)"])) == Decimal("30000.00")


def test_a_party_without_commitments_says_so_in_words(demo_server: Served, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    sign_in(browser, demo_server)
    choose(browser, "GM0439", 2018)
    assert demo_server.get("/v1/commitments", party="GM0439", year=2018)["results"] == []
    empty = browser.find_element(By.CSS_SELECTOR, "#verplichtingen > .leeg")
    assert empty.is_displayed() and "geen verplichtingen" in empty.text and "2018" in empty.text
    assert not browser.find_elements(By.CSS_SELECTOR, "#verplichtingen table")
    assert all(not b.is_enabled() for b in browser.find_elements(By.CSS_SELECTOR, "#verplichtingen .kop button"))


def post(served: Served, *events: dict[str, Any]) -> None:
    """Post `events` as one batch as the served demo's admin; it must be stored."""
    request = urllib.request.Request(
        f"{served.base}/v1/events", data=orjson.dumps({"events": list(events)}), method="POST",
        headers={"Authorization": f"Bearer {served.admin}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as r:
        assert r.status in (200, 201)


def test_a_closed_year_says_so_and_a_reopened_one_is_open_again(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> None:
    """Its own demo, as closing a year changes it: the Werkbedrijf's 2015 closed, then reopened."""
    from selenium.webdriver.common.by import By

    with serve_demo(tmp_path_factory.mktemp("closed")) as (served, _):
        post(served, event("YearClosed", {}, party="RWB-STEDENDRIEHOEK", date="2015-12-31"))
        assert 2015 in served.get("/v1/parties", party="RWB-STEDENDRIEHOEK")["results"][0]["closedYears"]
        sign_in(browser, served)
        choose(browser, "RWB-STEDENDRIEHOEK", 2015)
        status = browser.find_element(By.ID, "jaarstatus")
        assert status.get_attribute("data-status") == "afgesloten"
        assert status.text.startswith("afgesloten") and "is afgesloten (definitief)" in status.text
        choose(browser, "RWB-STEDENDRIEHOEK", 2014)  # another year of the same party: still open
        assert status.get_attribute("data-status") == "open"

        post(served, event("YearReopened", {}, party="RWB-STEDENDRIEHOEK", date="2016-03-01", year=2015,
                           reference="Illustratief: jaarrekening 2015 heropend op verzoek van de accountant"))
        assert 2015 not in served.get("/v1/parties", party="RWB-STEDENDRIEHOEK")["results"][0]["closedYears"]
        choose(browser, "RWB-STEDENDRIEHOEK", 2015)
        assert status.get_attribute("data-status") == "open" and "nog niet afgesloten" in status.text


def test_an_upload_is_checked_first_listing_every_refused_row_then_posted(
    tmp_path_factory: pytest.TempPathFactory, browser: Any
) -> None:
    """Its own demo, as the upload posts: a CSV as Excel-NL saves it (;, Windows-1252,
    euros with a comma), first with two bad rows, then right."""
    from selenium.webdriver.common.by import By

    folder = tmp_path_factory.mktemp("upload")
    header = "id;type;party;effectiveDate;reference;budget;category;amount"

    def sheet(name: str, *amounts: str) -> str:
        lines = [header] + [f"{uuid.uuid4()};CostBooked;GM0439;2018-11-30;factuur € {n};participatiebudget;begeleiding;{a}"
                            for n, a in enumerate(amounts, start=1)]
        path = folder / name
        path.write_bytes("\r\n".join(lines).encode("windows-1252") + b"\r\n")
        return str(path)

    with serve_demo(folder) as (served, _):
        before = served.get("/v1/events", limit=1)["count"]
        sign_in(browser, served)
        choose(browser, "GM0439", 2018)
        browser.find_element(By.ID, "uploadbestand").send_keys(sheet("fout.csv", "1.250,00", "twaalf", "3,001"))
        wait_for(browser, "body", "data-upload", "gecontroleerd")
        refused = [(r.get_attribute("data-regel"), r.find_elements(By.TAG_NAME, "td")[1].text)
                   for r in browser.find_elements(By.CSS_SELECTOR, "#weigeringen tbody tr")]
        assert refused == [("3", "amount"), ("4", "amount")]
        assert "Geweigerd, er is niets geboekt" in browser.find_element(By.ID, "uploaduitkomst").text
        assert browser.find_element(By.ID, "boeken").get_attribute("disabled")

        choose_file = browser.find_element(By.ID, "uploadbestand")
        browser.execute_script("arguments[0].value = ''; document.body.dataset.upload = '';", choose_file)
        choose_file.send_keys(sheet("goed.csv", "1.250,00", "12,00"))
        wait_for(browser, "body", "data-upload", "gecontroleerd")
        assert "Alle 2 regels kloppen" in browser.find_element(By.ID, "uploaduitkomst").text
        assert not browser.find_element(By.CSS_SELECTOR, "#weigeringen").is_displayed()
        assert served.get("/v1/events", limit=1)["count"] == before  # the dry run stored nothing
        browser.find_element(By.ID, "boeken").click()  # the upload marks itself undone at once, done when answered
        wait_for(browser, "body", "data-upload", "geboekt")
        assert "Geboekt: 2 gebeurtenissen" in browser.find_element(By.ID, "uploaduitkomst").text
        assert served.get("/v1/events", limit=1)["count"] == before + 2


def test_reserves_cost_split_and_kpis_download_as_the_dutch_csv(demo_server: Served, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    sign_in(browser, demo_server)
    choose(browser, "GM0439", 2018)
    browser.find_element(By.CSS_SELECTOR, '#reserves button[data-formaat="csv-nl"]').click()
    reserves = downloaded(browser, "reserves-GM0439-2018-nl.csv").read_bytes()
    assert reserves.startswith(b"\xef\xbb\xbf") and b"balance (EUR)" in reserves.split(b"\r\n")[0]
    browser.find_element(By.CSS_SELECTOR, '#kengetallen button[data-formaat="csv-nl"]').click()
    assert downloaded(browser, "kpis-GM0439-2018-nl.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    choose(browser, "DRENTSCHE-AA", 2015)
    browser.find_element(By.CSS_SELECTOR, "#kostenverdeling button.csv-nl").click()
    rows = list(csv.DictReader(downloaded(browser, "kostenverdeling-DRENTSCHE-AA-2015-nl.csv").read_bytes()
                               .decode("utf-8-sig").splitlines(), delimiter=";"))
    assert rows and all("," in row["amount (EUR)"] for row in rows), rows[:1]


def test_a_client_is_found_by_its_client_ref_until_it_is_erased(
    tmp_path_factory: pytest.TempPathFactory, browser: Any
) -> None:
    """An AVG access request: the client's events with who posted each, under its
    pseudonym, never its clientRef; after `ledger erase-client` the client is not found."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def find(client_ref: str) -> int:
        browser.execute_script("document.body.dataset.client = '';")
        field = browser.find_element(By.ID, "clientref")
        field.clear()
        field.send_keys(client_ref)
        browser.find_element(By.CSS_SELECTOR, "#clientformulier button").click()
        WebDriverWait(browser, 20).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-client"))
        return int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-client"))

    with serve_demo(tmp_path_factory.mktemp("client")) as (served, _):
        sign_in(browser, served)
        choose(browser, "DRENTSCHE-AA", 2015)
        assert find("DA-beschut-werk-001") == 1
        cells = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#clientboekingen tbody td")]
        assert cells[2] == "PlacementStarted" and re.fullmatch(r"ps_[a-p]{32}", cells[3]) and cells[4].startswith("admin:")
        assert "DA-beschut-werk-001" not in browser.find_element(By.ID, "clientboekingen").text
        cli(served.db, "erase-client", "DRENTSCHE-AA", "DA-beschut-werk-001", "--reference", "AVG-verzoek 2026-120")
        assert find("DA-beschut-werk-001") == 0
        assert "gewist" in browser.find_element(By.ID, "clientuitkomst").text
        assert not browser.find_element(By.ID, "clientboekingen").is_displayed()
        assert find("DA-beschut-werk-002") == 1  # another client keeps its link
        no_errors_and_nothing_from_elsewhere(browser, served.base)


def read_as(served: Served, secret: str, path: str, **params: Any) -> Any:
    """GET `path` with another token than the admin's; its JSON."""
    import urllib.parse

    url = f"{served.base}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": f"Bearer {secret}"})) as r:
        return orjson.loads(r.read())


def test_a_controller_lands_on_its_own_party_and_latest_year_with_members_by_name(
    demo_server: Served, browser: Any
) -> None:
    """Issue 20: a controller of Aa en Hunze, a member of Drentsche Aa, lands on Aa en Hunze
    in its latest year with figures (not the organisation, nor its later year), and every
    party is "Naam (CODE)" where its name is readable, the code alone where it is not."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    secret = token(demo_server.db, "controller", "GM1680")
    readable = {p["code"]: p for p in read_as(demo_server, secret, "/v1/parties")["results"]}
    assert set(readable) == {"GM1680", "DRENTSCHE-AA"}  # the members Assen and Tynaarlo are not readable
    sign_in(browser, demo_server, secret)
    latest = max(readable["GM1680"]["years"])
    wait_for(browser, "body", "data-klaar", f"GM1680/{latest}")
    assert browser.current_url.endswith(f"#GM1680/{latest}")
    party = Select(browser.find_element(By.ID, "partij"))
    assert [(o.get_attribute("value"), o.text) for o in party.options] == [
        ("GM1680", "Aa en Hunze (GM1680)"), ("DRENTSCHE-AA", "Drentsche Aa (DRENTSCHE-AA)")]
    # Each year with its status; the organisation's later year is offered, marked as not its own.
    years = [o.text for o in Select(browser.find_element(By.ID, "jaar")).options]
    assert years == ["2014 · open", "2015 · open (geen eigen cijfers)"]
    assert "Aa en Hunze" in browser.find_element(By.ID, "jaarstatus").text

    choose(browser, "DRENTSCHE-AA", 2015)
    block = '#kostenverdeling [data-organisatie="DRENTSCHE-AA"]'
    assert browser.find_element(By.CSS_SELECTOR, f"{block} h3").text == "Drentsche Aa (DRENTSCHE-AA)"
    names = {tr.get_attribute("data-partij"): tr.find_element(By.TAG_NAME, "th").text
             for tr in browser.find_elements(By.CSS_SELECTOR, f"{block} table:first-of-type tbody tr")}
    assert names == {"GM1680": "Aa en Hunze (GM1680)", "GM0106": "GM0106", "GM1730": "GM1730"}
    page = browser.find_element(By.TAG_NAME, "body").text
    assert not re.search(r"\b(GM\d{4}) \(\1\)", page), re.findall(r"\b(GM\d{4}) \(\1\)", page)
    no_errors_and_nothing_from_elsewhere(browser, demo_server.base)


def test_each_budget_line_opens_its_trail_paged_with_who_posted_it_when(demo_server: Served, browser: Any) -> None:
    """Issue 20: a line's Boekingen button (reached by the keyboard) opens the events behind
    it below the line, page by page: date, type, reference, poster, recorded time and the
    amounts each moved, which add up to the line's figures."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    sign_in(browser, demo_server)
    choose(browser, "GM0439", 2018)
    line = '#budgetten tr[data-budget="participatiebudget"][data-sub=""]'
    opener = browser.find_element(By.CSS_SELECTOR, f"{line} button.spoor")
    assert opener.get_attribute("aria-expanded") == "false"
    opener.send_keys(Keys.ENTER)  # a button: the keyboard opens it as a click does
    box = '#budgetten tr.spoor-rij[data-spoor="participatiebudget/"] .spoor'
    trail = demo_server.get("/v1/balances/GM0439/2018/participatiebudget/trail", pageSize=1000)["results"]
    assert len(trail) > 10  # more than a page
    wait_for(browser, box, "data-klaar", "1/2")
    assert opener.get_attribute("aria-expanded") == "true"
    assert browser.find_element(By.CSS_SELECTOR, box).get_attribute("data-aantal") == str(len(trail))
    fields = {"begroting": "allocatedCents", "inkomsten": "incomeCents", "realisatie": "spentCents", "verplicht": "committedCents"}
    shown: list[dict[str, Any]] = []

    def page_rows() -> list[dict[str, Any]]:
        rows = []
        for tr in browser.find_elements(By.CSS_SELECTOR, f"{box} tbody tr"):
            cell = lambda field: tr.find_element(By.CSS_SELECTOR, f'[data-veld="{field}"]')  # noqa: E731
            rows.append({"position": int(tr.get_attribute("data-positie")), "id": tr.get_attribute("data-id"),
                         "effectiveDate": cell("datum").text, "type": cell("type").text,
                         "reference": cell("referentie").text, "postedBy": cell("geboekt-door").text,
                         "recordedAt": cell("vastgelegd").find_element(By.TAG_NAME, "time").get_attribute("datetime"),
                         **{key: int(cell(field).get_attribute("data-cents")) for field, key in fields.items()}})
            assert re.fullmatch(r"\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2}", cell("vastgelegd").text)
        return rows

    shown += page_rows()
    assert len(shown) == 10
    assert "1–10 van 14" in browser.find_element(By.CSS_SELECTOR, f"{box} caption").text.replace(str(len(trail)), "14")
    browser.find_element(By.CSS_SELECTOR, f"{box} button.volgende").click()
    wait_for(browser, box, "data-klaar", "2/2")
    shown += page_rows()
    keys = ["position", "id", "effectiveDate", "type", "postedBy", "recordedAt", *fields.values()]
    assert [{k: e[k] for k in keys} | {"reference": e["reference"] or ""} for e in trail] == [
        {k: e[k] for k in keys} | {"reference": e["reference"]} for e in shown]
    assert all(e["postedBy"].startswith("admin:") for e in shown)
    (total,) = [r for r in demo_server.get("/v1/balances", party="GM0439", year=2018)["results"]
                if r["budget"] == "participatiebudget" and r["subBudget"] is None]
    for key in fields.values():  # the events add up to the line
        assert sum(e[key] for e in shown) == total[key], key
    screenshot(browser, "dashboard-boekingen.png")
    opener.click()  # and closes again
    assert not browser.find_elements(By.CSS_SELECTOR, box) and opener.get_attribute("aria-expanded") == "false"

    # A sub-budget's line: its own events only, adding up to that line.
    choose(browser, "RWB-STEDENDRIEHOEK", 2015)
    sub = '#budgetten tr[data-budget="werkbedrijf"][data-sub="monitoring-banen"]'
    browser.find_element(By.CSS_SELECTOR, f"{sub} button.spoor").click()
    box = '#budgetten tr.spoor-rij[data-spoor="werkbedrijf/monitoring-banen"] .spoor'
    wait_for(browser, box, "data-klaar", "1/1")
    (line_row,) = [r for r in demo_server.get("/v1/balances", party="RWB-STEDENDRIEHOEK", year=2015)["results"]
                   if r["budget"] == "werkbedrijf" and r["subBudget"] == "monitoring-banen"]
    rows = page_rows()
    expected = [e for e in demo_server.get("/v1/balances/RWB-STEDENDRIEHOEK/2015/werkbedrijf/trail", pageSize=1000)["results"]
                if e["subBudget"] == "monitoring-banen"]
    assert [r["position"] for r in rows] == [e["position"] for e in expected] and rows
    assert {r.text for r in browser.find_elements(By.CSS_SELECTOR, f'{box} [data-veld="regel"]')} == {"Monitoring banen"}
    for key in fields.values():
        assert sum(r[key] for r in rows) == line_row[key], key
    no_errors_and_nothing_from_elsewhere(browser, demo_server.base)


def test_the_peildatum_reads_every_figure_and_the_year_status_as_of_then(
    tmp_path_factory: pytest.TempPathFactory, browser: Any
) -> None:
    """Issue 20: a peildatum (asOf) set on the page reads every figure as the ledger knew it
    then: a cost booked later is not in Purmerend's realisatie, a year closed later is open;
    emptied, the page reads now again."""
    from datetime import UTC, datetime

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    def peildatum(instant: str) -> None:
        """Type the instant into the field, in the browser's own time, as a user would pick it."""
        browser.execute_script(
            "const d = new Date(arguments[1]), p = (n) => String(n).padStart(2, '0');"
            "arguments[0].value = arguments[1] ? `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T`"
            "  + `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}` : '';"
            "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
            browser.find_element(By.ID, "peildatum"), instant)

    line = '#budgetten tr[data-budget="participatiebudget"][data-sub=""] [data-veld="realisatie"]'
    with serve_demo(tmp_path_factory.mktemp("peildatum")) as (served, _):
        time.sleep(1.1)
        then = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        time.sleep(1.1)
        post(served, event("CostBooked", {"budget": "participatiebudget", "category": "begeleiding", "amountCents": 123_400},
                           party="GM0439", date="2018-11-30", year=2018, reference="Illustratief: na de peildatum"))
        post(served, event("YearClosed", {}, party="GM0439", date="2018-12-31", year=2018))
        at = lambda **p: [r for r in served.get("/v1/balances", party="GM0439", year=2018, **p)["results"]  # noqa: E731
                          if r["budget"] == "participatiebudget" and r["subBudget"] is None][0]["spentCents"]
        assert at() == at(asOf=then) + 123_400

        sign_in(browser, served)
        choose(browser, "GM0439", 2018)
        assert browser.find_element(By.ID, "peilstatus").get_attribute("data-peildatum") == ""
        assert browser.find_element(By.ID, "peilstatus").text.startswith("Peildatum nu")
        assert amount(browser, line) == at()
        assert browser.find_element(By.ID, "jaarstatus").get_attribute("data-status") == "afgesloten"
        assert Select(browser.find_element(By.ID, "jaar")).first_selected_option.text == "2018 · afgesloten"
        assert browser.find_element(By.CSS_SELECTOR, '#meerjarenraming tr[data-jaar="2018"] [data-veld="jaarstatus"]').text == "afgesloten"

        peildatum(then)
        wait_for(browser, "#peilstatus", "data-peildatum", then)
        wait_for(browser, "body", "data-klaar", "GM0439/2018")
        assert amount(browser, line) == at(asOf=then)
        status = browser.find_element(By.ID, "jaarstatus")
        assert status.get_attribute("data-status") == "open" and "peildatum" in status.text
        assert Select(browser.find_element(By.ID, "jaar")).first_selected_option.text == "2018 · open"
        assert browser.find_element(By.CSS_SELECTOR, '#meerjarenraming tr[data-jaar="2018"] [data-veld="jaarstatus"]').text == "open"
        shown = browser.find_element(By.ID, "peilstatus").text
        assert shown.startswith("Peildatum ") and "op dat moment" in shown
        # The trail, too, as of then: without the later cost.
        browser.find_element(By.CSS_SELECTOR, '#budgetten tr[data-budget="participatiebudget"][data-sub=""] button.spoor').click()
        box = '#budgetten tr.spoor-rij[data-spoor="participatiebudget/"] .spoor'
        wait_for(browser, box, "data-klaar", "1/2")
        before = served.get("/v1/balances/GM0439/2018/participatiebudget/trail", asOf=then)["count"]
        assert browser.find_element(By.CSS_SELECTOR, box).get_attribute("data-aantal") == str(before)
        screenshot(browser, "dashboard-peildatum.png")

        browser.find_element(By.ID, "peildatumnu").click()  # empty again: now
        wait_for(browser, "#peilstatus", "data-peildatum", "")
        wait_for(browser, "body", "data-klaar", "GM0439/2018")
        assert amount(browser, line) == at()
        assert browser.find_element(By.ID, "jaarstatus").get_attribute("data-status") == "afgesloten"
        no_errors_and_nothing_from_elsewhere(browser, served.base)
