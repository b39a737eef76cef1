"""The Iv3 delivery as CBS takes it (issue 18.3), through the HTTP API and the CLI.

Every demo party's every year with taakvelden and every period is validated with
jsonschema against CBS's data schema; every code is held to that year's definities file
of the party's overheidslaag, no amount may sit in a grey cell, and the checks
ledger/iv3_cbs.py claims pass do. The files are the copies in ledger/cbs/, which must
be CBS's originals (their sha256 in its README). The CBS number, PartyUpdated (admin
only; through export, import, rebuild and the hash chain), the 422s, the spreadsheet
read back with openpyxl and the CLI are tested here too.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import openpyxl
import pytest

from ledger import demo, iv3_cbs
from ledger.application import Ledger
from ledger.config import Settings
from ledger.events import parse_event
from projections import iv3 as iv3_report
from projections.db import ReadDB
from projections.runner import Projector
from tests.conftest import Api, assert_problem, event, load_demo, register
from tests.test_cli import ledger
from tests.test_purmerend import post_purmerend

SCHEMA = iv3_cbs.read(iv3_cbs.SCHEMA_FILE)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PERIODS = range(6)


async def delivery(api: Api, token: str, party: str, year: int, period: int = 5) -> dict[str, Any]:
    r = await api.client.get("/v1/iv3", params={"party": party, "year": year, "period": period},
                             headers={"Authorization": f"Bearer {token}"})
    text = await r.text()
    assert r.status == 200, text
    return json.loads(text, parse_float=Decimal)


def problems_of(body: dict[str, Any]) -> list[str]:
    """What is wrong with a delivery: the schema's errors, codes not in the year's lists,
    amounts in grey cells, standper codes not listed, failed checks (ledger/iv3_cbs.py)."""
    meta, data = body["metadata"], body["data"]
    defs = iv3_cbs.definities(meta["overheidslaag"], meta["boekjaar"])
    out = [e.message for e in jsonschema.Draft7Validator(SCHEMA).iter_errors(body)]
    for side in iv3_cbs.SIDES:
        code_key = "taakveld" if side in ("lasten", "baten") else "balanscode"
        code_list = "taakveld" if code_key == "taakveld" else "balanscode"
        categories = defs.codes["categorie_lasten" if side.endswith("lasten") else "categorie_baten"]
        for line in data[side]:
            if line[code_key] not in defs.codes[code_list]:
                out.append(f"{side}: {line[code_key]} is no {code_list} of {defs.boekjaar}")
            if line["categorie"] not in categories:
                out.append(f"{side}: {line['categorie']} is no categorie of {defs.boekjaar}")
            if (line[code_key], line["categorie"]) in defs.grey[side]:
                out.append(f"{side}: {line[code_key]} x {line['categorie']} is a grey cell")
            if line["bedrag"] == 0:
                out.append(f"{side}: an empty cell written")
    for stand in data["balans_standen"]:
        if stand["standper"] not in defs.codes["standper"] or stand["balanscode"] not in defs.codes["balanscode"]:
            out.append(f"balans_standen: {stand}")
    # The year's checks, and the newest file's too: the 2017-2019 files list PF001 alone,
    # but the delivery is written so that all of them hold in every year.
    newest = iv3_cbs.definities(meta["overheidslaag"], 2026)
    failed = iv3_cbs.failed(defs, body) + iv3_cbs.failed(replace(defs, controles=newest.controles), body)
    return out + [f"check {code} fails" for code in failed]


# --- the reference files ------------------------------------------------------------------


def test_the_carried_files_are_cbs_originals() -> None:
    """ledger/cbs/README.md lists the sha256 of CBS's files; the gzipped copies hold them."""
    folder = Path(iv3_cbs.CBS_DIR)
    listed = dict(reversed(line.split()) for line in (folder / "README.md").read_text().splitlines()
                  if re.fullmatch(r"[0-9a-f]{64}  \S+\.json", line))
    assert set(listed) == {p.name.removesuffix(".gz") for p in folder.glob("*.json.gz")}
    for name, digest in listed.items():
        assert hashlib.sha256(gzip.decompress((folder / f"{name}.gz").read_bytes())).hexdigest() == digest, name


