"""The read-model tables, valid SQL on both SQLite and PostgreSQL.

Two kinds of table: current figures (`budget_lines`) for fast reads, and movements
tagged with position, recorded time and effective date (`budget_movements`,
`reserve_movements`) for as-of reads and trails. Everything here is rebuilt from the
log by `ledger rebuild`; nothing depends on the wall clock at projection time.
"""

from __future__ import annotations

from projections.db import Cursor, ReadDB

TRACKING = "projection_tracking"
VERSION_TABLE = "read_model_version"
# Raise when a table changes: a read model of another version is dropped and rebuilt
# from the log when the projector starts (it holds nothing the log does not).
SCHEMA_VERSION = 10

TABLES = {
    TRACKING: "name TEXT PRIMARY KEY, position BIGINT NOT NULL",
    "log_events": (
        "position BIGINT PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, "
        "party TEXT NOT NULL, year INTEGER NOT NULL, effective_date TEXT NOT NULL, "
        "recorded_at TEXT NOT NULL, posted_by TEXT NOT NULL, body TEXT NOT NULL, client_ref TEXT"
    ),
    "parties": "code TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, fund_holder TEXT, cbs_number TEXT",
    "memberships": (
        "organisation TEXT NOT NULL, member TEXT NOT NULL, joined TEXT NOT NULL, left_on TEXT, "
        "joined_recorded TEXT NOT NULL, left_recorded TEXT, PRIMARY KEY (organisation, member, joined)"
    ),
    "budget_lines": (
        "party TEXT NOT NULL, year INTEGER NOT NULL, budget TEXT NOT NULL, sub_budget TEXT NOT NULL, "
        "allocated BIGINT NOT NULL, income BIGINT NOT NULL, spent BIGINT NOT NULL, committed BIGINT NOT NULL, "
        "amended BIGINT NOT NULL, incidental BIGINT NOT NULL, voorlopig INTEGER, "
        "PRIMARY KEY (party, year, budget, sub_budget)"
    ),
    "budget_movements": (
        "position BIGINT NOT NULL, party TEXT NOT NULL, year INTEGER NOT NULL, budget TEXT NOT NULL, "
        "sub_budget TEXT NOT NULL, effective_date TEXT NOT NULL, recorded_at TEXT NOT NULL, "
        "allocated BIGINT NOT NULL, income BIGINT NOT NULL, spent BIGINT NOT NULL, committed BIGINT NOT NULL, "
        "amended BIGINT NOT NULL, incidental BIGINT NOT NULL, voorlopig INTEGER"
    ),
    "reserves": (
        "party TEXT NOT NULL, reserve TEXT NOT NULL, purpose TEXT NOT NULL, revolving INTEGER NOT NULL, "
        "established TEXT NOT NULL, PRIMARY KEY (party, reserve)"
    ),
    "reserve_movements": (
        "position BIGINT NOT NULL, party TEXT NOT NULL, reserve TEXT NOT NULL, effective_date TEXT NOT NULL, "
        "recorded_at TEXT NOT NULL, added BIGINT NOT NULL, withdrawn BIGINT NOT NULL, reflux BIGINT NOT NULL"
    ),
    "winst_movements": (
        "position BIGINT NOT NULL, party TEXT NOT NULL, year INTEGER NOT NULL, source TEXT, destination TEXT, "
        "member TEXT, recorded_at TEXT NOT NULL, realised BIGINT NOT NULL, reinvested BIGINT NOT NULL"
    ),
    "organisation_charges": (
        "position BIGINT NOT NULL, organisation TEXT NOT NULL, year INTEGER NOT NULL, unit TEXT NOT NULL, "
        "recorded_at TEXT NOT NULL, cents BIGINT NOT NULL, usage TEXT"
    ),
    # Each commitment's figures as events move them; its registration row holds its category.
    "commitment_movements": (
        "position BIGINT NOT NULL, party TEXT NOT NULL, commitment_id TEXT NOT NULL, year INTEGER NOT NULL, "
        "budget TEXT NOT NULL, sub_budget TEXT NOT NULL, category TEXT, recorded_at TEXT NOT NULL, "
        "registered BIGINT NOT NULL, used BIGINT NOT NULL, released BIGINT NOT NULL"
    ),
    # Advances invoiced to and paid by an organisation's members (voorschotten), per event.
    "contributions": (
        "position BIGINT NOT NULL, organisation TEXT NOT NULL, year INTEGER NOT NULL, member TEXT NOT NULL, "
        "recorded_at TEXT NOT NULL, invoiced BIGINT NOT NULL, paid BIGINT NOT NULL"
    ),
    # Kept sums of organisation_charges, so a current cost split reads a few rows
    # (projections/charge_sums.py): per unit, its cents and non-zero charges, and those
    # that go by the key under profijt; per member, its exact profijt share (hex fraction).
    "organisation_charge_sums": (
        "organisation TEXT NOT NULL, year INTEGER NOT NULL, unit TEXT NOT NULL, cents BIGINT NOT NULL, "
        "nonzero INTEGER NOT NULL, profijt_key_cents BIGINT NOT NULL, profijt_key_nonzero INTEGER NOT NULL, "
        "PRIMARY KEY (organisation, year, unit)"
    ),
    "organisation_profijt_shares": (
        "organisation TEXT NOT NULL, year INTEGER NOT NULL, member TEXT NOT NULL, numerator TEXT NOT NULL, "
        "denominator TEXT NOT NULL, PRIMARY KEY (organisation, year, member)"
    ),
    # Kept sums of the Iv3 matrix, so a current Iv3 report reads a few rows
    # (projections/iv3_sums.py): cents per cell and part of the year (`bucket`), a
    # revision's cents per revised line (placed by its first allocation's source when
    # read), the first allocations' sources, and the closed years.
    "iv3_cells": (
        "party TEXT NOT NULL, year INTEGER NOT NULL, bucket INTEGER NOT NULL, applies TEXT NOT NULL, "
        "side TEXT NOT NULL, taakveld TEXT NOT NULL, categorie TEXT NOT NULL, cents BIGINT NOT NULL, "
        "PRIMARY KEY (party, year, bucket, applies, side, taakveld, categorie)"
    ),
    "iv3_revisions": (
        "party TEXT NOT NULL, year INTEGER NOT NULL, bucket INTEGER NOT NULL, line_year INTEGER NOT NULL, "
        "budget TEXT NOT NULL, sub_budget TEXT NOT NULL, cents BIGINT NOT NULL, "
        "PRIMARY KEY (party, year, bucket, line_year, budget, sub_budget)"
    ),
    "iv3_first_sources": (
        "party TEXT NOT NULL, year INTEGER NOT NULL, budget TEXT NOT NULL, sub_budget TEXT NOT NULL, "
        "source TEXT NOT NULL, PRIMARY KEY (party, year, budget, sub_budget)"
    ),
    "iv3_closed": "party TEXT NOT NULL, year INTEGER NOT NULL, PRIMARY KEY (party, year)",
    "allocation_keys": (
        "position BIGINT PRIMARY KEY, organisation TEXT NOT NULL, year INTEGER NOT NULL, basis TEXT NOT NULL, "
        "policy TEXT NOT NULL, weights TEXT NOT NULL, recorded_at TEXT NOT NULL"
    ),
    "placements": (
        "party TEXT NOT NULL, placement_id TEXT NOT NULL, kind TEXT NOT NULL, hours TEXT NOT NULL, "
        "started TEXT NOT NULL, started_recorded TEXT NOT NULL, ended TEXT, ended_recorded TEXT, "
        "PRIMARY KEY (party, placement_id)"
    ),
    "placement_targets": (
        "position BIGINT PRIMARY KEY, party TEXT NOT NULL, year INTEGER NOT NULL, kind TEXT NOT NULL, "
        "places TEXT NOT NULL, binding INTEGER NOT NULL, recorded_at TEXT NOT NULL"
    ),
    "outflows": (
        "position BIGINT NOT NULL, party TEXT NOT NULL, year INTEGER NOT NULL, extent TEXT NOT NULL, "
        "recorded_at TEXT NOT NULL, clients INTEGER NOT NULL, avoided BIGINT NOT NULL"
    ),
    "subsidies": (
        "party TEXT NOT NULL, subsidy_id TEXT NOT NULL, instrument TEXT NOT NULL, start_date TEXT NOT NULL, "
        "end_date TEXT, granted_recorded TEXT NOT NULL, ended_on TEXT, ended_recorded TEXT, "
        "PRIMARY KEY (party, subsidy_id)"
    ),
    "journal": (
        "position BIGINT NOT NULL, party TEXT NOT NULL, year INTEGER NOT NULL, account TEXT NOT NULL, "
        "recorded_at TEXT NOT NULL, debit BIGINT NOT NULL, credit BIGINT NOT NULL"
    ),
}

