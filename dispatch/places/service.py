"""Places: the reference geography every other domain hangs on, and loading it from files."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import networkx as nx

from dispatch.accounts.policy import Target, authorize
from dispatch.clock import local
from dispatch.db import Command, Context, command, query
from dispatch.errors import InvalidInput, NotFound
from dispatch.places.schemas import (
    CommunityView,
    CoordinateCorrection,
    CoordinateSystem,
    DepotView,
    DistrictView,
    LoadReport,
    MapNetwork,
    RoadClassFeature,
    RoadClassGeometry,
    RoadClassProperties,
    RoadNetworkView,
    RoadsMap,
    StreetView,
)
from geo.coords import distance_m, gcj02_to_wgs84
from geo.network import RoadNetwork, load_osmnx_csv, normalise_edge

APPROXIMATE_SOURCES = frozenset({"approximate_ring_around_street"})
CORRECTED = "corrected"


async def list_districts(ctx: Context) -> list[DistrictView]:
    authorize(ctx.actor, "places.read")
    async with query(ctx) as conn:
        rows = await conn.fetch("SELECT code, name, lat, lon FROM district ORDER BY code")
    return [DistrictView(**dict(r)) for r in rows]


async def list_streets(ctx: Context, district: str | None = None) -> list[StreetView]:
    authorize(ctx.actor, "places.read")
    async with query(ctx) as conn:
        rows = await conn.fetch(
            """
            SELECT s.code, s.name, s.district, s.lat, s.lon, s.coord_source,
                   count(c.code)::int AS communities
            FROM street s LEFT JOIN community c ON c.street = s.code
            WHERE $1::varchar IS NULL OR s.district = $1
            GROUP BY s.code ORDER BY s.code
            """,
            district,
        )
    return [StreetView(**dict(r)) for r in rows]


def _community(row: asyncpg.Record) -> CommunityView:
    data = dict(row)
    data["updated_at"] = local(data["updated_at"])
    return CommunityView(**data)


COMMUNITY_COLUMNS = (
    "code, name, official_name, street, district, lat, lon, lat_gcj02, lon_gcj02, "
    "coord_source, approximate, updated_at"
)


async def list_communities(
    ctx: Context, street: str | None = None, approximate: bool | None = None
) -> list[CommunityView]:
    authorize(ctx.actor, "places.read")
    async with query(ctx) as conn:
        rows = await conn.fetch(
            f"""
            SELECT {COMMUNITY_COLUMNS} FROM community
            WHERE ($1::varchar IS NULL OR street = $1)
              AND ($2::boolean IS NULL OR approximate = $2)
            ORDER BY code
            """,
            street,
            approximate,
        )
    return [_community(r) for r in rows]


async def get_community(ctx: Context, code: str) -> CommunityView:
    authorize(ctx.actor, "places.read")
    async with query(ctx) as conn:
        row = await conn.fetchrow(f"SELECT {COMMUNITY_COLUMNS} FROM community WHERE code=$1", code)
    if row is None:
        raise NotFound(f"no community {code}", field="code")
    return _community(row)


async def list_depots(ctx: Context, street: str | None = None) -> list[DepotView]:
    authorize(ctx.actor, "places.read")
    async with query(ctx) as conn:
        rows = await conn.fetch(
            """
            SELECT code, name, kind, district, street, community, lat, lon FROM depot
            WHERE $1::varchar IS NULL OR street = $1 ORDER BY code
            """,
            street,
        )
    return [DepotView(**dict(r)) for r in rows]


async def get_depot(ctx: Context, code: str) -> DepotView:
    authorize(ctx.actor, "places.read")
    async with query(ctx) as conn:
        row = await conn.fetchrow(
            "SELECT code, name, kind, district, street, community, lat, lon FROM depot "
            "WHERE code=$1",
            code,
        )
    if row is None:
        raise NotFound(f"no depot {code}", field="code")
    return DepotView(**dict(row))


MAX_KM_FROM_STREET = 5.0


async def _check_near_street(cmd: Command, street: str, lat: float, lon: float) -> None:
    """A typo in a coordinate must not move a community across the city."""
    centre = await cmd.connection.fetchrow(
        "SELECT name, lat, lon FROM street WHERE code=$1", street
    )
    km = distance_m((lat, lon), (centre["lat"], centre["lon"])) / 1000
    if km > MAX_KM_FROM_STREET:
        raise InvalidInput(
            f"the point is {km:,.1f} km from {centre['name']}; check the coordinates",
            field="lat",
        )


def to_wgs84(lat: float, lon: float, system: CoordinateSystem) -> tuple[float, float]:
    """A point as stored: GCJ-02 (from Chinese maps and apps) is converted on entry."""
    if system is CoordinateSystem.GCJ02:
        return gcj02_to_wgs84(lat, lon)
    return lat, lon


async def correct_coordinates(ctx: Context, code: str, fix: CoordinateCorrection) -> CommunityView:
    """A commander's surveyed point replaces an approximate one; later loads keep it."""
    async with command(ctx) as cmd:
        row = await cmd.connection.fetchrow(
            f"SELECT {COMMUNITY_COLUMNS} FROM community WHERE code=$1 FOR UPDATE", code
        )
        if row is None:
            raise NotFound(f"no community {code}", field="code")
        authorize(ctx.actor, "places.correct_coordinates", Target(row["street"], code))
        lat, lon = to_wgs84(fix.lat, fix.lon, fix.system)
        await _check_near_street(cmd, row["street"], lat, lon)
        updated = await cmd.connection.fetchrow(
            f"""
            UPDATE community SET lat=$2, lon=$3, coord_source=$4, approximate=false,
                lat_gcj02=NULL, lon_gcj02=NULL, updated_at=$5
            WHERE code=$1 RETURNING {COMMUNITY_COLUMNS}
            """,
            code,
            lat,
            lon,
            CORRECTED,
            cmd.now,
        )
        before = {k: row[k] for k in ("lat", "lon", "coord_source", "approximate")}
        after = {k: updated[k] for k in ("lat", "lon", "coord_source", "approximate")}
        after["note"] = fix.note
        await cmd.audit("places.correct_coordinates", "community", code, before, after)
        cmd.emit("community.moved", {"code": code, "lat": lat, "lon": lon}, street=row["street"])
    return _community(updated)