def test_the_years_of_the_definities() -> None:
    assert (iv3_cbs.first_year("Gemeente"), iv3_cbs.first_year("GR")) == (2017, 2018)
    with pytest.raises(iv3_cbs.BeforeTaakvelden):
        iv3_cbs.definities("GR", 2017)
    assert iv3_cbs.definities("Gemeente", 2030).boekjaar == 2026  # the last file, said in opmerkingen


def test_a_line_on_a_grey_cell_moves() -> None:
    """A Rijk baat to 0.7; another line to 3.8 of its taakveld (a subsidy 4.2 on the Wmo)."""
    old, new = iv3_cbs.definities("Gemeente", 2018), iv3_cbs.definities("Gemeente", 2023)
    assert ("6.5", "4.3.1") in old.grey["baten"] and ("6.5", "4.3.1") not in new.grey["baten"]
    assert iv3_cbs.place(old, 2018, "baten", "6.5", "4.3.1") == ("0.7", "4.3.1")
    assert iv3_cbs.place(new, 2023, "baten", "6.5", "4.3.1") == ("6.5", "4.3.1")  # open again in 2023
    assert iv3_cbs.place(old, 2018, "baten", "6.3", "4.3.1") == ("6.3", "4.3.1")  # BUIG: never grey
    assert ("6.71d", "4.2") in new.grey["lasten"]
    assert iv3_cbs.place(new, 2023, "lasten", "6.71d", "4.2") == ("6.71d", "3.8")


def test_the_wmo_codes_per_year() -> None:
    assert [iv3_cbs.taakveld_in(y, "6.71c") for y in (2022, 2023, 2024, 2025)] == ["6.71", "6.71c", "6.71c", "6.713"]
    assert iv3_cbs.taakveld_in(2025, "6.3") == "6.3"


# --- the demo, every party, year and period -------------------------------------------------


async def test_every_demo_delivery_is_valid_and_passes_its_checks(api: Api) -> None:
    admin = await load_demo(api)
    events = [e for batch in demo.batches() for e in batch.events]
    last = max(e.get("year", int(e["effectiveDate"][:4])) for e in events)
    parties = {e["party"]: e["type"] for e in events if e["type"] in ("PartyRegistered", "OrganisationRegistered")}
    seen = checked = 0
    for party, registration in sorted(parties.items()):
        laag = "GR" if registration == "OrganisationRegistered" else "Gemeente"
        for year in range(iv3_cbs.first_year(laag), last + 1):
            for period in PERIODS:
                body = await delivery(api, admin, party, year, period)
                assert problems_of(body) == [], (party, year, period)
                assert body["metadata"]["overheidslaag"] == laag
                seen += bool(body["data"]["lasten"])
                checked += bool(body["data"]["balans_standen"]) and period == 5  # PF003, PF007, PF008
    assert seen > 20 and checked > 8  # figures and balances were seen, not only empty deliveries
    rwb = await delivery(api, admin, demo.RWB, 2018)
    assert (rwb["metadata"]["overheidsnummer"], rwb["metadata"]["overheidslaag"]) == (demo.RWB_CBS_NUMBER, "GR")


async def test_the_reserve_stands_are_the_reserves_positions(api: Api) -> None:
    """Purmerend's reserve (P112) starts 2017 where /v1/reserves ends 2016 and ends 2018 empty
    (the source: "Vanaf 2019 is de reserve leeg"); the money A23 is the reserves and P114."""
    gemeente = await post_purmerend(api)
    _, reserves = await api.get(gemeente, "/v1/reserves", party="GM0439", year=2016)
    ((reserve),) = reserves["results"]
    body = await delivery(api, gemeente, "GM0439", 2017)
    stands = {(s["balanscode"], s["standper"]): s["bedrag"].scaleb(5) for s in body["data"]["balans_standen"]}
    assert stands[("P112", "1 januari")] == reserve["balanceCents"]
    assert stands[("A23", "1 januari")] == stands[("P112", "1 januari")] + stands.get(("P114", "1 januari"), 0)
    body = await delivery(api, gemeente, "GM0439", 2018)
    stands = {(s["balanscode"], s["standper"]): s["bedrag"] for s in body["data"]["balans_standen"]}
    assert stands[("P112", "ultimo")] == 0


