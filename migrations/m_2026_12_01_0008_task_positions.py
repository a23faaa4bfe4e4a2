"""Task positions: where a team on its way was seen (GPS fixes from the squad's tablet)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.db import sql_migration

ID = "2026-12-01T00:00:08:000000"
VERSION = "1.38.0"
DESCRIPTION = "task positions: GPS fixes of tasks on their way"

SQL = """
CREATE TABLE task_position (
    id bigserial PRIMARY KEY,
    task bigint NOT NULL REFERENCES task(id),
    at timestamptz NOT NULL,
    lat double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    accuracy_m real CHECK (accuracy_m >= 0),
    next_node integer CHECK (next_node >= 0),
    off_route_m real CHECK (off_route_m >= 0),
    recorded_at timestamptz NOT NULL,
    recorded_by varchar(64) NOT NULL
);
CREATE INDEX task_position_latest ON task_position (task, at DESC, id DESC);

CREATE TRIGGER task_position_no_update BEFORE UPDATE OR DELETE ON task_position
    FOR EACH ROW EXECUTE FUNCTION refuse_rewrite();
CREATE TRIGGER task_position_no_truncate BEFORE TRUNCATE ON task_position
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_rewrite();
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