# --- loading reference data -------------------------------------------------------------


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _float(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


def _district_row(folder: Path) -> dict[str, Any]:
    boundary = json.loads((folder / "boundary.geojson").read_text(encoding="utf-8"))
    feature = boundary["features"][0]
    ring = feature["geometry"]["coordinates"][0]
    return {
        "code": feature["properties"]["code"],
        "name": feature["properties"]["name"],
        "lat": round(sum(p[1] for p in ring) / len(ring), 6),
        "lon": round(sum(p[0] for p in ring) / len(ring), 6),
    }


def reference_rows(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """The four place tables as rows, from one district's reference folder."""
    district = _district_row(folder)
    streets = [
        {
            "code": r["code"],
            "name": r["name"],
            "district": district["code"],
            "lat": float(r["lat"]),
            "lon": float(r["lon"]),
            "lat_gcj02": _float(r.get("lat_gcj02")),
            "lon_gcj02": _float(r.get("lon_gcj02")),
            "coord_source": r["coord_source"],
        }
        for r in _read_csv(folder / "streets.csv")
    ]
    communities = [
        {
            "code": r["code"],
            "name": r["name"],
            "official_name": r["official_name"],
            "street": r["street_code"],
            "district": district["code"],
            "lat": float(r["lat"]),
            "lon": float(r["lon"]),
            "lat_gcj02": _float(r.get("lat_gcj02")),
            "lon_gcj02": _float(r.get("lon_gcj02")),
            "coord_source": r["coord_source"],
            "approximate": r["coord_source"] in APPROXIMATE_SOURCES,
        }
        for r in _read_csv(folder / "communities.csv")
    ]
    depots = [
        {
            "code": r["code"],
            "name": r["name"],
            "kind": r["kind"],
            "district": district["code"],
            "street": r["street_code"] or None,
            "community": r.get("community_code") or None,
            "lat": float(r["lat"]),
            "lon": float(r["lon"]),
        }
        for r in _read_csv(folder / "depots.csv")
    ]
    return {"district": [district], "street": streets, "community": communities, "depot": depots}


def _differs(current: asyncpg.Record, row: dict[str, Any], keep: Iterable[str]) -> bool:
    return any(current[k] != v for k, v in row.items() if k not in keep)


COORDINATE_FIELDS = ("lat", "lon", "lat_gcj02", "lon_gcj02", "coord_source", "approximate")


async def _upsert(cmd: Command, table: str, rows: Sequence[dict[str, Any]]) -> tuple[int, int]:
    """Insert new rows and update changed ones; a corrected community keeps its point."""
    created = updated = 0
    for row in rows:
        current = await cmd.connection.fetchrow(
            f"SELECT * FROM {table} WHERE code=$1 FOR UPDATE", row["code"]
        )
        columns = list(row)
        if current is None:
            placeholders = ", ".join(f"${i + 1}" for i in range(len(columns)))
            await cmd.connection.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",
                *row.values(),
            )
            created += 1
            continue
        keep = COORDINATE_FIELDS if current.get("coord_source") == CORRECTED else ()
        if _differs(current, row, keep):
            changed = [c for c in columns if c != "code" and c not in keep]
            sets = ", ".join(f"{c}=${i + 2}" for i, c in enumerate(changed))
            await cmd.connection.execute(
                f"UPDATE {table} SET {sets} WHERE code=$1",
                row["code"],
                *(row[c] for c in changed),
            )
            updated += 1
    return created, updated


async def load_reference(ctx: Context, folder: Path) -> LoadReport:
    """Idempotent: a second load of the same files changes nothing and reports 0 changes."""
    authorize(ctx.actor, "places.load_reference")
    tables = reference_rows(folder)
    report = LoadReport(created={}, updated={}, unchanged={})
    async with command(ctx) as cmd:
        for table, rows in tables.items():
            created, updated = await _upsert(cmd, table, rows)
            report.created[table] = created
            report.updated[table] = updated
            report.unchanged[table] = len(rows) - created - updated
        if report.changes:
            await cmd.audit(
                "places.load_reference",
                "reference",
                str(folder.name),
                None,
                {"created": report.created, "updated": report.updated},
            )
            cmd.emit("places.loaded", {"created": report.created, "updated": report.updated})
    await _load_folder_roads(ctx, folder, report)
    return report


async def _load_folder_roads(ctx: Context, folder: Path, report: LoadReport) -> None:
    """A reference folder may ship a road network (Dongcheng's is synthetic); a real network
    loaded with `dispatch load-roads` is never replaced by it."""
    nodes, edges = folder / "roads_nodes.csv", folder / "roads_edges.csv"
    if not (nodes.exists() and edges.exists()):
        return
    async with query(ctx) as conn:
        current = await _active_network_row(conn)
    if current is not None and not current["synthetic"]:
        report.unchanged["road_network"] = 1
        return
    roads = await load_roads(
        ctx, load_osmnx_csv(nodes, edges), SYNTHETIC_NAME, f"{folder.name} (synthetic)", True
    )
    report.created["road_network"] = int(roads.changed)
    report.updated["road_network"] = 0
    report.unchanged["road_network"] = int(not roads.changed)


# --- the road network as stored -----------------------------------------------------------


@dataclass(frozen=True)
class RoadsReport:
    network_id: int
    name: str
    graph_id: str
    nodes: int
    edges: int
    changed: bool


async def _active_network_row(conn: asyncpg.Connection) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM road_network WHERE active")


def _max_vehicle_text(value: object) -> str | None:
    return None if value is None else str(value)


async def load_roads(
    ctx: Context, graph: nx.DiGraph, name: str, source: str, synthetic: bool
) -> RoadsReport:
    """Store a road network and make it the one routing uses; the same graph again is a no-op."""
    authorize(ctx.actor, "places.load_roads")
    network = RoadNetwork(graph, name)
    if network.n_nodes == 0 or network.n_edges == 0:
        raise InvalidInput("the road network has no nodes or no edges", field="file")
    async with command(ctx) as cmd:
        current = await _active_network_row(cmd.connection)
        if current is not None and current["graph_id"] == network.graph_id:
            return RoadsReport(
                current["id"],
                current["name"],
                network.graph_id,
                network.n_nodes,
                network.n_edges,
                changed=False,
            )
        await cmd.connection.execute("UPDATE road_network SET active = false WHERE active")
        network_id = await cmd.connection.fetchval(
            """
            INSERT INTO road_network (name, source, synthetic, graph_id, nodes, edges, active,
                                      loaded_at)
            VALUES ($1, $2, $3, $4, $5, $6, true, $7) RETURNING id
            """,
            name,
            source,
            synthetic,
            network.graph_id,
            network.n_nodes,
            network.n_edges,
            cmd.now,
        )
        await cmd.connection.copy_records_to_table(
            "road_node",
            columns=["network", "id", "lat", "lon"],
            records=[(network_id, int(n), d["lat"], d["lon"]) for n, d in graph.nodes(data=True)],
        )
        await cmd.connection.copy_records_to_table(
            "road_edge",
            columns=[
                "network",
                "u",
                "v",
                "length_m",
                "road_class",
                "speed_kmh",
                "oneway",
                "max_vehicle",
            ],
            records=[
                (
                    network_id,
                    int(u),
                    int(v),
                    d["length_m"],
                    d["road_class"],
                    d["speed_kmh"],
                    bool(d["oneway"]),
                    _max_vehicle_text(d.get("max_vehicle")),
                )
                for u, v, d in graph.edges(data=True)
            ],
        )
        after = {
            "name": name,
            "source": source,
            "synthetic": synthetic,
            "graph_id": network.graph_id,
            "nodes": network.n_nodes,
            "edges": network.n_edges,
        }
        before = (
            None if current is None else {"name": current["name"], "graph_id": current["graph_id"]}
        )
        await cmd.audit("places.load_roads", "road_network", network_id, before, after)
        cmd.emit("roads.loaded", after)
    _NETWORKS.clear()
    return RoadsReport(network_id, name, network.graph_id, network.n_nodes, network.n_edges, True)


SYNTHETIC_NAME = "东城区合成路网 (synthetic Dongcheng network)"
_NETWORKS: dict[str, RoadNetwork] = {}


async def active_road_network(ctx: Context) -> RoadNetwork:
    """The network routing uses, built once per process and graph (keyed by its content id)."""
    async with query(ctx) as conn:
        current = await _active_network_row(conn)
        if current is None:
            raise NotFound("no road network is loaded; run `dispatch load-roads`", field="roads")
        cached = _NETWORKS.get(current["graph_id"])
        if cached is not None:
            return cached
        nodes = await conn.fetch(
            "SELECT id, lat, lon FROM road_node WHERE network=$1", current["id"]
        )
        edges = await conn.fetch("SELECT * FROM road_edge WHERE network=$1", current["id"])
    # Requests arriving together (a server's first minutes, drills starting at once) all
    # miss the cache and read the graph. The first to finish builds it; the build never
    # awaits, so the others, resuming after it, take that one: one network object per
    # graph, so every router and road state of the process agree.
    cached = _NETWORKS.get(current["graph_id"])
    if cached is not None:
        return cached
    graph = nx.DiGraph()
    graph.add_nodes_from((r["id"], {"lat": r["lat"], "lon": r["lon"]}) for r in nodes)
    for r in edges:
        graph.add_edge(r["u"], r["v"], **normalise_edge(dict(r)))
    network = RoadNetwork(graph, current["name"])
    _NETWORKS.clear()
    _NETWORKS[current["graph_id"]] = network
    return network


async def road_network_info(ctx: Context) -> RoadNetworkView:
    authorize(ctx.actor, "places.read")
    async with query(ctx) as conn:
        current = await _active_network_row(conn)
    if current is None:
        raise NotFound("no road network is loaded", field="roads")
    return RoadNetworkView(
        id=current["id"],
        name=current["name"],
        source=current["source"],
        synthetic=current["synthetic"],
        graph_id=current["graph_id"],
        nodes=current["nodes"],
        edges=current["edges"],
        loaded_at=local(current["loaded_at"]) or current["loaded_at"],
    )


# --- map layers (the pages draw these as vectors: there is no tile server) ----------------

MAP_DECIMALS = 5  # ~1 m: finer than a wall screen's pixel at street zoom
ROAD_CLASS_ORDER = ("hutong", "collector", "arterial")  # drawn bottom to top


@dataclass(frozen=True)
class EncodedMap:
    """A map document encoded once per road network (it only changes with the network)."""

    etag: str
    body: bytes
    gzipped: bytes


_ROAD_MAPS: dict[tuple[int, str], EncodedMap] = {}
_BOUNDARIES: dict[Path, dict[str, Any]] = {}


def boundary_geojson(folder: Path) -> dict[str, Any]:
    """The district outline shipped with the reference data (WGS-84)."""
    path = folder / "boundary.geojson"
    if path not in _BOUNDARIES:
        _BOUNDARIES[path] = json.loads(path.read_text(encoding="utf-8"))
    return _BOUNDARIES[path]


async def map_boundary(ctx: Context, folder: Path) -> dict[str, Any]:
    authorize(ctx.actor, "places.read")
    return boundary_geojson(folder)


def _chains(segments: set[tuple[int, int]]) -> list[list[int]]:
    """Segments joined into polylines through nodes where a road just continues (degree 2),
    so a street is one line, not dozens: fewer repeated coordinates to send."""
    graph = nx.Graph()
    graph.add_edges_from(segments)
    seen: set[frozenset[int]] = set()

    def walk(start: int, nxt: int) -> list[int]:
        path, prev, cur = [start, nxt], start, nxt
        seen.add(frozenset((start, nxt)))
        while graph.degree(cur) == 2:
            following = next(n for n in graph.neighbors(cur) if n != prev)
            if frozenset((cur, following)) in seen:
                break  # a closed ring
            seen.add(frozenset((cur, following)))
            path.append(following)
            prev, cur = cur, following
        return path

    lines = []
    for node in sorted(graph.nodes):
        if graph.degree(node) != 2:
            for other in sorted(graph.neighbors(node)):
                if frozenset((node, other)) not in seen:
                    lines.append(walk(node, other))
    for u, v in sorted(graph.edges):  # rings with no end
        if frozenset((u, v)) not in seen:
            lines.append(walk(u, v))
    return lines


def road_features(network: RoadNetwork) -> list[RoadClassFeature]:
    """One MultiLineString per road class; a two-way road is drawn once."""
    by_class: dict[str, set[tuple[int, int]]] = {}
    for u, v, data in network.graph.edges(data=True):
        pair = (int(u), int(v)) if u < v else (int(v), int(u))
        by_class.setdefault(str(data["road_class"]), set()).add(pair)
    nodes = network.graph.nodes
    order = {c: i for i, c in enumerate(ROAD_CLASS_ORDER)}
    features = []
    for road_class in sorted(by_class, key=lambda c: (order.get(c, -1), c)):
        lines = [
            [
                (round(nodes[n]["lon"], MAP_DECIMALS), round(nodes[n]["lat"], MAP_DECIMALS))
                for n in chain
            ]
            for chain in _chains(by_class[road_class])
        ]
        features.append(
            RoadClassFeature(
                type="Feature",
                properties=RoadClassProperties(road_class, len(by_class[road_class])),
                geometry=RoadClassGeometry("MultiLineString", lines),
            )
        )
    return features


async def map_roads(ctx: Context) -> EncodedMap:
    """The active road network as GeoJSON lines, built and compressed once per graph.
    Closed roads are not marked here: they come from the closures API, which changes often."""
    authorize(ctx.actor, "places.read")
    async with query(ctx) as conn:
        row = await _active_network_row(conn)
    if row is None:
        raise NotFound("no road network is loaded", field="roads")
    key = (int(row["id"]), str(row["graph_id"]))
    if key not in _ROAD_MAPS:
        network = await active_road_network(ctx)
        document = RoadsMap(
            type="FeatureCollection",
            network=MapNetwork(
                name=row["name"],
                source=row["source"],
                synthetic=row["synthetic"],
                graph_id=row["graph_id"],
                nodes=row["nodes"],
                edges=row["edges"],
            ),
            features=road_features(network),
        )
        body = msgspec.json.encode(document)
        _ROAD_MAPS.clear()
        _ROAD_MAPS[key] = EncodedMap(
            etag=f'"{row["graph_id"]}-{row["id"]}"', body=body, gzipped=gzip.compress(body, 6)
        )
    return _ROAD_MAPS[key]
