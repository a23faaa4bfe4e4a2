"""The fleet: vehicles per depot (kind, lane class, capacity, crew needed, status, shift) and
their crews from the people registry."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.db import sql_migration

ID = "2026-12-03T00:00:12:000000"
VERSION = "1.38.0"
DESCRIPTION = "fleet: vehicles per depot and their crews"

# A built-in kind is its own lane class; a user-defined kind names one of the four, which is
# what routing (geo/vehicles.py) knows. A retired vehicle keeps its row (and its code), so
# what later refers to it still can; it leaves every list and its crew is released.
SQL = """
CREATE TABLE vehicle (
    id bigserial PRIMARY KEY,
    code varchar(20) NOT NULL UNIQUE,
    depot varchar(16) NOT NULL REFERENCES depot(code),
    kind varchar(30) NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{1,29}$'),
    lane_class varchar(10) NOT NULL CHECK (lane_class IN ('tricycle', 'car', 'van', 'truck')),
    name varchar(60),
    payload_kg double precision NOT NULL CHECK (payload_kg > 0 AND payload_kg <= 100000),
    volume_m3 double precision NOT NULL CHECK (volume_m3 > 0 AND volume_m3 <= 500),
    crew_needed integer NOT NULL CHECK (crew_needed BETWEEN 1 AND 10),
    status varchar(12) NOT NULL DEFAULT 'available'
        CHECK (status IN ('available', 'out', 'maintenance')),
    shift_start time,
    shift_end time,
    note varchar(500),
    source varchar(10) NOT NULL CHECK (source IN ('entered', 'import', 'demo')),
    created_at timestamptz NOT NULL,
    updated_at timestamptz,
    retired_at timestamptz,
    CHECK (kind NOT IN ('tricycle', 'car', 'van', 'truck') OR kind = lane_class),
    CHECK ((shift_start IS NULL) = (shift_end IS NULL)),
    CHECK (shift_start IS NULL OR shift_start <> shift_end)
);
CREATE INDEX vehicle_depot ON vehicle (depot) WHERE retired_at IS NULL;

CREATE TABLE vehicle_crew (
    id bigserial PRIMARY KEY,
    vehicle_id bigint NOT NULL REFERENCES vehicle(id),
    person_id integer NOT NULL REFERENCES person(id),
    role varchar(8) NOT NULL CHECK (role IN ('driver', 'crew')),
    assigned_at timestamptz NOT NULL,
    UNIQUE (person_id)
);
CREATE INDEX vehicle_crew_vehicle ON vehicle_crew (vehicle_id);
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
