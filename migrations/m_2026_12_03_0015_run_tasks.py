"""Run tasks: an approved plan's delivery run is one task for one vehicle and its crew, with
its stops in order (what is unloaded where, when it is due, who signed for it); each
transfer of the run belongs to one stop and is received when that stop is completed."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.db import sql_migration

ID = "2026-12-03T00:00:15:000000"
VERSION = "1.38.0"
DESCRIPTION = "run tasks: a delivery task per vehicle run, its stops and their receipts"

# A stop is done once, with who received it; a shortfall has its reason on the stop (and on
# each short transfer, as the stock ledger keeps it).
SQL = """
ALTER TABLE task ADD COLUMN vehicle_id bigint REFERENCES vehicle(id);
ALTER TABLE task ADD COLUMN depot varchar(16) REFERENCES depot(code);

CREATE TABLE task_stop (
    id bigserial PRIMARY KEY,
    task bigint NOT NULL REFERENCES task(id),
    seq integer NOT NULL CHECK (seq >= 1),
    trip integer NOT NULL CHECK (trip >= 1),
    community varchar(12) NOT NULL REFERENCES community(code),
    street varchar(9) NOT NULL REFERENCES street(code),
    eta_at timestamptz NOT NULL,
    depart_at timestamptz NOT NULL,
    kg double precision NOT NULL CHECK (kg >= 0),
    m3 double precision NOT NULL CHECK (m3 >= 0),
    status varchar(8) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
    receiver varchar(60),
    shortfall_reason varchar(500),
    done_at timestamptz,
    done_by varchar(64),
    UNIQUE (task, seq),
    CHECK (status <> 'done' OR (receiver IS NOT NULL AND done_at IS NOT NULL))
);
CREATE INDEX task_stop_task ON task_stop (task, seq);

ALTER TABLE stock_transfer ADD COLUMN stop_id bigint REFERENCES task_stop(id);
CREATE INDEX stock_transfer_stop ON stock_transfer (stop_id) WHERE stop_id IS NOT NULL;
CREATE INDEX stock_transfer_task ON stock_transfer (task_id) WHERE task_id IS NOT NULL;
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
