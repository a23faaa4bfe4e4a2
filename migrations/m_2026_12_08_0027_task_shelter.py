"""An evacuation task names its shelter (安置点): where the people it moves are taken.
A plan's activation names one of the plan's shelters, a task made by hand names the one
the commander chose or the nearest open one with room. Existing sandboxes get the column
(`dispatch.exercises.catch_up`), empty."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.exercises.catch_up import catching_up_migration

ID = "2026-12-08T00:00:27:000000"
VERSION = "1.38.0"
DESCRIPTION = "tasks: an evacuation's shelter"

SQL = """
ALTER TABLE task ADD COLUMN shelter_id integer REFERENCES shelter(id);
ALTER TABLE task ADD CONSTRAINT task_shelter_evacuation
    CHECK (shelter_id IS NULL OR kind = 'evacuation');
"""


async def forwards() -> MigrationManager:
    return catching_up_migration(ID, DESCRIPTION, SQL)
