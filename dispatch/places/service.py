"""Places: the reference geography every other domain hangs on, and loading it from files.

ARCHITECTURE: this module reads and corrects districts, streets, communities and depots and
loads the reference folder; it is also the façade (`__all__`) controllers, the CLI and other
services call as `service.x`. `lookups` is the one lookup of a community, street or depot by
code (with its scope target) every service uses; `networks` stores road networks and builds
the one in force; `maps` encodes the map layers the pages draw.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import asyncpg

from dispatch.accounts.policy import Target, authorize
from dispatch.clock import local
from dispatch.db import Command, Context, command, query
from dispatch.errors import InvalidInput, NotFound
from dispatch.places import lookups
from dispatch.places.maps import (
    EncodedMap,
    boundary_geojson,
    map_boundary,
    map_roads,
    road_features,
)
from dispatch.places.networks import (
    SYNTHETIC_NAME,
    RoadsReport,
    active_road_network,
    load_folder_roads,
    load_roads,
    road_network_info,
)
from dispatch.places.schemas import (
    CommunityView,
    CoordinateCorrection,
    CoordinateSystem,
    DepotView,
    DistrictView,
    LoadReport,
    StreetView,
)
from geo.coords import distance_m, gcj02_to_wgs84

__all__ = [
    "COMMUNITY_COLUMNS",
    "SYNTHETIC_NAME",
    "EncodedMap",
    "RoadsReport",
    "active_road_network",
    "boundary_geojson",
    "correct_coordinates",
    "get_community",
    "get_depot",
    "list_communities",
    "list_depots",
    "list_districts",
    "list_streets",
    "load_reference",
    "load_roads",
    "map_boundary",
    "map_roads",
    "reference_rows",
    "road_features",
    "road_network_info",
    "to_wgs84",
]

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
    centre = await lookups.street(cmd.connection, street)
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


def _located(r: dict[str, str]) -> dict[str, Any]:
    """A reference row's position columns (`tables.Located`)."""
    return {
        "lat": float(r["lat"]),
        "lon": float(r["lon"]),
        "lat_gcj02": _float(r.get("lat_gcj02")),
        "lon_gcj02": _float(r.get("lon_gcj02")),
        "coord_source": r["coord_source"],
    }


def reference_rows(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """The four place tables as rows, from one district's reference folder."""
    district = _district_row(folder)
    streets = [
        {"code": r["code"], "name": r["name"], "district": district["code"], **_located(r)}
        for r in _read_csv(folder / "streets.csv")
    ]
    communities = [
        {
            "code": r["code"],
            "name": r["name"],
            "official_name": r["official_name"],
            "street": r["street_code"],
            "district": district["code"],
            **_located(r),
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
    await load_folder_roads(ctx, folder, report)
    return report
