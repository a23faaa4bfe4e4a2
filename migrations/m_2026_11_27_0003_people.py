"""People: skills, partner units and pairings, people, teams, duty rosters and check-ins,
care households."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.db import sql_migration

ID = "2026-11-27T00:00:03:000000"
VERSION = "1.38.0"
DESCRIPTION = "people: partner units, pairings, people, teams, duty, care households"

SQL = """
CREATE TABLE skill (
    code varchar(40) PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,39}$'),
    name varchar(80) NOT NULL,
    builtin boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL
);
INSERT INTO skill (code, name, builtin, created_at) VALUES
    ('first_aid', '急救', true, now()),
    ('driving', '驾驶', true, now()),
    ('electrician', '电工', true, now()),
    ('plumbing', '水暖', true, now()),
    ('counselling', '心理疏导', true, now()),
    ('elderly_care', '助老', true, now()),
    ('lifting', '搬运', true, now()),
    ('medical', '医疗', true, now()),
    ('interpreting', '翻译', true, now());

CREATE TABLE partner_unit (
    id serial PRIMARY KEY,
    code varchar(20) NOT NULL UNIQUE,
    name varchar(120) NOT NULL UNIQUE,
    kind varchar(20) NOT NULL
        CHECK (kind IN ('central_ministry', 'municipal', 'state_enterprise', 'two_new')),
    contact_name varchar(50),
    contact_phone varchar(20),
    created_at timestamptz NOT NULL,
    updated_at timestamptz
);

CREATE TABLE pairing (
    id serial PRIMARY KEY,
    unit_id integer NOT NULL REFERENCES partner_unit(id),
    community varchar(12) NOT NULL REFERENCES community(code),
    street varchar(9) NOT NULL REFERENCES street(code),
    signed_on date NOT NULL,
    valid_from date NOT NULL,
    valid_until date NOT NULL,
    pledged_people integer NOT NULL DEFAULT 0 CHECK (pledged_people BETWEEN 0 AND 10000),
    pledged_skills varchar(40)[] NOT NULL DEFAULT '{}',
    status varchar(12) NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'suspended', 'terminated')),
    note varchar(500),
    created_at timestamptz NOT NULL,
    updated_at timestamptz,
    CHECK (valid_until >= valid_from),
    UNIQUE (unit_id, community, valid_from)
);
CREATE INDEX pairing_community ON pairing (community);
CREATE INDEX pairing_street ON pairing (street);

CREATE TABLE person (
    id serial PRIMARY KEY,
    code varchar(20) NOT NULL UNIQUE,
    name varchar(50) NOT NULL,
    kind varchar(20) NOT NULL
        CHECK (kind IN ('party_member', 'squad_member', 'unit_member', 'community_worker')),
    phone varchar(20),
    address varchar(200),
    street varchar(9) NOT NULL REFERENCES street(code),
    community varchar(12) REFERENCES community(code),
    party_branch varchar(120),
    unit_id integer REFERENCES partner_unit(id),
    skills varchar(40)[] NOT NULL DEFAULT '{}',
    availability varchar(20) NOT NULL DEFAULT 'any'
        CHECK (availability IN ('any', 'weekdays', 'weekends', 'evenings', 'on_call')),
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL,
    updated_at timestamptz,
    CHECK (kind <> 'party_member' OR (community IS NOT NULL AND party_branch IS NOT NULL)),
    CHECK (kind <> 'unit_member' OR unit_id IS NOT NULL),
    CHECK (kind <> 'community_worker' OR community IS NOT NULL)
);
CREATE INDEX person_street ON person (street);
CREATE INDEX person_community ON person (community);
CREATE INDEX person_unit ON person (unit_id);

CREATE TABLE team (
    id serial PRIMARY KEY,
    name varchar(80) NOT NULL,
    kind varchar(20) NOT NULL CHECK (kind IN ('street_squad', 'unit_team', 'community_team')),
    street varchar(9) REFERENCES street(code),
    community varchar(12) REFERENCES community(code),
    unit_id integer REFERENCES partner_unit(id),
    leader_id integer REFERENCES person(id),
    created_at timestamptz NOT NULL,
    CHECK (kind <> 'street_squad' OR street IS NOT NULL),
    CHECK (kind <> 'community_team' OR (community IS NOT NULL AND street IS NOT NULL)),
    CHECK (kind <> 'unit_team' OR unit_id IS NOT NULL)
);
CREATE INDEX team_street ON team (street);

CREATE TABLE team_member (
    id serial PRIMARY KEY,
    team_id integer NOT NULL REFERENCES team(id) ON DELETE CASCADE,
    person_id integer NOT NULL REFERENCES person(id),
    joined_at timestamptz NOT NULL,
    UNIQUE (team_id, person_id)
);
CREATE INDEX team_member_person ON team_member (person_id);

CREATE TABLE duty_shift (
    id serial PRIMARY KEY,
    community varchar(12) NOT NULL REFERENCES community(code),
    street varchar(9) NOT NULL REFERENCES street(code),
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    note varchar(200),
    created_at timestamptz NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX duty_shift_community ON duty_shift (community, starts_at);

CREATE TABLE duty_shift_person (
    id serial PRIMARY KEY,
    shift_id integer NOT NULL REFERENCES duty_shift(id) ON DELETE CASCADE,
    person_id integer NOT NULL REFERENCES person(id),
    UNIQUE (shift_id, person_id)
);

CREATE TABLE check_in (
    id bigserial PRIMARY KEY,
    person_id integer NOT NULL REFERENCES person(id),
    community varchar(12) NOT NULL REFERENCES community(code),
    street varchar(9) NOT NULL REFERENCES street(code),
    checked_in_at timestamptz NOT NULL,
    checked_out_at timestamptz,
    lat double precision CHECK (lat BETWEEN -90 AND 90),
    lon double precision CHECK (lon BETWEEN -180 AND 180),
    CHECK (checked_out_at IS NULL OR checked_out_at >= checked_in_at)
);
CREATE UNIQUE INDEX check_in_one_open ON check_in (person_id) WHERE checked_out_at IS NULL;
CREATE INDEX check_in_open_community ON check_in (community) WHERE checked_out_at IS NULL;
CREATE INDEX check_in_person_at ON check_in (person_id, checked_in_at);

CREATE TABLE care_household (
    id serial PRIMARY KEY,
    code varchar(20) NOT NULL UNIQUE,
    kind varchar(20) NOT NULL CHECK (kind IN ('low_income', 'student', 'elderly_alone')),
    community varchar(12) NOT NULL REFERENCES community(code),
    street varchar(9) NOT NULL REFERENCES street(code),
    head_name varchar(50) NOT NULL,
    phone varchar(20),
    address varchar(200),
    members integer NOT NULL DEFAULT 1 CHECK (members BETWEEN 1 AND 20),
    needs varchar(40)[] NOT NULL DEFAULT '{}',
    paired_branch varchar(120),
    note varchar(500),
    created_at timestamptz NOT NULL,
    updated_at timestamptz
);
CREATE INDEX care_household_community ON care_household (community);
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
