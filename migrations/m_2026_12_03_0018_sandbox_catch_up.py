"""Exercise sandboxes made before a migration gain what it added to `public`: a drill
created before the fleet (0012) or the runs (0014, 0015) had no `vehicle`, `vehicle_crew`
or `task_stop` of its own — so it read the real fleet through the `search_path` — and no
`plan.runs`, `task.vehicle_id`, `task.depot` or `stock_transfer.stop_id`, so planning and
approval failed in it. Each sandbox gets the missing tables (empty, with their own
sequences, keys and triggers) and columns (`dispatch.exercises.catch_up`); a reset still
copies the real world anew. Safe to run again: it only adds what is missing."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.exercises.catch_up import catch_up_in_migration

ID = "2026-12-03T00:00:18:000000"
VERSION = "1.38.0"
DESCRIPTION = "exercise sandboxes: tables and columns added since they were copied"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="dispatch", description=DESCRIPTION)
    manager.add_raw(catch_up_in_migration)
    return manager
