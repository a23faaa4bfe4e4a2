"""Incidents and planning: incidents, closures, depot outages, requests, plans, tasks."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.db import sql_migration

ID = "2026-11-27T00:00:05:000000"
VERSION = "1.38.0"
DESCRIPTION = "incidents: requests, closures, outages, plans, tasks"

SQL = """
CREATE TABLE incident (
    id bigserial PRIMARY KEY,
    type varchar(20) NOT NULL CHECK (type IN ('rainstorm', 'fire', 'earthquake', 'heatwave',
        'snow_ice', 'public_health', 'utility_outage', 'building_collapse')),
    level varchar(3) NOT NULL CHECK (level IN ('I', 'II', 'III', 'IV')),
    title varchar(200) NOT NULL,
    status varchar(12) NOT NULL
        CHECK (status IN ('declared', 'responding', 'stood_down', 'closed')),
    declared_at timestamptz NOT NULL,
    responding_at timestamptz,
    stood_down_at timestamptz,
    closed_at timestamptz,
    declared_by varchar(64) NOT NULL,
    summary jsonb
);

CREATE TABLE incident_community (
    incident bigint NOT NULL REFERENCES incident(id),
    community varchar(12) NOT NULL REFERENCES community(code),
    street varchar(9) NOT NULL REFERENCES street(code),
    PRIMARY KEY (incident, community)
);

CREATE TABLE road_closure (
    id bigserial PRIMARY KEY,
    incident bigint REFERENCES incident(id),
    kind varchar(6) NOT NULL CHECK (kind IN ('circle', 'edge')),
    lat double precision,
    lon double precision,
    radius_m double precision CHECK (radius_m > 0),
    u bigint,
    v bigint,
    note varchar(300),
    closed_at timestamptz NOT NULL,
    opened_at timestamptz,
    CHECK (kind <> 'circle' OR (lat IS NOT NULL AND lon IS NOT NULL AND radius_m IS NOT NULL)),
    CHECK (kind <> 'edge' OR (u IS NOT NULL AND v IS NOT NULL))
);

CREATE TABLE depot_outage (
    id bigserial PRIMARY KEY,
    incident bigint REFERENCES incident(id),
    depot varchar(16) NOT NULL REFERENCES depot(code),
    reason varchar(300),
    out_at timestamptz NOT NULL,
    back_at timestamptz
);
CREATE UNIQUE INDEX depot_outage_one_open ON depot_outage (depot) WHERE back_at IS NULL;

CREATE TABLE supply_request (
    id bigserial PRIMARY KEY,
    incident bigint NOT NULL REFERENCES incident(id),
    community varchar(12) NOT NULL REFERENCES community(code),
    street varchar(9) NOT NULL REFERENCES street(code),
    item varchar(20) NOT NULL REFERENCES item(code),
    quantity integer NOT NULL CHECK (quantity > 0),
    priority varchar(8) NOT NULL CHECK (priority IN ('critical', 'high', 'normal')),
    need_by timestamptz,
    source varchar(10) NOT NULL CHECK (source IN ('community', 'hotline')),
    note varchar(500),
    status varchar(20) NOT NULL CHECK (status IN ('open', 'planned', 'partially_fulfilled',
        'fulfilled', 'unmet', 'cancelled')),
    planned_qty integer NOT NULL DEFAULT 0 CHECK (planned_qty >= 0),
    delivered_qty integer NOT NULL DEFAULT 0 CHECK (delivered_qty >= 0),
    unmet_reason varchar(300),
    created_at timestamptz NOT NULL,
    created_by varchar(64) NOT NULL,
    fulfilled_at timestamptz,
    CHECK (planned_qty <= quantity AND delivered_qty <= quantity)
);
CREATE INDEX supply_request_incident ON supply_request (incident, status);

CREATE TABLE plan (
    id bigserial PRIMARY KEY,
    incident bigint NOT NULL REFERENCES incident(id),
    policy varchar(10) NOT NULL CHECK (policy IN ('optimal', 'nearest')),
    emergency boolean NOT NULL,
    status varchar(12) NOT NULL
        CHECK (status IN ('proposed', 'approved', 'rejected', 'superseded')),
    fingerprint varchar(64) NOT NULL,
    objective double precision NOT NULL,
    runtime_ms double precision NOT NULL,
    unmet jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    created_by varchar(64) NOT NULL,
    decided_at timestamptz,
    decided_by varchar(64),
    decision_note varchar(500)
);
CREATE INDEX plan_incident ON plan (incident, id);

CREATE TABLE plan_line (
    id bigserial PRIMARY KEY,
    plan bigint NOT NULL REFERENCES plan(id),
    request bigint NOT NULL REFERENCES supply_request(id),
    depot varchar(16) NOT NULL REFERENCES depot(code),
    community varchar(12) NOT NULL REFERENCES community(code),
    item varchar(20) NOT NULL REFERENCES item(code),
    quantity integer NOT NULL CHECK (quantity > 0),
    lots jsonb NOT NULL,
    route jsonb NOT NULL,
    length_m double precision NOT NULL,
    travel_s double precision NOT NULL,
    eta_s double precision NOT NULL,
    explanation varchar(500) NOT NULL
);
CREATE INDEX plan_line_plan ON plan_line (plan);

CREATE TABLE task (
    id bigserial PRIMARY KEY,
    incident bigint NOT NULL REFERENCES incident(id),
    kind varchar(20) NOT NULL CHECK (kind IN ('delivery', 'door_check', 'evacuation', 'guard',
        'delivery_support')),
    community varchar(12) NOT NULL REFERENCES community(code),
    street varchar(9) NOT NULL REFERENCES street(code),
    people_needed integer NOT NULL CHECK (people_needed BETWEEN 1 AND 500),
    skills varchar(40)[] NOT NULL DEFAULT '{}',
    minutes integer NOT NULL CHECK (minutes BETWEEN 1 AND 10080),
    status varchar(12) NOT NULL CHECK (status IN ('open', 'assigned', 'accepted', 'en_route',
        'done', 'failed', 'cancelled')),
    version integer NOT NULL DEFAULT 1,
    transfer_id bigint REFERENCES stock_transfer(id),
    request_id bigint REFERENCES supply_request(id),
    plan_line bigint REFERENCES plan_line(id),
    route jsonb,
    households integer[] NOT NULL DEFAULT '{}',
    households_checked integer NOT NULL DEFAULT 0,
    delivered_qty integer,
    failed_reason varchar(500),
    note varchar(500),
    created_at timestamptz NOT NULL,
    assigned_at timestamptz,
    accepted_at timestamptz,
    en_route_at timestamptz,
    finished_at timestamptz
);
CREATE INDEX task_incident ON task (incident, status);
CREATE INDEX task_street ON task (street, status);

CREATE TABLE task_assignee (
    task bigint NOT NULL REFERENCES task(id),
    person bigint NOT NULL REFERENCES person(id),
    assigned_at timestamptz NOT NULL,
    PRIMARY KEY (task, person)
);

CREATE TABLE task_progress (
    id bigserial PRIMARY KEY,
    task bigint NOT NULL REFERENCES task(id),
    at timestamptz NOT NULL,
    actor varchar(64) NOT NULL,
    event varchar(20) NOT NULL,
    from_status varchar(12),
    to_status varchar(12),
    quantity integer,
    note varchar(500)
);
CREATE INDEX task_progress_task ON task_progress (task, id);
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
