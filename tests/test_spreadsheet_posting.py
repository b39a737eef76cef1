"""Posting spreadsheets (issue 18.1): `POST /v1/events` with a CSV as Excel-NL and
LibreOffice save it or an XLSX as openpyxl writes it, one event a row; refusals naming
row and column; the dry run; the templates; `ledger post`; and the Dutch CSV of the
events list posted back as new ids."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import uuid
import zipfile
from datetime import datetime
from pathlib import Path
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from api.app import create_app
from api.euros import cents_of_text
from api.render import _dutch_field
from api.tokens import TokenStore
from ledger.config import Settings
from ledger.events import LEDGER_ONLY_TYPES, PAYLOADS, parse_event
from projections import queries
from projections.db import ReadDB
from tests.conftest import Api, assert_problem, event, register, serve_demo
from tests.procs_ledger import ROOT, cli, cli_env

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = ["id", "type", "party", "effectiveDate", "year", "reference", "budget", "source", "category", "amount"]


def new_id() -> str:
    return str(uuid.uuid4())


def csv_bytes(rows: list[list[Any]], separator: str = ";", encoding: str = "windows-1252", newline: str = "\r\n") -> bytes:
    """A CSV as a spreadsheet saves it: Excel-NL `;` and Windows-1252 (or UTF-8 with BOM:
    encoding utf-8-sig) with CRLF; LibreOffice `,`, UTF-8 and LF."""
    out = io.StringIO()
    csv.writer(out, delimiter=separator, lineterminator=newline).writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def post_file(api: Api, token: str, body: bytes, content_type: str = CSV, **query: str) -> tuple[int, str, Any]:
    r = await api.client.post("/v1/events", data=body, params=query,
                              headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    return r.status, r.content_type, await r.json(content_type=None)


async def allocate(api: Api, token: str, cents: int = 100_000_000, party: str = "GM0439") -> None:
    status, body = await api.post(token, event("BudgetAllocated", {"budget": "participatiebudget", "source": "rijk",
                                                                   "amountCents": cents}, party=party, date="2018-01-01"))
    assert status == 201, body


async def spent(api: Api, token: str, party: str = "GM0439") -> int:
    status, body = await api.get(token, "/v1/balances", party=party, year=2018, budget="participatiebudget")
    assert status == 200, body
    return next(r["spentCents"] for r in body["results"] if r["subBudget"] is None)


async def count(api: Api, token: str) -> int:
    status, body = await api.get(token, "/v1/events", limit=1)
    assert status == 200, body
    return int(body["count"])


def costs(*amounts: str) -> list[list[Any]]:
    rows: list[list[Any]] = [HEADER]
    for n, amount in enumerate(amounts, start=1):
        rows.append([new_id(), "CostBooked", "GM0439", "2018-03-31", "", f"factuur 2018-{n:04d} €", "participatiebudget",
                     "", "begeleiding", amount])
    return rows


# --- CSV and XLSX as spreadsheets write them -----------------------------------------------


@pytest.mark.parametrize(
    ("separator", "encoding", "newline", "content_type"),
    [
        (";", "windows-1252", "\r\n", CSV),  # Excel-NL: CSV (gescheiden door lijstscheidingsteken)
        (";", "windows-1252", "\r\n", "text/csv; charset=windows-1252"),
        (";", "utf-8-sig", "\r\n", CSV),  # Excel-NL: CSV UTF-8
        (",", "utf-8", "\n", CSV),  # LibreOffice's default
        (",", "utf-8-sig", "\r\n", "text/csv; charset=utf-8"),
    ],
    ids=["excel-nl-1252", "excel-nl-1252-charset", "excel-nl-utf8-bom", "libreoffice", "comma-bom-crlf"],
)
async def test_a_csv_posts_one_event_a_row(
    api: Api, gemeente: str, separator: str, encoding: str, newline: str, content_type: str
) -> None:
    await allocate(api, gemeente)
    rows = costs("1.234,56", "22.616-" if separator == ";" else "-0.01", "€ 1.000", "1234.5")  # € 1.000: Dutch anywhere
    status, _, body = await post_file(api, gemeente, csv_bytes(rows, separator, encoding, newline), content_type)
    # a negative cost is refused: take it out and post again
    assert status == 400 and {p["row"] for p in body["invalidParams"]} == {3}, body
    assert body["invalidParams"][0]["column"] == "amount" and body["invalidParams"][0]["name"] == "row 3, amount"
    del rows[2]
    status, _, body = await post_file(api, gemeente, csv_bytes(rows, separator, encoding, newline), content_type)
    assert status == 201, body
    assert await spent(api, gemeente) == 123_456 + 100_000 + 123_450
    stored = (await api.get(gemeente, f"/v1/events/{rows[1][0]}"))[1]
    assert stored["reference"] == "factuur 2018-0001 €" and stored["year"] == 2018
    assert stored["data"] == {"budget": "participatiebudget", "category": "begeleiding", "amountCents": 123_456}


async def test_an_xlsx_posts_numbers_dates_and_nested_fields(api: Api) -> None:
    admin = api.token("admin")
    await register(api, admin, "GM0439", "GM0200")
    rows: list[list[Any]] = [
        ["id", "type", "party", "effectiveDate", "name", "members.GM0439", "members.GM0200", "fundHolder"],
        [new_id(), "OrganisationRegistered", "RWB-TEST", datetime(2015, 1, 1), "Werkbedrijf", "ja", True, "GM0200"],
    ]
    status, _, body = await post_file(api, admin, xlsx_bytes(rows), XLSX)
    assert status == 201, body
    rows = [
        ["id", "type", "party", "effectiveDate", "year", "basis", "policy", "weights.GM0439", "weights.GM0200"],
        [new_id(), "AllocationKeySet", "RWB-TEST", datetime(2015, 1, 1), 2015, "inwoners", "profijt", 92_000, 161.5],
    ]
    status, _, body = await post_file(api, admin, xlsx_bytes(rows), XLSX)
    assert status == 201, body
    key = (await api.get(admin, f"/v1/events/{rows[1][0]}"))[1]
    assert key["data"]["weights"] == {"GM0439": 92_000, "GM0200": 161.5} and key["effectiveDate"] == "2015-01-01"
    await allocate(api, admin)
    rows = [["id", "type", "party", "effectiveDate", "budget", "category", "amount"],
            [new_id(), "CostBooked", "GM0439", "2018-05-01", "participatiebudget", "begeleiding", 1234.56],
            [new_id(), "CostBooked", "GM0439", "2018-05-01", "participatiebudget", "begeleiding", 0.1 + 0.2]]
    status, _, body = await post_file(api, admin, xlsx_bytes(rows), XLSX)
    assert status == 201, body
    assert await spent(api, admin) == 123_456 + 30


# --- refusals ------------------------------------------------------------------------------


def _bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * (300 * 1024 * 1024))
    return out.getvalue()


def _far_row() -> bytes:
    """A workbook whose second row claims to be row 2,000,000,000 (read row by row, the
    rows between would be read as empty ones)."""
    parts = zipfile.ZipFile(io.BytesIO(xlsx_bytes([HEADER, [new_id()]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for part in parts.infolist():
            data = parts.read(part.filename)
            if part.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b'r="2"', b'r="2000000000"').replace(b'r="A2"', b'r="A2000000000"')
            z.writestr(part.filename, data)
    return out.getvalue()


HOSTILE: dict[str, tuple[bytes, str, str | None]] = {  # the body, its type, the column named (None: the file's)
    "formula": (csv_bytes(costs("=1+2")), CSV, "amount"),
    "formula-in-xlsx": (xlsx_bytes([HEADER[:4] + ["budget", "category", "amount"],
                                    [new_id(), "CostBooked", "GM0439", "2018-03-31", "participatiebudget", "begeleiding",
                                     "=SUM(A1:A2)"]]), XLSX, "amount"),
    "1e400-cents": (csv_bytes([["id", "type", "party", "effectiveDate", "budget", "category", "amountCents"],
                               [new_id(), "CostBooked", "GM0439", "2018-03-31", "participatiebudget", "begeleiding",
                                "1e400"]]), CSV, "amountCents"),
    "1e400-euros": (csv_bytes(costs("1e400")), CSV, "amount"),
    "finer-than-a-cent": (csv_bytes(costs("1.234,567")), CSV, "amount"),
    "more-cells-than-headings": (csv_bytes([*costs("12,50"), [new_id(), "CostBooked", "GM0439", "2018-03-31", "", "",
                                                              "participatiebudget", "", "begeleiding", "1", "extra"]]),
                                 CSV, "column 11"),
    "duplicate-headings": (csv_bytes([[*HEADER, "amount"], costs("1")[1] + ["2"]]), CSV, "amount"),
    "empty": (b"", CSV, None),
    "header-only": (csv_bytes([HEADER]), CSV, None),
    "not-text": (b"\x81\x8d\x8f\x90\x9d" * 10, CSV, None),
    "nul-bytes": (b"id,type\r\n\0\0\0,x\r\n", CSV, None),
    "not-a-zip": (b"PK\x03\x04 this is no workbook", XLSX, None),
    "zip-bomb": (_bomb(), XLSX, None),
    "a-row-beyond-excel": (_far_row(), XLSX, None),
    "unknown-charset": (csv_bytes(costs("1")), "text/csv; charset=x-klingon", None),
}


@pytest.mark.parametrize("case", list(HOSTILE))
async def test_hostile_or_ambiguous_files_are_a_400_naming_the_cell(api: Api, gemeente: str, case: str) -> None:
    await allocate(api, gemeente)
    before = await count(api, gemeente)
    body, content_type, column = HOSTILE[case]
    status, kind, problem = await post_file(api, gemeente, body, content_type)
    assert_problem(status, kind, problem, 400)
    assert problem["invalidParams"] and all(p["reason"] for p in problem["invalidParams"])
    if column is not None:
        assert column in {p.get("column") for p in problem["invalidParams"]}, problem
        assert all(p["row"] >= 1 and p["name"].startswith(f"row {p['row']}") for p in problem["invalidParams"])
    assert await count(api, gemeente) == before


@asynccontextmanager
async def other_api(db: str, aiohttp_client: Any, **settings: Any) -> AsyncIterator[Api]:
    """The API over `db` with other settings, as the `api` fixture serves it."""
    client = await aiohttp_client(create_app(Settings(db=db, rate_limit=0, **settings)))
    read = ReadDB(db)
    try:
        yield Api(client, db, TokenStore(read))
    finally:
        read.close()


async def test_a_file_beyond_the_batch_or_body_limit_is_a_413(store: str, aiohttp_client: Any) -> None:
    async with other_api(store, aiohttp_client, max_batch=3, max_body=64 * 1024) as api:
        admin = api.token("admin")
        for body, content_type in ((csv_bytes(costs("1", "2", "3", "4")), CSV),
                                   (xlsx_bytes(costs("1", "2", "3", "4")), XLSX), (csv_bytes(costs(*["1"] * 2000)), CSV)):
            status, kind, problem = await post_file(api, admin, body, content_type)
            assert_problem(status, kind, problem, 413)


async def test_a_rule_broken_is_a_422_listing_the_rows(api: Api, gemeente: str) -> None:
    await allocate(api, gemeente)
    rows = costs("10", "20", "30")
    rows[2][6] = rows[3][6] = "nergens"  # no such budget line
    status, kind, body = await post_file(api, gemeente, csv_bytes(rows))
    assert_problem(status, kind, body, 422)
    assert [(e["index"], e["row"]) for e in body["errors"]] == [(1, 3), (2, 4)]
    rows[2][2] = "GM0200"  # another party's row: a 403 names it too
    status, kind, body = await post_file(api, gemeente, csv_bytes(rows))
    assert_problem(status, kind, body, 403)
    assert [e["row"] for e in body["errors"]] == [3]
    assert await spent(api, gemeente) == 0


async def test_json_answers_are_as_they_were(api: Api, gemeente: str) -> None:
    status, body = await api.post(gemeente, {"events": [event("CostBooked", {"budget": "x", "category": "y",
                                                                             "amountCents": 1.5})]})
    assert status == 400 and body["invalidParams"][0]["name"] == "events[0].data.amountCents", body
    assert "row" not in body["invalidParams"][0]
    r = await api.client.post("/v1/events", data=b"id;type", headers={"Authorization": f"Bearer {gemeente}",
                                                                       "Content-Type": "application/json"})
    assert r.status == 400 and "not valid JSON" in (await r.json(content_type=None))["detail"]


# --- the dry run ----------------------------------------------------------------------------


async def test_a_dry_run_checks_every_event_and_stores_nothing(api: Api, gemeente: str) -> None:
    status, body = await api.post(gemeente, event("ReserveEstablished", {"reserve": "participatie", "purpose": "tekorten",
                                                                          "openingBalanceCents": 10_000}, date="2018-01-01"))
    assert status == 201, body
    await allocate(api, gemeente)
    head, reserves = await count(api, gemeente), (await api.get(gemeente, "/v1/reserves", party="GM0439"))[1]
    withdraw = {"events": [event("ReserveWithdrawn", {"reserve": "participatie", "budget": "participatiebudget",
                                                      "amountCents": 8_000}, date="2018-06-01")]}
    r = await api.client.post("/v1/events", json=withdraw, params={"dryRun": "true"},
                              headers={"Authorization": f"Bearer {gemeente}"})
    assert r.status == 200 and await r.json() == {"dryRun": True, "events": 1, "wouldStore": 1, "alreadyStored": 0}
    assert await count(api, gemeente) == head
    assert (await api.get(gemeente, "/v1/reserves", party="GM0439"))[1] == reserves
    # The dry run left the reserve's book as it was: the real post may still take 8,000 of 10,000.
    status, stored = await api.post(gemeente, withdraw)
    assert status == 201, stored
    again = await api.client.post("/v1/events", json=withdraw, params={"dryRun": "true"},
                                  headers={"Authorization": f"Bearer {gemeente}"})
    assert await again.json() == {"dryRun": True, "events": 1, "wouldStore": 0, "alreadyStored": 1}
    # A refused batch: the dry run answers what the post answers.
    over = {"events": [event("ReserveWithdrawn", {"reserve": "participatie", "budget": "participatiebudget",
                                                  "amountCents": 8_000}, date="2018-07-01")]}
    dry = await api.client.post("/v1/events", json=over, params={"dryRun": "true"},
                                headers={"Authorization": f"Bearer {gemeente}"})
    real = await api.post(gemeente, over)
    assert (dry.status, await dry.json(content_type=None)) == real and real[0] == 422
    bad = await api.client.post("/v1/events", json=over, params={"dryRun": "yes"},
                                headers={"Authorization": f"Bearer {gemeente}"})
    assert bad.status == 400 and (await bad.json(content_type=None))["invalidParams"][0]["name"] == "dryRun"


async def test_a_dry_run_of_a_spreadsheet_lists_every_refused_row(api: Api, gemeente: str) -> None:
    await allocate(api, gemeente)
    rows = costs("10", "twintig", "30", "1,001")
    status, _, body = await post_file(api, gemeente, csv_bytes(rows), dryRun="true")
    assert status == 400 and [(p["row"], p["column"]) for p in body["invalidParams"]] == [(3, "amount"), (5, "amount")]
    del rows[2], rows[3]
    status, _, body = await post_file(api, gemeente, csv_bytes(rows), dryRun="true")
    assert (status, body) == (200, {"dryRun": True, "events": 2, "wouldStore": 2, "alreadyStored": 0})
    assert await spent(api, gemeente) == 0
    status, _, body = await post_file(api, gemeente, csv_bytes(rows))
    assert status == 201 and await spent(api, gemeente) == 4_000


# --- templates ------------------------------------------------------------------------------


async def test_every_event_type_has_a_template_whose_example_posts(api: Api) -> None:
    admin = api.token("admin")
    await register(api, admin, "GM0200", "GM0995")
    accepts = [CSV, "text/csv; dialect=nl", XLSX]
    for n, kind in enumerate(k for k in PAYLOADS if k not in LEDGER_ONLY_TYPES):
        if kind == "SubsidyGranted":  # a loonkostensubsidie is paid from the inkomensdeel
            status, body = await api.post(admin, event("BudgetAllocated", {"budget": "inkomensdeel", "source": "rijk",
                                                                           "amountCents": 10_000_000}, date="2018-01-01"))
            assert status == 201, body
        accept = accepts[n % 3]
        r = await api.client.get(f"/v1/templates/{kind}", headers={"Authorization": f"Bearer {admin}", "Accept": accept})
        assert r.status == 200, await r.text()
        body = await r.read()
        if accept == XLSX:
            (header, example) = list(load_workbook(io.BytesIO(body)).active.iter_rows(values_only=True))
        else:
            text = body.decode("utf-8-sig")
            (header, example) = list(csv.reader(io.StringIO(text), delimiter=";" if "dialect" in accept else ","))
        assert list(header[:6]) == ["id", "type", "party", "effectiveDate", "year", "reference"]
        assert example[1] == kind
        status, kind_, answer = await post_file(api, admin, body, XLSX if accept == XLSX else CSV)
        assert status == 201, (kind, answer)
    r = await api.client.get("/v1/templates/NoSuchEvent", headers={"Authorization": f"Bearer {admin}"})
    assert_problem(r.status, r.content_type, await r.json(content_type=None), 404)
    r = await api.client.get("/v1/templates/ClientErased", headers={"Authorization": f"Bearer {admin}"})  # not posted
    assert_problem(r.status, r.content_type, problem := await r.json(content_type=None), 404)
    assert "erase-client" in problem["detail"]


def test_every_template_example_parses_as_an_event() -> None:
    from api.spreadsheet import _rows
    from api.templates import template

    for kind in PAYLOADS:
        found = template(kind)
        if kind in LEDGER_ONLY_TYPES:
            assert found is None, kind
            continue
        assert found is not None, kind
        columns, row = found
        (read,) = _rows(enumerate([columns, [row.get(c) for c in columns]], start=1), 10, dutch=False)
        assert parse_event(read.raw).type == kind


# --- the CLI ------------------------------------------------------------------------------


def test_ledger_post_posts_a_file_and_a_dry_run_stores_nothing(store: str, tmp_path: Path) -> None:
    registered = tmp_path / "register.ndjson"
    registered.write_text("\n".join(orjson.dumps(e).decode() for e in [
        event("PartyRegistered", {"name": "Purmerend", "kind": "gemeente"}, date="2014-01-01"),
        event("BudgetAllocated", {"budget": "participatiebudget", "source": "rijk", "amountCents": 10_000_000},
              date="2018-01-01")]) + "\n")
    checked = tmp_path / "register.json"
    checked.write_text(orjson.dumps({"events": [orjson.loads(line) for line in registered.read_text().splitlines()]}).decode())
    assert "dry run: all 2 events pass the rules, 2 of them new" in cli(store, "post", "--dry-run", str(checked)).stderr
    assert "stored" in cli(store, "post", str(registered), timeout=120).stderr
    assert "all 2 events were stored before" in cli(store, "post", str(checked), timeout=120).stderr
    good = tmp_path / "kosten.csv"
    good.write_bytes(csv_bytes(costs(*["12,50"] * 600)))  # large enough for the progress bar
    out = cli(store, "post", "--dry-run", str(good), timeout=120)
    assert "dry run: all 600 events pass the rules, 600 of them new" in out.stderr
    bad = tmp_path / "kosten.xlsx"
    rows = costs("10", "x", "30")
    rows[3][6] = "nergens"
    bad.write_bytes(xlsx_bytes(rows))
    out = cli(store, "post", str(bad), check=False, timeout=120)
    assert out.returncode == 1 and "row 3, amount: 'x' is not an amount in euros" in out.stderr, out.stderr
    rows[2][-1] = "20"
    bad.write_bytes(xlsx_bytes(rows))
    out = cli(store, "post", str(bad), check=False, timeout=120)
    assert out.returncode == 1 and "row 4: " in out.stderr and "row 2" not in out.stderr, out.stderr
    out = cli(store, "post", str(good), timeout=120)
    assert "stored: all 600 events" in out.stderr
    db = ReadDB(store)
    try:
        (line,) = [b for b in queries.balances(db, parties=None, year=2018) if b["subBudget"] is None]
    finally:
        db.close()
    assert line["spentCents"] == 600 * 1_250


# --- the round trip ---------------------------------------------------------------------------


async def test_the_dutch_csv_of_the_events_posts_back_the_same_figures(api: Api, gemeente: str, tmp_path: Path,
                                                                      aiohttp_client: Any) -> None:
    await allocate(api, gemeente)
    status, _, body = await post_file(api, gemeente, csv_bytes(costs("1.234,56", "0,01", "€ 99.999,99")))
    assert status == 201, body
    guarded = event("CostBooked", {"budget": "participatiebudget", "category": "begeleiding", "amountCents": 7},
                    date="2018-04-01", reference="-correctie; =SUM(A1), \"zie\" bijlage")  # the CSV guards it
    assert (await api.post(gemeente, guarded))[0] == 201
    r = await api.client.get("/v1/events", params={"party": "GM0439"},
                             headers={"Authorization": f"Bearer {gemeente}", "Accept": "text/csv; dialect=nl"})
    text = (await r.read()).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    for row in rows[1:]:
        row[0] = new_id()
    async with other_api(f"sqlite:///{tmp_path}/other.db", aiohttp_client) as copy:  # another ledger
        admin = copy.token("admin")
        status, _, answer = await post_file(copy, admin, csv_bytes(rows, encoding="utf-8-sig"))
        assert status == 201, answer
        original = (await api.get(gemeente, "/v1/balances", party="GM0439"))[1]["results"]
        assert (await copy.get(admin, "/v1/balances", party="GM0439"))[1]["results"] == original
        assert await spent(copy, admin) == 123_456 + 1 + 9_999_999 + 7
        logged = (await copy.get(admin, "/v1/events", party="GM0439"))[1]["results"]
        assert guarded["reference"] in {e.get("reference") for e in logged}


# --- amounts ----------------------------------------------------------------------------------


def _dutch(cents: int, thousands: bool) -> str:
    euros, rest = divmod(abs(cents), 100)
    whole = f"{euros:,}".replace(",", ".") if thousands else str(euros)
    return f"{whole},{rest:02d}"


@given(st.integers(min_value=-10**15, max_value=10**15))
def test_every_notation_of_an_amount_reads_back_as_its_cents(cents: int) -> None:
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(cents), 100)
    notations = [
        (f"{sign}{_dutch(cents, True)}", False),
        (f"{sign}{_dutch(cents, False)}", False),
        (f"{sign}{euros}.{rest:02d}", False),
        (f"{_dutch(cents, True)}{sign}", True),
        (f"{sign}€ {_dutch(cents, True)}", False),
        (_dutch_field("amountCents", cents), True),  # as the Dutch CSV writes it
    ]
    if rest == 0:
        notations.append((f"{sign}{euros:,}".replace(",", "."), True))
    for text, dutch in notations:
        assert cents_of_text(text, dutch) == cents, text


def test_the_readme_spreadsheet_examples_run_against_the_demo(tmp_path: Path) -> None:
    """The README's "Spreadsheets in" commands as written, against `make run` in small:
    the template's example row checked by a dry run, and again by the CLI."""
    if shutil.which("curl") is None or not (ROOT / ".venv/bin/ledger").exists():
        pytest.skip("needs curl and the virtualenv's ledger command")
    readme = (ROOT / "README.md").read_text().split("\n## Spreadsheets in\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", readme, re.DOTALL)
    work = tmp_path / "work"  # kosten.csv is written here, not into the working tree
    work.mkdir()
    (work / ".venv").symlink_to(ROOT / ".venv")
    with serve_demo(tmp_path) as (served, _):
        script = "set -eu\nTOKEN=$(.venv/bin/ledger token create --role gemeente --party GM0439)\n" + block
        out = subprocess.run(["bash", "-c", script.replace("http://127.0.0.1:8080", served.base)], check=False,
                             cwd=work, env=cli_env(served.db), capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert '"status":4' not in out.stdout and '"status":5' not in out.stdout, out.stdout
        assert '"dryRun":true,"events":1,"wouldStore":1' in out.stdout  # checked, not booked (the README says how)
        assert "1 events pass the rules, 1 of them new" in out.stderr


def test_a_dry_run_across_a_snapshot_leaves_the_cached_book_and_its_snapshots_as_they_were(store: str) -> None:
    """A dry run that would take the book past a snapshot interval: no snapshot of the
    state it decided, and the cached book evicted, so the real post after it decides on
    the stored events alone (a reserve of 10,000 still has 10,000 to give)."""
    from ledger.application import SNAPSHOT_INTERVAL, BatchRefused, Ledger
    from ledger.book import Book

    ledger = Ledger(store)

    def parsed(*events: dict[str, Any]) -> list[Any]:
        return [parse_event(e) for e in events]

    ledger.post(parsed(event("PartyRegistered", {"name": "Purmerend", "kind": "gemeente"}, date="2014-01-01"),
                       event("BudgetAllocated", {"budget": "participatiebudget", "source": "rijk", "amountCents": 10_000},
                             date="2018-01-01"),
                       event("ReserveEstablished", {"reserve": "participatie", "purpose": "tekorten",
                                                    "openingBalanceCents": 10_000}, date="2018-01-01")), "admin:test")
    book_id = Book.create_id("GM0439")
    version = ledger.repository.get(book_id).version
    fillers = [event("BudgetRevised", {"budget": "participatiebudget", "amountCents": 1}, date="2018-02-01")
               for _ in range(SNAPSHOT_INTERVAL - 1 - version % SNAPSHOT_INTERVAL)]
    ledger.post(parsed(*fillers), "admin:test")
    snapshots = ledger.snapshots.get(book_id)  # type: ignore[union-attr]
    withdraw = {"reserve": "participatie", "budget": "participatiebudget", "amountCents": 8_000}
    dry = ledger.post(parsed(event("ReserveWithdrawn", withdraw, date="2018-06-01"),
                             event("ReserveWithdrawn", {**withdraw, "amountCents": 1_000}, date="2018-06-02")),
                      "admin:test", dry_run=True)
    assert dry.dry_run and dry.created and dry.results == []
    assert list(ledger.snapshots.get(book_id)) == list(snapshots)  # type: ignore[union-attr]
    assert ledger.repository.get(book_id).version == SNAPSHOT_INTERVAL - 1
    ledger.post(parsed(event("ReserveWithdrawn", withdraw, date="2018-07-01")), "admin:test")
    with pytest.raises(BatchRefused):  # 2,000 left, as the stored events say
        ledger.post(parsed(event("ReserveWithdrawn", {**withdraw, "amountCents": 3_000}, date="2018-08-01")), "admin:test")
