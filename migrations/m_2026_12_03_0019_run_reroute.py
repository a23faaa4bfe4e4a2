"""A closure reroutes a run: a stop its vehicle can no longer reach round the closed roads
keeps its seat at the end of the run with the reason (`road_closed`), cleared when a later
reroute reaches it again. Exercise sandboxes holding a copy of the stops get the column."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.db import sql_migration

ID = "2026-12-03T00:00:19:000000"
VERSION = "1.38.0"
DESCRIPTION = "run stops: the reason a reroute could not reach a stop"

SQL = """
ALTER TABLE task_stop ADD COLUMN unreachable varchar(20)
    CHECK (unreachable IS NULL OR unreachable IN ('road_closed'));

DO $$
DECLARE sandbox text;
BEGIN
    FOR sandbox IN
        SELECT table_schema FROM information_schema.tables
        WHERE table_name = 'task_stop' AND table_schema LIKE 'ex\\_%'
    LOOP
        EXECUTE format(
            'ALTER TABLE %I.task_stop ADD COLUMN unreachable varchar(20) '
            'CHECK (unreachable IS NULL OR unreachable IN (''road_closed''))',
            sandbox
        );
    END LOOP;
END $$;
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
