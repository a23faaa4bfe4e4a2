"""Community activities (社区活动: weekend clean-ups, waste-sorting duty, patrols) with their
sign-ups and attendance, which count towards people's service hours.

Follows 0022 (exercise batches). Capacity is the database's: `signed_up` counts the sign-ups
in force, raised by a guarded UPDATE (`signed_up < capacity`) in the sign-up's transaction,
and a CHECK holds it within capacity even against a service bug. A person has one sign-up
row per activity (UNIQUE), cancelled or in force, which also carries their check-in and
check-out. Existing exercise sandboxes get the new tables (empty).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.exercises.catch_up import catching_up_migration

ID = "2026-12-04T00:00:24:000000"
VERSION = "1.38.0"
DESCRIPTION = "community activities: sign-up within capacity, attendance, service hours"

SQL = """
CREATE TABLE activity (
    id serial PRIMARY KEY,
    community varchar(12) NOT NULL REFERENCES community(code),
    street varchar(9) NOT NULL REFERENCES street(code),
    title varchar(120) NOT NULL,
    kind varchar(15) NOT NULL CHECK (kind IN ('clean_up', 'waste_sorting', 'patrol', 'other')),
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    place varchar(200) NOT NULL,
    capacity integer NOT NULL CHECK (capacity BETWEEN 1 AND 1000),
    signed_up integer NOT NULL DEFAULT 0 CHECK (signed_up >= 0 AND signed_up <= capacity),
    organiser_id integer NOT NULL REFERENCES person(id),
    note varchar(500),
    source varchar(10) NOT NULL CHECK (source IN ('entered', 'demo')),
    created_by varchar(100) NOT NULL,
    created_at timestamptz NOT NULL,
    CHECK (ends_at > starts_at AND ends_at <= starts_at + interval '24 hours')
);
CREATE INDEX activity_street_starts ON activity (street, starts_at);
CREATE INDEX activity_community_starts ON activity (community, starts_at);
CREATE INDEX activity_starts ON activity (starts_at);

CREATE TABLE activity_signup (
    id bigserial PRIMARY KEY,
    activity_id integer NOT NULL REFERENCES activity(id),
    person_id integer NOT NULL REFERENCES person(id),
    signed_up_at timestamptz NOT NULL,
    signed_up_by varchar(100) NOT NULL,
    cancelled_at timestamptz,
    checked_in_at timestamptz,
    checked_in_by varchar(100),
    checked_out_at timestamptz,
    checked_out_by varchar(100),
    UNIQUE (activity_id, person_id),
    CHECK (cancelled_at IS NULL OR checked_in_at IS NULL),
    CHECK (checked_out_at IS NULL
           OR (checked_in_at IS NOT NULL AND checked_out_at >= checked_in_at))
);
CREATE INDEX activity_signup_person ON activity_signup (person_id);
"""


async def forwards() -> MigrationManager:
    return catching_up_migration(ID, DESCRIPTION, SQL)
