"""The road network as stored: loading one (a real extract, or the reference folder's
synthetic one), the network in force built once per process and graph, and its summary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import networkx as nx

from dispatch.accounts.policy import authorize
from dispatch.clock import local
from dispatch.db import Context, command, query
from dispatch.errors import InvalidInput, NotFound
from dispatch.places.schemas import LoadReport, RoadNetworkView
from geo.network import RoadNetwork, load_osmnx_csv, normalise_edge

__all__ = [
    "SYNTHETIC_NAME",
    "RoadsReport",
    "active_network_row",
    "active_road_network",
    "load_folder_roads",
    "load_roads",
    "road_network_info",
]


async def load_folder_roads(ctx: Context, folder: Path, report: LoadReport) -> None:
    """A reference folder may ship a road network (Dongcheng's is synthetic); a real network
    loaded with `dispatch load-roads` is never replaced by it."""
    nodes, edges = folder / "roads_nodes.csv", folder / "roads_edges.csv"
    if not (nodes.exists() and edges.exists()):
        return
    async with query(ctx) as conn:
        current = await active_network_row(conn)
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


async def active_network_row(conn: asyncpg.Connection) -> asyncpg.Record | None:
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
        current = await active_network_row(cmd.connection)
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
        current = await active_network_row(conn)
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
        current = await active_network_row(conn)
    if current is None:
        raise NotFound("no road network is loaded", field="roads")
    return RoadNetworkView(
        **network_fields(current),
        id=current["id"],
        loaded_at=local(current["loaded_at"]) or current["loaded_at"],
    )


def network_fields(row: asyncpg.Record) -> dict[str, Any]:
    """What names a road network to its readers (`MapNetwork`), from its record."""
    return {k: row[k] for k in ("name", "source", "synthetic", "graph_id", "nodes", "edges")}
