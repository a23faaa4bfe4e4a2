"""12345 tickets nearly due: the sweep marks a ticket once per deadline when it turns nearly
due (a quarter of its window or less left, as every view says `nearly_due`), as it marks
it overdue. Exercise sandboxes holding a copy of the tickets get the same columns."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.db import sql_migration

ID = "2026-12-03T00:00:17:000000"
VERSION = "1.38.0"
DESCRIPTION = "hotline: nearly-due marks, announced once per deadline"

SQL = """
ALTER TABLE hotline_ticket ADD COLUMN response_nearly_due_at timestamptz;
ALTER TABLE hotline_ticket ADD COLUMN resolution_nearly_due_at timestamptz;

DO $$
DECLARE sandbox text;
BEGIN
    FOR sandbox IN
        SELECT table_schema FROM information_schema.tables
        WHERE table_name = 'hotline_ticket' AND table_schema LIKE 'ex\\_%'
    LOOP
        EXECUTE format(
            'ALTER TABLE %I.hotline_ticket ADD COLUMN response_nearly_due_at timestamptz, '
            'ADD COLUMN resolution_nearly_due_at timestamptz',
            sandbox
        );
    END LOOP;
END $$;
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
