"""A plan line's explanation as a message: its code and params (with the names of the
depots it cites), so a page says it in the reader's language."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.db import sql_migration

ID = "2026-12-03T00:00:13:000000"
VERSION = "1.38.0"
DESCRIPTION = "plan lines: explanation code and params"

SQL = """
ALTER TABLE plan_line ADD COLUMN explained jsonb;
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
