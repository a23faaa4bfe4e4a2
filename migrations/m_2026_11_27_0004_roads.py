"""Roads: the road network as stored (synthetic Dongcheng, or a user's OSMnx extract)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from dispatch.db import sql_migration

ID = "2026-11-27T00:00:04:000000"
VERSION = "1.38.0"
DESCRIPTION = "roads: networks, nodes and edges"

SQL = """
CREATE TABLE road_network (
    id serial PRIMARY KEY,
    name varchar(100) NOT NULL,
    source varchar(300) NOT NULL,
    synthetic boolean NOT NULL,
    graph_id varchar(32) NOT NULL,
    nodes integer NOT NULL CHECK (nodes >= 0),
    edges integer NOT NULL CHECK (edges >= 0),
    active boolean NOT NULL DEFAULT false,
    loaded_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX road_network_one_active ON road_network (active) WHERE active;

CREATE TABLE road_node (
    network integer NOT NULL REFERENCES road_network(id) ON DELETE CASCADE,
    id bigint NOT NULL,
    lat double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    PRIMARY KEY (network, id)
);

CREATE TABLE road_edge (
    network integer NOT NULL REFERENCES road_network(id) ON DELETE CASCADE,
    u bigint NOT NULL,
    v bigint NOT NULL,
    length_m double precision NOT NULL CHECK (length_m >= 0),
    road_class varchar(20) NOT NULL,
    speed_kmh double precision NOT NULL CHECK (speed_kmh > 0),
    oneway boolean NOT NULL,
    max_vehicle varchar(20),
    PRIMARY KEY (network, u, v),
    FOREIGN KEY (network, u) REFERENCES road_node(network, id) ON DELETE CASCADE,
    FOREIGN KEY (network, v) REFERENCES road_node(network, id) ON DELETE CASCADE
);
"""


async def forwards() -> MigrationManager:
    return sql_migration(ID, DESCRIPTION, SQL)
