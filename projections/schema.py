"""The read-model tables, valid SQL on both SQLite and PostgreSQL.

Two kinds of table: current figures (`budget_lines`) for fast reads, and movements
tagged with position, recorded time and effective date (`budget_movements`,
`reserve_movements`) for as-of reads and trails. Everything here is rebuilt from the
log by `ledger rebuild`; nothing depends on the wall clock at projection time.
"""

from __future__ import annotations

from projections.db import ReadDB

TRACKING = "projection_tracking"

TABLES = {
    TRACKING: "name TEXT PRIMARY KEY, position BIGINT NOT NULL",
    "log_events": (
        "position BIGINT PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, "
        "party TEXT NOT NULL, year INTEGER NOT NULL, effective_date TEXT NOT NULL, "
        "recorded_at TEXT NOT NULL, posted_by TEXT NOT NULL, body TEXT NOT NULL"
    ),
    "parties": "code TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, fund_holder TEXT",
    "memberships": (
        "organisation TEXT NOT NULL, member TEXT NOT NULL, joined TEXT NOT NULL, left_on TEXT, "
        "PRIMARY KEY (organisation, member, joined)"
    ),
    "budget_lines": (
        "party TEXT NOT NULL, year INTEGER NOT NULL, budget TEXT NOT NULL, sub_budget TEXT NOT NULL, "
        "allocated BIGINT NOT NULL, income BIGINT NOT NULL, spent BIGINT NOT NULL, committed BIGINT NOT NULL, "
        "PRIMARY KEY (party, year, budget, sub_budget)"
    ),
    "budget_movements": (
        "position BIGINT NOT NULL, party TEXT NOT NULL, year INTEGER NOT NULL, budget TEXT NOT NULL, "
        "sub_budget TEXT NOT NULL, effective_date TEXT NOT NULL, recorded_at TEXT NOT NULL, "
        "allocated BIGINT NOT NULL, income BIGINT NOT NULL, spent BIGINT NOT NULL, committed BIGINT NOT NULL"
    ),
    "reserves": (
        "party TEXT NOT NULL, reserve TEXT NOT NULL, purpose TEXT NOT NULL, revolving INTEGER NOT NULL, "
        "established TEXT NOT NULL, PRIMARY KEY (party, reserve)"
    ),
    "reserve_movements": (
        "position BIGINT NOT NULL, party TEXT NOT NULL, reserve TEXT NOT NULL, effective_date TEXT NOT NULL, "
        "recorded_at TEXT NOT NULL, added BIGINT NOT NULL, withdrawn BIGINT NOT NULL, reflux BIGINT NOT NULL"
    ),
}

INDEXES = [
    "CREATE INDEX IF NOT EXISTS log_events_party ON log_events (party, position)",
    "CREATE INDEX IF NOT EXISTS log_events_recorded ON log_events (recorded_at)",
    "CREATE INDEX IF NOT EXISTS budget_movements_line ON budget_movements (party, year, budget, position)",
    "CREATE INDEX IF NOT EXISTS reserve_movements_reserve ON reserve_movements (party, reserve, effective_date)",
    "CREATE INDEX IF NOT EXISTS memberships_member ON memberships (member)",
]

# Tables a rebuild empties (all but the tracking row, which it resets).
READ_MODEL_TABLES = [name for name in TABLES if name != TRACKING]


def create_schema(db: ReadDB, projection: str) -> None:
    with db.transaction(write=True) as cur:
        if db.postgres:  # workers starting together must not race on CREATE TABLE
            cur.execute("SELECT pg_advisory_xact_lock(7243001)")
        for name, columns in TABLES.items():
            cur.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
        for statement in INDEXES:
            cur.execute(statement)
        cur.execute(
            f"INSERT INTO {TRACKING} (name, position) VALUES (?, 0) ON CONFLICT (name) DO NOTHING",
            (projection,),
        )
