"""The Iv3 delivery of one party, budget year and period: its lines added up from the
log by ledger/iv3.py, written as CBS takes them by ledger/iv3_cbs.py.

Why from `log_events` and not from the budget movements: Iv3 needs what a movement has
forgotten (the cost category, the allocation's source, a reserve's side), and the log
row holds the whole event with what the ledger derived for it.

The shape is CBS's Iv3 data schema 2.1.1 (ledger/cbs/). Periods: the six
deliveries a year (Rijksoverheid, "Informatie voor derden: aansluiting op gemeentelijke
boekhouding"; the CBS Iv3 open data mark begroting and jaarrekening as X000 and X005):
- 0 begroting: the allocations of the year (ledger/iv3.py `begroting`), whatever
  their effective date. CBS wants it before 15 November of the year before (Kredo FAQ,
  "Wanneer moet de informatie aan het CBS worden aangeleverd?"): ask with `asOf`. CBS
  does not ask it of a GR ("Gemeenten en gemeenschappelijke regelingen"); the ledger
  answers anyway.
- 1-4 the quarters, cumulative: everything of the budget year with an effective date up
  to the quarter's end, so a late booking dated in an earlier quarter is never lost and
  the fourth quarter holds the year up to 31 December (CBS Kredo FAQ, "De informatie over de kwartalen dient
  cumulatief aangeleverd te worden. Waarom?", written for waterschappen; the ledger
  applies the same reasoning to gemeenten).
- 5 jaarrekening: every event of the budget year, including those dated after it.
Events are read by budget year (`year`), so a correction counts in its own year.

A current report (no `asOf`) is read from sums the projector keeps per cell and part
of the year (projections/iv3_sums.py, issue 16: decoding a year's events took 75 ms at
20,000 events); an as-of report still reads the events recorded by then, which the
kept sums must always equal (tests/test_iv3_sums.py).

`metadata.status` is CBS's: `Begroting` for period 0, `Realisatie` otherwise. What the
schema has no key for goes to `opmerkingen` (author `participatie-ledger`), one
`key: value` text each: `eenheid` (thousands of euros, exact to the cent), `mapping`
(ledger/iv3.py's MAPPING_VERSION), `boekjaar` `definitief` while the year is closed (at
`asOf`: a YearClosed known and no YearReopened after it) else `voorlopig`, `definities`
when a later year is written in the last file's codes, and `contact` when none is
configured. Cells that add up to zero are left out, as an empty cell of the CBS matrix.

`overheidsnummer` is the party's cbsNumber (PartyRegistered, OrganisationRegistered,
PartyUpdated), for a gemeente by default the four digits of its code (GM0439: 0439). A
shared organisation has no such default: CBS gives a gemeenschappelijke regeling its
number, and a delivery under a number made up from the party code would be filed under
another body or none, so it is `NoCbsNumber` (the API's 422 cbs-number-missing) until
an admin posts its PartyUpdated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ledger import iv3, iv3_cbs
from ledger.bounds import FIRST_YEAR
from projections import iv3_sums
from projections.db import ReadDB
from projections.queries import party_identity, recorded_by

BEGROTING, JAARREKENING = 0, 5
AUTHOR = "participatie-ledger"
SOFTWARE = f"participatie-ledger (Iv3-mapping {iv3.MAPPING_VERSION})"


class NoCbsNumber(Exception):
    """A shared organisation without a CBS number: it has no delivery yet."""


@dataclass(frozen=True)
class Figures:
    """What a delivery is written from, in cents: the period's cells, where the balance
    stood at the start of the year, and whether the year is closed."""

    identity: Mapping[str, Any]
    cells: tuple[iv3.Line, ...]  # one per (side, taakveld, categorie), in code order, none zero
    start: iv3_cbs.Position
    closed: bool


def figures(db: ReadDB, party: str, year: int, period: int, as_of: str | None = None) -> Figures | None:
    """The figures of `party`'s budget `year` and `period` (0-5) as known at `as_of`;
    None when the party is not registered (then). Current figures read the sums the
    projector keeps (projections/iv3_sums.py); as-of ones the events."""
    identity = party_identity(db, party, as_of)
    return None if identity is None else _figures(db, identity, party, year, period, as_of)


def _figures(db: ReadDB, identity: Mapping[str, Any], party: str, year: int, period: int, as_of: str | None) -> Figures:
    organisation = identity["kind"] == "organisation"
    if as_of is None:
        lines, closed = iv3_sums.current(db, party, year, period, organisation)
        earlier = iv3_sums.realised(db, party, FIRST_YEAR, year - 1, organisation)
        this_year = iv3_sums.realised(db, party, year, year, organisation)
    else:
        lines, closed = _from_log(db, party, year, period, organisation, as_of)
        earlier = _realised_from_log(db, party, year - 1, organisation, as_of)
        this_year = _from_log(db, party, year, JAARREKENING, organisation, as_of)[0]
    openings = [line for line in this_year if line.side == iv3.OPENING]
    return Figures(identity, _cells(lines), iv3_cbs.position(_cells(earlier), openings), closed)


def overheidslaag(identity: Mapping[str, Any]) -> str:
    return iv3_cbs.GR if identity["kind"] == "organisation" else iv3_cbs.GEMEENTE


def report(
    db: ReadDB, party: str, year: int, period: int, as_of: str | None = None,
    contact: Mapping[str, str] | None = None,
) -> dict[str, Any] | None:
    """The CBS delivery of `party`'s `year` and `period` as known at `as_of`, None when
    the party is not registered (then); `contact` the configured one (None: see the
    module docstring). Raises iv3_cbs.BeforeTaakvelden and NoCbsNumber."""
    identity = party_identity(db, party, as_of)
    if identity is None:
        return None
    laag = overheidslaag(identity)
    defs = iv3_cbs.definities(laag, year)
    nummer = identity.get("cbsNumber") or (party[2:] if laag == iv3_cbs.GEMEENTE else None)
    if nummer is None:
        raise NoCbsNumber(f"{party} has no cbsNumber: an admin posts a PartyUpdated with the number CBS gave it")
    found = _figures(db, identity, party, year, period, as_of)
    notes = [
        "eenheid: duizend euro, exact tot op de cent (bedrag 1.23456 is EUR 1.234,56)",
        f"mapping: {iv3.MAPPING_VERSION}",
        f"boekjaar: {'definitief' if found.closed else 'voorlopig'}",
    ]
    if defs.boekjaar != year:
        notes.append(f"definities: die van {laag} {defs.boekjaar}, de laatste die de ledger kent; "
                     f"controleer de codes tegen die van {year}")
    if contact is None:
        notes.append("contact: niet ingesteld (LEDGER_IV3_CONTACT_NAME, _EMAIL, _PHONE); CBS weigert de levering zo")
    metadata = {
        "overheidslaag": laag,
        "overheidsnummer": nummer,
        "overheidsnaam": identity["name"],
        "boekjaar": year,
        "periode": period,
        "status": "Begroting" if period == BEGROTING else "Realisatie",
        "datum": _last_change(db, party, as_of),
        "details_openbaar": False,
        "financieel_pakket": AUTHOR,
        "export_software": SOFTWARE,
    }
    return iv3_cbs.delivery(
        defs, metadata, dict(contact or UNCONFIGURED_CONTACT), found.cells, found.start,
        [{"tekst": note, "auteur": AUTHOR} for note in notes],
    )


# Schema-valid, and refused by CBS's intake (SF009: telefoon not filled) until configured.
UNCONFIGURED_CONTACT = {"naam": "niet ingesteld", "email": "iv3-contact@example.org", "telefoon": ""}


def _last_change(db: ReadDB, party: str, as_of: str | None) -> str:
    """When the party's last event known at `as_of` was recorded, to the second (CBS's
    `datum` takes no fraction): the moment the figures are as of. Not the clock's now, so
    that the same log gives the same delivery (a rebuild, an asOf read, the kept sums)."""
    where, known = recorded_by("recorded_at", as_of)
    with db.transaction() as cur:
        (last,) = cur.execute(f"SELECT MAX(recorded_at) FROM log_events WHERE party = ?{where}", [party, *known]).fetchone()
    return f"{last[:19]}Z"


def _cells(lines: Iterable[iv3.Line]) -> tuple[iv3.Line, ...]:
    """`lines` added up per (side, taakveld, categorie), zeros left out, in code order."""
    cells: dict[tuple[str, str, str], int] = {}
    for line in lines:
        key = (line.side, line.taakveld, line.categorie)
        cells[key] = cells.get(key, 0) + line.cents
    ordered = sorted(cells.items(), key=lambda c: (c[0][0], iv3.code_order(c[0][1]), iv3.code_order(c[0][2])))
    return tuple(iv3.Line(*key, cents) for key, cents in ordered if cents)


def _realised_from_log(db: ReadDB, party: str, last: int, organisation: bool, as_of: str) -> list[iv3.Line]:
    """Every realised line of the budget years up to `last`, from the events recorded by `as_of`."""
    where, known = recorded_by("recorded_at", as_of)
    with db.transaction() as cur:
        years = [y for (y,) in cur.execute(
            f"SELECT DISTINCT year FROM log_events WHERE party = ? AND year <= ?{where}", [party, last, *known]
        ).fetchall()]
    return [line for y in years for line in _from_log(db, party, y, JAARREKENING, organisation, as_of)[0]]


def _from_log(
    db: ReadDB, party: str, year: int, period: int, organisation: bool, as_of: str
) -> tuple[list[iv3.Line], bool]:
    """The lines of `period` from the events of the year recorded by `as_of`, and
    whether the year was closed by then."""
    where, known = recorded_by("recorded_at", as_of)
    with db.transaction() as cur:
        rows = cur.execute(
            f"SELECT effective_date, body FROM log_events WHERE party = ? AND year = ?{where} ORDER BY position",
            [party, year, *known],
        ).fetchall()
        allocations = cur.execute(
            f"SELECT body FROM log_events WHERE party = ? AND type = 'BudgetAllocated'{where} ORDER BY position",
            [party, *known],
        ).fetchall()
    events = [(date, orjson.loads(body)) for date, body in rows]
    source_of = iv3_sums.source_lookup(iv3_sums.first_sources(orjson.loads(body) for (body,) in allocations))
    if period == BEGROTING:
        mapped = (iv3.begroting(e, e.get("derived"), source_of=source_of) for _, e in events)
    else:
        last = f"{year}-{iv3_sums.QUARTER_END[period]}" if period in iv3_sums.QUARTER_END else None
        mapped = (
            iv3.lines(e, e.get("derived"), organisation=organisation, source_of=source_of)
            for date, e in events
            if last is None or date <= last
        )
    lines = [line for event_lines in mapped for line in event_lines]
    periods = [e["type"] == "YearClosed" for _, e in events if e["type"] in ("YearClosed", "YearReopened")]
    return lines, bool(periods) and periods[-1]


def rows(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A delivery as one table row per line, with its section (`side`): the CSV of /v1/iv3.
    `bedragCents` is `bedrag` back in cents, so the CSV keeps the ledger's whole numbers
    (and the Dutch CSV writes euros)."""
    return [
        {"side": side, "taakveld": line.get("taakveld"), "balanscode": line.get("balanscode"),
         "categorie": line.get("categorie"), "standper": line.get("standper"),
         "bedragCents": int(line["bedrag"].scaleb(5))}
        for side in (*iv3_cbs.SIDES, "balans_standen")
        for line in body["data"][side]
    ]
