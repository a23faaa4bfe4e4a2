"""Task integrity: which person a user is (so a volunteer works only their own tasks),
tasks that allow their people to be on other tasks too, and ledger references the
database itself holds to existing rows."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.db import sql_migration

ID = "2026-12-03T00:00:10:000000"
VERSION = "1.38.0"
DESCRIPTION = "task integrity: user's person, concurrent tasks, ledger reference keys"

# NOT VALID: rows written before this migration are not rechecked (the ledger is
# append-only, so an old bad reference cannot be corrected); every new row is.
SQL = """
ALTER TABLE app_user ADD COLUMN person_id integer REFERENCES person(id);
CREATE UNIQUE INDEX app_user_one_per_person ON app_user (person_id) WHERE person_id IS NOT NULL;

ALTER TABLE task ADD COLUMN concurrent boolean NOT NULL DEFAULT false;
-- drills made before this migration hold their own copy of the task table
DO $$
DECLARE world text;
BEGIN
    FOR world IN SELECT table_schema FROM information_schema.tables
                 WHERE table_name = 'task' AND table_schema LIKE 'ex\\_%' LOOP
        EXECUTE format('ALTER TABLE %I.task ADD COLUMN IF NOT EXISTS concurrent boolean '
                       'NOT NULL DEFAULT false', world);
    END LOOP;
END $$;

ALTER TABLE stock_movement
    ADD CONSTRAINT stock_movement_incident_fk FOREIGN KEY (incident_id)
        REFERENCES incident(id) NOT VALID,
    ADD CONSTRAINT stock_movement_task_fk FOREIGN KEY (task_id) REFERENCES task(id) NOT VALID,
    ADD CONSTRAINT stock_movement_request_fk FOREIGN KEY (request_id)
        REFERENCES supply_request(id) NOT VALID;
ALTER TABLE stock_transfer
    ADD CONSTRAINT stock_transfer_incident_fk FOREIGN KEY (incident_id)
        REFERENCES incident(id) NOT VALID,
    ADD CONSTRAINT stock_transfer_task_fk FOREIGN KEY (task_id) REFERENCES task(id) NOT VALID,
    ADD CONSTRAINT stock_transfer_request_fk FOREIGN KEY (request_id)
        REFERENCES supply_request(id) NOT VALID;
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
