"""Exercises: drills and replays, each with its own schema `ex_<id>` (a sandbox copy)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.db import sql_migration

ID = "2026-11-27T00:00:06:000000"
VERSION = "1.38.0"
DESCRIPTION = "exercises: drill and replay sandboxes"

SQL = """
CREATE TABLE exercise (
    id serial PRIMARY KEY,
    name varchar(100) NOT NULL,
    kind varchar(10) NOT NULL CHECK (kind IN ('drill', 'replay')),
    schema_name varchar(63) NOT NULL UNIQUE CHECK (schema_name ~ '^ex_[0-9]+$'),
    status varchar(10) NOT NULL CHECK (status IN ('active', 'deleted')),
    created_at timestamptz NOT NULL,
    created_by varchar(64) NOT NULL,
    scenario varchar(200),
    seed integer,
    reset_at timestamptz,
    deleted_at timestamptz,
    CHECK ((status = 'deleted') = (deleted_at IS NOT NULL))
);
CREATE INDEX exercise_status ON exercise (status);
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
