"""Foundation: places, users, login failures, the append-only audit trail, idempotency keys."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.db import sql_migration

ID = "2026-11-27T00:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "foundation: places, accounts, audit, idempotency"

SQL = """
CREATE TABLE district (
    code varchar(6) PRIMARY KEY,
    name varchar(50) NOT NULL,
    lat double precision NOT NULL,
    lon double precision NOT NULL
);

CREATE TABLE street (
    code varchar(9) PRIMARY KEY,
    name varchar(50) NOT NULL,
    district varchar(6) NOT NULL REFERENCES district(code),
    lat double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat_gcj02 double precision,
    lon_gcj02 double precision,
    coord_source varchar(40) NOT NULL
);
CREATE INDEX street_district ON street (district);

CREATE TABLE community (
    code varchar(12) PRIMARY KEY,
    name varchar(50) NOT NULL,
    official_name varchar(80) NOT NULL,
    street varchar(9) NOT NULL REFERENCES street(code),
    district varchar(6) NOT NULL REFERENCES district(code),
    lat double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    lat_gcj02 double precision,
    lon_gcj02 double precision,
    coord_source varchar(40) NOT NULL,
    approximate boolean NOT NULL DEFAULT false,
    updated_at timestamptz
);
CREATE INDEX community_street ON community (street);

CREATE TABLE depot (
    code varchar(16) PRIMARY KEY,
    name varchar(80) NOT NULL,
    kind varchar(20) NOT NULL
        CHECK (kind IN ('district_reserve', 'street_reserve', 'community_point')),
    district varchar(6) NOT NULL REFERENCES district(code),
    street varchar(9) REFERENCES street(code),
    community varchar(12) REFERENCES community(code),
    lat double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    CHECK (kind = 'district_reserve' OR street IS NOT NULL)
);
CREATE INDEX depot_street ON depot (street);

CREATE TABLE app_user (
    id serial PRIMARY KEY,
    username varchar(64) NOT NULL UNIQUE,
    display_name varchar(100) NOT NULL,
    password_hash varchar(200) NOT NULL,
    role varchar(20) NOT NULL CHECK (role IN (
        'commander', 'street_leader', 'community_worker', 'volunteer', 'trainer', 'viewer')),
    street varchar(9) REFERENCES street(code),
    community varchar(12) REFERENCES community(code),
    disabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    CHECK (role <> 'street_leader' OR (street IS NOT NULL AND community IS NULL)),
    CHECK (role NOT IN ('community_worker', 'volunteer')
           OR (community IS NOT NULL AND street IS NULL)),
    CHECK (role NOT IN ('commander', 'trainer', 'viewer')
           OR (street IS NULL AND community IS NULL))
);

CREATE TABLE login_failure (
    id bigserial PRIMARY KEY,
    username varchar(64) NOT NULL,
    address varchar(64) NOT NULL,
    at timestamptz NOT NULL
);
CREATE INDEX login_failure_username ON login_failure (username, at);
CREATE INDEX login_failure_address ON login_failure (address, at);

CREATE TABLE audit_entry (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    actor varchar(64) NOT NULL,
    actor_id integer,
    role varchar(20) NOT NULL,
    action varchar(80) NOT NULL,
    entity varchar(40) NOT NULL,
    entity_id varchar(80),
    before jsonb,
    after jsonb
);
CREATE INDEX audit_entry_entity ON audit_entry (entity, entity_id);
CREATE INDEX audit_entry_at ON audit_entry (at);

-- one guard for every append-only table (the audit trail here, the stock ledger later)
CREATE FUNCTION refuse_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_entry_no_update BEFORE UPDATE OR DELETE ON audit_entry
    FOR EACH ROW EXECUTE FUNCTION refuse_rewrite();
CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_rewrite();

CREATE TABLE idempotency_record (
    id bigserial PRIMARY KEY,
    user_id integer NOT NULL,
    key varchar(200) NOT NULL,
    world varchar(63) NOT NULL DEFAULT 'public',
    method varchar(10) NOT NULL,
    path varchar(500) NOT NULL,
    request_hash varchar(64) NOT NULL,
    state varchar(10) NOT NULL CHECK (state IN ('running', 'done')),
    response_status integer,
    response_headers jsonb,
    response_body bytea,
    created_at timestamptz NOT NULL,
    lease_until timestamptz NOT NULL,
    UNIQUE (user_id, world, key)
);
CREATE INDEX idempotency_record_created ON idempotency_record (created_at);
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