INDEXES = [
    "CREATE INDEX IF NOT EXISTS log_events_party ON log_events (party, position)",
    "CREATE INDEX IF NOT EXISTS log_events_recorded ON log_events (recorded_at)",
    "CREATE INDEX IF NOT EXISTS log_events_party_year ON log_events (party, year, position)",
    # a party's registration, found without reading the rest of its log (queries.party_kind)
    "CREATE INDEX IF NOT EXISTS log_events_party_type ON log_events (party, type, position)",
    # a client's events, by the pseudonym of its clientRef (GET /v1/events?clientRef=)
    "CREATE INDEX IF NOT EXISTS log_events_client ON log_events (party, client_ref, position)",
    "CREATE INDEX IF NOT EXISTS budget_movements_line ON budget_movements (party, year, budget, position)",
    "CREATE INDEX IF NOT EXISTS reserve_movements_reserve ON reserve_movements (party, reserve, effective_date)",
    "CREATE INDEX IF NOT EXISTS memberships_member ON memberships (member)",
    "CREATE INDEX IF NOT EXISTS winst_movements_party ON winst_movements (party, year)",
    "CREATE INDEX IF NOT EXISTS organisation_charges_year ON organisation_charges (organisation, year)",
    "CREATE INDEX IF NOT EXISTS contributions_year ON contributions (organisation, year)",
    "CREATE INDEX IF NOT EXISTS commitment_movements_party ON commitment_movements (party, commitment_id)",
    "CREATE INDEX IF NOT EXISTS allocation_keys_year ON allocation_keys (organisation, year)",
    "CREATE INDEX IF NOT EXISTS outflows_party ON outflows (party, year)",
    "CREATE INDEX IF NOT EXISTS journal_party ON journal (party, account)",
    "CREATE INDEX IF NOT EXISTS journal_position ON journal (position)",
]

