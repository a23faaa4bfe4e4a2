"""A plan's delivery runs: per sending depot, its vehicles' trips and stops, and what is
left unserved with why (computed with the plan, shown before approval)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.db import sql_migration

ID = "2026-12-03T00:00:14:000000"
VERSION = "1.38.0"
DESCRIPTION = "plans: delivery runs"

SQL = """
ALTER TABLE plan ADD COLUMN runs jsonb;
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
