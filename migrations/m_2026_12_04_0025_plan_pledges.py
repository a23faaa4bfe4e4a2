"""Community plans gain their assembly points (集合点) and the supplies their paired units
pledge (结对单位承诺物资): both parts of a plan version, written with it and never edited
(a change is a new version). A pledge names a partner unit and an item; the service checks
that the unit is paired with the plan's community. Existing sandboxes get the new tables
empty (`dispatch.exercises.catch_up`); a reset copies the real plans' parts."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.exercises.catch_up import catching_up_migration

ID = "2026-12-04T00:00:25:000000"
VERSION = "1.38.0"
DESCRIPTION = "community plans: assembly points and pledged supplies"

SQL = """
CREATE TABLE plan_assembly_point (
    id serial PRIMARY KEY,
    plan_id integer NOT NULL REFERENCES community_plan(id),
    seq integer NOT NULL,
    name varchar(80) NOT NULL,
    lat double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    note varchar(500),
    UNIQUE (plan_id, seq)
);

CREATE TABLE plan_pledge (
    id serial PRIMARY KEY,
    plan_id integer NOT NULL REFERENCES community_plan(id),
    seq integer NOT NULL,
    unit_id integer NOT NULL REFERENCES partner_unit(id),
    item varchar(20) NOT NULL REFERENCES item(code),
    quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 1000000),
    UNIQUE (plan_id, seq),
    UNIQUE (plan_id, unit_id, item)
);
CREATE INDEX plan_pledge_unit ON plan_pledge (unit_id);
"""


async def forwards() -> MigrationManager:
    return catching_up_migration(ID, DESCRIPTION, SQL)
