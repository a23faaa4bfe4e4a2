"""Preparedness: shelters (安置点) with their intake register, community emergency plans
(应急工作预案, versioned, with hazards, roles, shelters and task templates), the record
of each plan's activation by an incident and the call-outs of its roles. Existing exercise
sandboxes get the new tables empty (`dispatch.exercises.catch_up`), so a drill never reads
the real ones."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.exercises.catch_up import catching_up_migration

ID = "2026-12-04T00:00:21:000000"
VERSION = "1.38.0"
DESCRIPTION = "preparedness: shelters, community emergency plans, activations"

# Occupancy never exceeds capacity: the check holds it even against a service bug; intake
# raises it with a guarded UPDATE (occupancy + n <= capacity) in one statement.
SQL = """
CREATE TABLE shelter (
    id serial PRIMARY KEY,
    code varchar(20) NOT NULL UNIQUE,
    name varchar(80) NOT NULL,
    community varchar(12) NOT NULL REFERENCES community(code),
    street varchar(9) NOT NULL REFERENCES street(code),
    lat double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    capacity integer NOT NULL CHECK (capacity BETWEEN 1 AND 100000),
    occupancy integer NOT NULL DEFAULT 0 CHECK (occupancy >= 0 AND occupancy <= capacity),
    heating boolean NOT NULL DEFAULT false,
    accessible boolean NOT NULL DEFAULT false,
    medical boolean NOT NULL DEFAULT false,
    status varchar(8) NOT NULL DEFAULT 'ready'
        CHECK (status IN ('ready', 'open', 'full', 'closed')),
    source varchar(10) NOT NULL CHECK (source IN ('entered', 'demo')),
    created_at timestamptz NOT NULL,
    updated_at timestamptz,
    CHECK (status <> 'full' OR occupancy = capacity)
);
CREATE INDEX shelter_street ON shelter (street);

CREATE TABLE shelter_registration (
    id bigserial PRIMARY KEY,
    shelter_id integer NOT NULL REFERENCES shelter(id),
    household_id integer REFERENCES care_household(id),
    people integer NOT NULL CHECK (people BETWEEN 1 AND 100),
    needs varchar(300),
    registered_at timestamptz NOT NULL,
    registered_by varchar(50) NOT NULL,
    left_at timestamptz
);
CREATE INDEX shelter_registration_shelter ON shelter_registration (shelter_id)
    WHERE left_at IS NULL;
-- a household is in one shelter at a time
CREATE UNIQUE INDEX shelter_registration_one_household ON shelter_registration (household_id)
    WHERE left_at IS NULL AND household_id IS NOT NULL;

CREATE TABLE community_plan (
    id serial PRIMARY KEY,
    community varchar(12) NOT NULL REFERENCES community(code),
    street varchar(9) NOT NULL REFERENCES street(code),
    version integer NOT NULL CHECK (version >= 1),
    title varchar(200) NOT NULL,
    status varchar(12) NOT NULL CHECK (status IN ('draft', 'approved', 'superseded')),
    source varchar(10) NOT NULL CHECK (source IN ('entered', 'demo')),
    created_at timestamptz NOT NULL,
    created_by varchar(50) NOT NULL,
    approved_at timestamptz,
    approved_by varchar(50),
    superseded_at timestamptz,
    UNIQUE (community, version),
    CHECK ((status = 'draft') = (approved_at IS NULL))
);
CREATE UNIQUE INDEX community_plan_one_approved ON community_plan (community)
    WHERE status = 'approved';

CREATE TABLE plan_hazard (
    id serial PRIMARY KEY,
    plan_id integer NOT NULL REFERENCES community_plan(id),
    type varchar(20) NOT NULL CHECK (type IN ('rainstorm', 'fire', 'earthquake', 'heatwave',
        'snow_ice', 'public_health', 'utility_outage', 'building_collapse')),
    min_level varchar(3) NOT NULL CHECK (min_level IN ('I', 'II', 'III', 'IV')),
    UNIQUE (plan_id, type)
);

CREATE TABLE plan_role (
    id serial PRIMARY KEY,
    plan_id integer NOT NULL REFERENCES community_plan(id),
    seq integer NOT NULL,
    role varchar(60) NOT NULL,
    holder_kind varchar(12) NOT NULL
        CHECK (holder_kind IN ('person', 'team', 'unit', 'street_squad')),
    holder_id integer NOT NULL,
    deputy_kind varchar(12) NOT NULL
        CHECK (deputy_kind IN ('person', 'team', 'unit', 'street_squad')),
    deputy_id integer NOT NULL,
    UNIQUE (plan_id, seq),
    CHECK (holder_kind <> deputy_kind OR holder_id <> deputy_id)
);

CREATE TABLE plan_shelter (
    id serial PRIMARY KEY,
    plan_id integer NOT NULL REFERENCES community_plan(id),
    shelter_id integer NOT NULL REFERENCES shelter(id),
    UNIQUE (plan_id, shelter_id)
);

CREATE TABLE plan_task (
    id serial PRIMARY KEY,
    plan_id integer NOT NULL REFERENCES community_plan(id),
    seq integer NOT NULL,
    kind varchar(20) NOT NULL CHECK (kind IN ('door_check', 'evacuation', 'guard',
        'delivery_support')),
    people integer NOT NULL CHECK (people BETWEEN 1 AND 500),
    skills varchar(40)[] NOT NULL DEFAULT '{}',
    minutes integer NOT NULL CHECK (minutes BETWEEN 1 AND 10080),
    note varchar(500),
    UNIQUE (plan_id, seq)
);

CREATE TABLE plan_activation (
    id bigserial PRIMARY KEY,
    plan_id integer NOT NULL REFERENCES community_plan(id),
    incident bigint NOT NULL REFERENCES incident(id),
    community varchar(12) NOT NULL REFERENCES community(code),
    street varchar(9) NOT NULL REFERENCES street(code),
    tasks bigint[] NOT NULL DEFAULT '{}',
    shelters integer[] NOT NULL DEFAULT '{}',
    activated_at timestamptz NOT NULL,
    activated_by varchar(50) NOT NULL,
    UNIQUE (plan_id, incident)
);
CREATE INDEX plan_activation_incident ON plan_activation (incident);

-- one call-out per plan role on activation, to its holder; answered once (sent -> one end)
CREATE TABLE plan_callout (
    id bigserial PRIMARY KEY,
    activation_id bigint NOT NULL REFERENCES plan_activation(id),
    incident bigint NOT NULL REFERENCES incident(id),
    community varchar(12) NOT NULL REFERENCES community(code),
    street varchar(9) NOT NULL REFERENCES street(code),
    role varchar(60) NOT NULL,
    recipient_kind varchar(12) NOT NULL
        CHECK (recipient_kind IN ('person', 'team', 'unit', 'street_squad')),
    recipient_id integer NOT NULL,
    state varchar(14) NOT NULL DEFAULT 'sent'
        CHECK (state IN ('sent', 'acknowledged', 'declined', 'no_answer')),
    eta_minutes integer CHECK (eta_minutes BETWEEN 0 AND 1440),
    reason varchar(300),
    sent_at timestamptz NOT NULL,
    answered_at timestamptz,
    answered_by varchar(50),
    CHECK ((state = 'sent') = (answered_at IS NULL)),
    CHECK (state = 'acknowledged' OR eta_minutes IS NULL),
    CHECK (state <> 'declined' OR reason IS NOT NULL)
);
CREATE INDEX plan_callout_incident ON plan_callout (incident);
"""


async def forwards() -> MigrationManager:
    return catching_up_migration(ID, DESCRIPTION, SQL)