async def test_the_wmo_split_and_a_year_after_the_last_file(api: Api, gemeente: str) -> None:
    costs = []
    for year in (2022, 2023, 2025, 2027):
        costs += [event("BudgetAllocated", {"budget": "wmo", "source": "gemeentefonds", "amountCents": 10_000},
                        date=f"{year}-01-01"),
                  event("CostBooked", {"budget": "wmo", "category": "dagbesteding", "amountCents": 1_000}, date=f"{year}-03-01"),
                  event("CostBooked", {"budget": "wmo", "category": "huishoudelijke-hulp", "amountCents": 10},
                        date=f"{year}-03-01")]
    status, body = await api.post(gemeente, {"events": costs})
    assert status == 201, body
    expected = {2022: ("6.71", "6.71"), 2023: ("6.71c", "6.71a"), 2025: ("6.713", "6.711"), 2027: ("6.713", "6.711")}
    for year, (dagbesteding, hulp) in expected.items():
        for period in PERIODS:
            body = await delivery(api, gemeente, "GM0439", year, period)
            assert problems_of(body) == [], (year, period)
        lasten = [(r["taakveld"], r["categorie"]) for r in body["data"]["lasten"]]
        assert (dagbesteding, "3.4.1") in lasten and (hulp, "3.8") in lasten
    notes = [o["tekst"] for o in body.get("opmerkingen", [])]
    assert any(n.startswith("definities: die van Gemeente 2026") for n in notes)


# --- the CBS number and PartyUpdated -------------------------------------------------------


async def test_party_updated_is_admin_only_and_shows_in_the_party_read(api: Api) -> None:
    admin = api.token("admin")
    await register(api, admin, "GM0439")
    updated = event("PartyUpdated", {"name": "Gemeente Purmerend", "cbsNumber": "0439"}, date="2018-01-01")
    status, body = await api.post(api.token("gemeente", "GM0439"), updated)
    assert_problem(status, "application/problem+json", body, 403)
    status, body = await api.post(admin, event("PartyUpdated", {}, date="2018-01-01"))
    assert_problem(status, "application/problem+json", body, 400)
    status, body = await api.post(admin, event("PartyUpdated", {"cbsNumber": "1"}, party="GM9999", date="2018-01-01"))
    assert_problem(status, "application/problem+json", body, 400)
    status, body = await api.post(admin, event("PartyUpdated", {"cbsNumber": "9999"}, party="GM9999", date="2018-01-01"))
    assert_problem(status, "application/problem+json", body, 422)  # not registered
    status, body = await api.post(admin, updated)
    assert status == 201, body
    _, parties = await api.get(admin, "/v1/parties")
    ((party),) = parties["results"]
    assert (party["name"], party["cbsNumber"]) == ("Gemeente Purmerend", "0439")
    assert (await delivery(api, admin, "GM0439", 2018))["metadata"]["overheidsnaam"] == "Gemeente Purmerend"


def test_party_updated_goes_through_export_import_rebuild_and_the_chain(store: str, tmp_path: Path) -> None:
    app = Ledger(store)
    try:
        app.post([parse_event(event("PartyRegistered", {"name": "Purmerend", "kind": "gemeente"}, date="2014-01-01"))],
                 "admin:test")
        app.post([parse_event(event("OrganisationRegistered", {"name": "GR", "members": ["GM0439"]}, party="GR-X",
                                    date="2018-01-01"))], "admin:test")
        app.post([parse_event(event("PartyUpdated", {"cbsNumber": "9901"}, party="GR-X", date="2018-02-01"))], "admin:test")
    finally:
        app.close()
    assert ledger(store, "verify").returncode == 0
    exported = tmp_path / "log.ndjson"
    exported.write_text(ledger(store, "export").stdout)
    target = f"sqlite:///{tmp_path}/copy.db"
    ledger(target, "import", str(exported))
    assert ledger(target, "verify").returncode == 0
    for url in (store, target):
        app, db = Ledger(url), ReadDB(url)
        try:
            projector = Projector(app, db)
            projector.catch_up()
            projector.rebuild()
            body = iv3_report.report(db, "GR-X", 2018, 5)
            assert body is not None and body["metadata"]["overheidsnummer"] == "9901"
        finally:
            db.close()
            app.close()


async def test_a_gemeente_number_defaults_to_its_code(api: Api, gemeente: str) -> None:
    body = await delivery(api, gemeente, "GM0439", 2018)
    assert body["metadata"]["overheidsnummer"] == "0439"
    assert body["contact"] == iv3_report.UNCONFIGURED_CONTACT  # the api fixture configures none
    assert any(o["tekst"].startswith("contact: niet ingesteld") for o in body["opmerkingen"])
    assert problems_of(body) == []


