"""Party branches (党支部) as records, their members, the care households they assist
(结对帮扶) and the visits they make; care households say whether a student lives there.

A person belongs to at most one branch (unique `person_id`), and a household has at most one
assistance in force (a partial unique index), so a coverage figure never counts one twice.
Exercise sandboxes made before get the new tables (empty) and the new column."""

import asyncpg
from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.db import engine
from dispatch.exercises.catch_up import catch_up_all

ID = "2026-12-04T00:00:20:000000"
VERSION = "1.38.0"
DESCRIPTION = "party branches, members, household assistance and visits"

SQL = """
ALTER TABLE care_household ADD COLUMN has_student boolean NOT NULL DEFAULT false;

CREATE TABLE party_branch (
    id serial PRIMARY KEY,
    code varchar(20) NOT NULL UNIQUE,
    name varchar(120) NOT NULL UNIQUE,
    kind varchar(10) NOT NULL CHECK (kind IN ('employer', 'two_new')),
    unit_id integer REFERENCES partner_unit(id),
    organisation varchar(120),
    secretary_id integer REFERENCES person(id),
    source varchar(10) NOT NULL CHECK (source IN ('entered', 'import', 'demo')),
    created_at timestamptz NOT NULL,
    updated_at timestamptz,
    CHECK (kind <> 'employer' OR unit_id IS NOT NULL),
    CHECK (unit_id IS NOT NULL OR organisation IS NOT NULL)
);

CREATE TABLE branch_member (
    id serial PRIMARY KEY,
    branch_id integer NOT NULL REFERENCES party_branch(id),
    person_id integer NOT NULL REFERENCES person(id),
    joined_at timestamptz NOT NULL,
    UNIQUE (person_id)
);
CREATE INDEX branch_member_branch ON branch_member (branch_id);

CREATE TABLE assistance (
    id serial PRIMARY KEY,
    branch_id integer NOT NULL REFERENCES party_branch(id),
    household_id integer NOT NULL REFERENCES care_household(id),
    starts_on date NOT NULL,
    ends_on date,
    pledge varchar(500),
    created_at timestamptz NOT NULL,
    updated_at timestamptz,
    CHECK (ends_on IS NULL OR ends_on >= starts_on)
);
CREATE UNIQUE INDEX assistance_in_force ON assistance (household_id) WHERE ends_on IS NULL;
CREATE INDEX assistance_branch ON assistance (branch_id);

CREATE TABLE assistance_visit (
    id bigserial PRIMARY KEY,
    assistance_id integer NOT NULL REFERENCES assistance(id),
    visited_on date NOT NULL,
    kind varchar(10) NOT NULL
        CHECK (kind IN ('visit', 'supplies', 'tutoring', 'repair', 'other')),
    hours double precision NOT NULL CHECK (hours > 0 AND hours <= 24),
    note varchar(500),
    created_at timestamptz NOT NULL
);
CREATE INDEX assistance_visit_day ON assistance_visit (visited_on);
CREATE INDEX assistance_visit_assistance ON assistance_visit (assistance_id);

CREATE TABLE visit_person (
    visit_id bigint NOT NULL REFERENCES assistance_visit(id),
    person_id integer NOT NULL REFERENCES person(id),
    PRIMARY KEY (visit_id, person_id)
);
CREATE INDEX visit_person_person ON visit_person (person_id);
"""


async def _apply(conn: asyncpg.Connection) -> None:
    await conn.execute(SQL)
    await catch_up_all(conn)


async def _run() -> None:
    """The tables and the sandboxes' catch-up in one transaction."""
    db = engine()
    current = db.current_transaction.get()
    if current is not None:
        await _apply(current.connection)
        return
    async with db.transaction() as txn:
        await _apply(txn.connection)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="dispatch", description=DESCRIPTION)
    manager.add_raw(_run)
    return manager
