"""Batch comparisons started from the drill page: one row per batch of seeded, paired
replays, its progress as the server process running it writes it, and its summary. One
batch runs at a time (they take both cores): a partial unique index says so."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.db import sql_migration

ID = "2026-12-04T00:00:22:000000"
VERSION = "1.38.0"
DESCRIPTION = "exercise batches: paired seeded replays run in the background"

SQL = """
CREATE TABLE exercise_batch (
    id serial PRIMARY KEY,
    scenario varchar(200) NOT NULL,
    title varchar(200) NOT NULL,
    runs integer NOT NULL CHECK (runs BETWEEN 1 AND 100),
    policies varchar(20)[] NOT NULL,
    first_seed integer NOT NULL,
    jobs integer NOT NULL CHECK (jobs BETWEEN 1 AND 4),
    status varchar(10) NOT NULL CHECK (status IN ('running', 'done', 'failed', 'stopped')),
    done integer NOT NULL DEFAULT 0,
    total integer NOT NULL,
    stop_requested boolean NOT NULL DEFAULT false,
    summary jsonb,
    error varchar(500),
    created_by varchar(100) NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    finished_at timestamptz
);
CREATE UNIQUE INDEX exercise_batch_one_running ON exercise_batch ((true))
    WHERE status = 'running';
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