# Tables a rebuild empties (all but the tracking row, which it resets).
READ_MODEL_TABLES = [name for name in TABLES if name != TRACKING]


def index_names() -> list[str]:
    """The secondary indexes by name (a rebuild drops them and builds them after the rows)."""
    return [statement.split(" ON ")[0].split()[-1] for statement in INDEXES]


def create_indexes(cur: Cursor, postgres: bool) -> None:
    """Create the secondary indexes that are missing, and no others: PostgreSQL's
    CREATE INDEX takes a SHARE lock on its table even when IF NOT EXISTS finds the
    index, which stalls every writer of that table (and deadlocked a starting worker
    against another's inline projection)."""
    existing = _existing_indexes(cur, postgres)
    for name, statement in zip(index_names(), INDEXES, strict=True):
        if name not in existing:
            cur.execute(statement)


def _existing_indexes(cur: Cursor, postgres: bool) -> set[str]:
    if postgres:
        rows = cur.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()").fetchall()
    else:
        rows = cur.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    return {row[0] for row in rows}


def create_schema(db: ReadDB, projection: str) -> None:
    """Create the read model, or drop and recreate one of another version (the
    projector then rebuilds it from position 0)."""
    with db.transaction(write=True) as cur:
        if db.postgres:  # workers starting together must not race on CREATE TABLE
            cur.execute("SELECT pg_advisory_xact_lock(7243001)")
            # Then the tracking row, before any table: every projecting transaction
            # takes its locks in that order (projections/runner.py), so a process
            # starting beside a worker that projects its posts waits, never deadlocks.
            if cur.execute("SELECT to_regclass(?)", (TRACKING,)).fetchone() != (None,):
                cur.execute(f"SELECT position FROM {TRACKING} WHERE name = ? FOR UPDATE", (projection,))
        cur.execute(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version INTEGER NOT NULL)")
        row = cur.execute(f"SELECT version FROM {VERSION_TABLE}").fetchone()
        if row is None or row[0] != SCHEMA_VERSION:
            for name in TABLES:
                cur.execute(f"DROP TABLE IF EXISTS {name}")
            cur.execute(f"DELETE FROM {VERSION_TABLE}")
            cur.execute(f"INSERT INTO {VERSION_TABLE} (version) VALUES (?)", (SCHEMA_VERSION,))
        for name, columns in TABLES.items():
            cur.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
        create_indexes(cur, db.postgres)
        cur.execute(
            f"INSERT INTO {TRACKING} (name, position) VALUES (?, 0) ON CONFLICT (name) DO NOTHING",
            (projection,),
        )