def test_the_contact_comes_from_the_environment() -> None:
    env = {"LEDGER_IV3_CONTACT_NAME": "P. Afzender", "LEDGER_IV3_CONTACT_EMAIL": "p.afzender@purmerend.nl",
           "LEDGER_IV3_CONTACT_PHONE": "0299452452"}
    contact = Settings.from_env(env).iv3_contact
    assert contact == {"naam": "P. Afzender", "email": "p.afzender@purmerend.nl", "telefoon": "0299452452"}
    assert not list(jsonschema.Draft7Validator(SCHEMA["properties"]["contact"]).iter_errors(contact))
    assert Settings.from_env({**env, "LEDGER_IV3_CONTACT_PHONE": " "}).iv3_contact is None


# --- the spreadsheet and the CLI ------------------------------------------------------------


async def test_the_spreadsheet_has_the_three_sheets_of_the_excel_model(api: Api) -> None:
    gemeente = await post_purmerend(api)
    body = await delivery(api, gemeente, "GM0439", 2018)
    r = await api.client.get("/v1/iv3", params={"party": "GM0439", "year": 2018},
                             headers={"Authorization": f"Bearer {gemeente}", "Accept": XLSX})
    assert r.status == 200 and r.headers["Content-Type"] == XLSX
    book = openpyxl.load_workbook(io.BytesIO(await r.read()))
    assert book.sheetnames == ["lasten", "baten", "balans"]
    defs = iv3_cbs.definities("Gemeente", 2018)
    for side in ("lasten", "baten"):
        rows = list(book[side].iter_rows(values_only=True))
        header = rows[0]
        assert header[0] == "taakveld (bedragen x 1.000 euro)"
        found = {(row[0], header[i]): Decimal(str(v)) for row in rows[1:] for i, v in enumerate(row) if i and v is not None}
        assert found == {(line["taakveld"], line["categorie"]): line["bedrag"] for line in body["data"][side]}
        grey = {(row[0].value, book[side].cell(1, row[0].column + i).value)
                for row in book[side].iter_rows(min_row=2) for i, cell in enumerate(row) if i and cell.fill.fgColor.rgb.endswith("BFBFBF")}
        assert grey == {cell for cell in defs.grey[side] if cell[0] in defs.leaves["taakveld"]
                        and cell[1] in defs.leaves[f"categorie_{side}"]}
    rows = list(book["balans"].iter_rows(values_only=True))
    assert rows[0][:2] == ("balanscode (bedragen x 1.000 euro)", "stand 1 januari") and rows[0][-1] == "stand ultimo"
    stands = {(row[0], when): Decimal(str(row[i])) for row in rows[1:] for i, when in ((1, "1 januari"), (-1, "ultimo"))
              if row[i] is not None}
    assert stands == {(s["balanscode"], s["standper"]): s["bedrag"] for s in body["data"]["balans_standen"]}


def test_the_cli_writes_the_delivery_and_its_spreadsheet(store: str, tmp_path: Path) -> None:
    app = Ledger(store)
    try:
        app.post([parse_event(event("PartyRegistered", {"name": "Purmerend", "kind": "gemeente"}, date="2014-01-01")),
                  parse_event(event("BudgetAllocated", {"budget": "participatiebudget", "source": "rijk",
                                                        "amountCents": 123_456}, date="2018-01-01"))], "admin:test")
    finally:
        app.close()
    ledger(store, "rebuild", "--quiet")  # the CLI reads the read model, as `ledger sisa` does
    sheet = tmp_path / "iv3.xlsx"
    out = ledger(store, "iv3", "--party", "GM0439", "--year", "2018", "--period", "5", "--xlsx", str(sheet))
    body = json.loads(out.stdout, parse_float=Decimal)
    assert problems_of(body) == []
    assert [(r["taakveld"], r["bedrag"]) for r in body["data"]["baten"]] == [("0.7", Decimal("1.23456"))]
    assert openpyxl.load_workbook(sheet).sheetnames == ["lasten", "baten", "balans"]
    refused = ledger(store, "iv3", "--party", "GM0439", "--year", "2016", check=False)
    assert refused.returncode != 0 and "boekjaar 2017" in refused.stderr
