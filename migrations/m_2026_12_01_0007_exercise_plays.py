"""Exercise plays: the state of a drill's live play, which every server process reads."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.db import sql_migration

ID = "2026-12-01T00:00:07:000000"
VERSION = "1.38.0"
DESCRIPTION = "exercise plays: live drills known to every worker"

SQL = """
CREATE TABLE exercise_play (
    exercise integer PRIMARY KEY REFERENCES exercise (id),
    owner varchar(120) NOT NULL,
    status varchar(10) NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'stopped')),
    heartbeat_at timestamptz NOT NULL,
    sim_time timestamptz,
    stop_requested boolean NOT NULL DEFAULT false,
    snapshot jsonb NOT NULL
);
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
