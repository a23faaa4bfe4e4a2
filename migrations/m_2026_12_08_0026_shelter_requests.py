"""A supply request may be for a shelter (安置点) of its community: the planner then places
the demand at the shelter, not at the community's committee, and a plan line names the
shelter it sends to, so runs stop there as a stop of their own. Both columns are nullable:
every request and line before this is a community's, as it was. Existing sandboxes get the
columns too (`dispatch.exercises.catch_up`)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.exercises.catch_up import catching_up_migration

ID = "2026-12-08T00:00:26:000000"
VERSION = "1.38.0"
DESCRIPTION = "supply requests and plan lines for a shelter"

SQL = """
ALTER TABLE supply_request ADD COLUMN shelter_id integer REFERENCES shelter(id);
CREATE INDEX supply_request_shelter ON supply_request (shelter_id, item)
    WHERE shelter_id IS NOT NULL;
ALTER TABLE plan_line ADD COLUMN shelter_id integer REFERENCES shelter(id);
"""


async def forwards() -> MigrationManager:
    return catching_up_migration(ID, DESCRIPTION, SQL)
