"""Map layers: the pages draw these as vectors (there is no tile server): the district
outline and the road network in force as one GeoJSON line layer per road class, encoded and
compressed once per graph."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import networkx as nx

from dispatch.accounts.policy import authorize
from dispatch.db import Context, query
from dispatch.errors import NotFound
from dispatch.places.networks import active_network_row, active_road_network, network_fields
from dispatch.places.schemas import (
    MapNetwork,
    RoadClassFeature,
    RoadClassGeometry,
    RoadClassProperties,
    RoadsMap,
)
from geo.network import RoadNetwork

__all__ = [
    "MAP_DECIMALS",
    "ROAD_CLASS_ORDER",
    "EncodedMap",
    "boundary_geojson",
    "map_boundary",
    "map_roads",
    "road_features",
]


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
        row = await active_network_row(conn)
    if row is None:
        raise NotFound("no road network is loaded", field="roads")
    key = (int(row["id"]), str(row["graph_id"]))
    if key not in _ROAD_MAPS:
        network = await active_road_network(ctx)
        document = RoadsMap(
            type="FeatureCollection",
            network=MapNetwork(**network_fields(row)),
            features=road_features(network),
        )
        body = msgspec.json.encode(document)
        _ROAD_MAPS.clear()
        _ROAD_MAPS[key] = EncodedMap(
            etag=f'"{row["graph_id"]}-{row["id"]}"', body=body, gzipped=gzip.compress(body, 6)
        )
    return _ROAD_MAPS[key]
