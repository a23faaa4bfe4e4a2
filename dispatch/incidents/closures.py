"""Roads closed and reopened in an incident (deliveries in transit rerouted round a
closure) and depots out of service."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from dispatch.accounts.policy import authorize
from dispatch.db import Command, Context, command, query, view_of
from dispatch.errors import Conflict, InvalidInput, NotFound
from dispatch.incidents.positions import FIX_FRESH, latest_fix
from dispatch.incidents.records import ACTIVE_INCIDENT, incident_row, network_or_none
from dispatch.incidents.run_reroute import reroute_runs
from dispatch.incidents.schemas import (
    ClosureCreate,
    ClosureView,
    DepotOutageCreate,
    DepotOutageView,
)
from dispatch.incidents.tasks import record_progress
from dispatch.places import lookups as places
from dispatch.roads import closure_of, reroute, road_state, router_ready
from geo.network import RoadNetwork, RoadState

RUNS_IN_PROGRESS = (
    "SELECT EXISTS (SELECT 1 FROM task WHERE kind='delivery' AND vehicle_id IS NOT NULL "
    "AND status IN ('open', 'assigned', 'accepted', 'en_route'))"
)


def _closure_view(
    row: asyncpg.Record, network: RoadNetwork | None, rerouted: list[int] | None = None
) -> ClosureView:
    """The closure, with the road it closes as a [lon, lat] line when it is one road (so a
    map can draw it: the road map carries no node ids)."""
    line = None
    if row["kind"] == "edge" and network is not None:
        ends = [network.latlon(n) for n in (row["u"], row["v"]) if n in network.index]
        line = [[lon, lat] for lat, lon in ends] if len(ends) == 2 else None
    return view_of(ClosureView, row, rerouted_tasks=rerouted or [], line=line)


def _closure_shape(data: ClosureCreate) -> tuple[str, list[Any]]:
    if (data.near is None) == (data.edge is None):
        raise InvalidInput(
            "give either near [lat, lon] with radius_m, or edge [u, v]", field="near"
        )
    if data.near is not None:
        lat, lon = data.near
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InvalidInput("near must be [lat, lon] in degrees", field="near")
        if data.radius_m is None:
            raise InvalidInput("a circle closure needs radius_m", field="radius_m")
        return "circle", [lat, lon, data.radius_m, None, None]
    assert data.edge is not None
    return "edge", [None, None, None, data.edge[0], data.edge[1]]


async def close_road(ctx: Context, incident_id: int, data: ClosureCreate) -> ClosureView:
    """Close roads; deliveries in transit whose route crosses the closure are rerouted."""
    authorize(ctx.actor, "incidents.manage")
    kind, values = _closure_shape(data)
    network = await network_or_none(ctx) if kind == "edge" else None
    if kind == "edge":
        u, v = values[3], values[4]
        if network is None or not ({(u, v), (v, u)} & network.edge_index.keys()):
            raise InvalidInput(f"no road joins nodes {u} and {v}", field="edge")
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await incident_row(conn, incident_id)
        if row["status"] not in ACTIVE_INCIDENT:
            raise Conflict(f"incident {incident_id} is {row['status']}", field="incident_id")
        closure = await conn.fetchrow(
            """
            INSERT INTO road_closure (incident, kind, lat, lon, radius_m, u, v, note, closed_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *
            """,
            incident_id,
            kind,
            *values,
            data.note,
            cmd.now,
        )
        rerouted = await reroute_in_transit(ctx, cmd)
        runs = await _reroute_runs(ctx, cmd, closure)
        await cmd.audit(
            "incidents.close_road",
            "road_closure",
            closure["id"],
            None,
            {"kind": kind, "values": values, "rerouted": rerouted, "rerouted_runs": runs},
        )
        cmd.emit(
            "road.closed",
            {
                "closure": closure["id"],
                "incident": incident_id,
                "kind": kind,
                "lat": values[0],
                "lon": values[1],
                "radius_m": values[2],
                "u": values[3],
                "v": values[4],
            },
        )
        return _closure_view(closure, network, sorted({*rerouted, *runs}))


async def _reroute_runs(ctx: Context, cmd: Command, closure: asyncpg.Record) -> list[int]:
    """Delivery runs whose legs ahead cross the new closure, re-sequenced round it."""
    after = await road_state(ctx, cmd.connection)
    if not await cmd.connection.fetchval(RUNS_IN_PROGRESS):
        return []
    await router_ready(after.network)  # a missing router is built off the event loop
    before = RoadState(after.network, after.closures - {closure_of(closure)}, after.depots_out)
    return await reroute_runs(cmd, before, after)


async def reroute_in_transit(ctx: Context, cmd: Command) -> list[int]:
    """Deliveries not yet arrived whose road ahead now crosses a closure take a new route
    from where they are (a fresh GPS fix, else reckoned from the time on the way)."""
    conn = cmd.connection
    state = await road_state(ctx, conn)
    moving = await conn.fetch(
        "SELECT id, route, street, community, status, en_route_at FROM task "
        "WHERE kind='delivery' AND route IS NOT NULL "
        "AND status IN ('open', 'assigned', 'accepted', 'en_route') ORDER BY id FOR UPDATE"
    )
    if moving:
        await router_ready(state.network)  # a missing router is built off the event loop
    rerouted = []
    for task in moving:
        on_the_way = task["status"] == "en_route" and task["en_route_at"] is not None
        travelled = (cmd.now - task["en_route_at"]).total_seconds() if on_the_way else 0.0
        fix = await latest_fix(conn, task["id"]) if on_the_way else None
        seen = None
        if fix is not None and fix["at"] >= max(task["en_route_at"], cmd.now - FIX_FRESH):
            seen = (fix["lat"], fix["lon"])  # where it was seen, rather than reckoned
        new = reroute(state, json.loads(task["route"]), travelled, seen)
        if new is None:
            continue
        await conn.execute(
            "UPDATE task SET route=$2::jsonb, version=version+1 WHERE id=$1",
            task["id"],
            json.dumps(new),
        )
        await record_progress(cmd, task["id"], "rerouted", None, None, None, "road closed on route")
        cmd.emit(
            "task.rerouted",
            {"task": task["id"], "route": new},
            street=task["street"],
            community=task["community"],
        )
        rerouted.append(task["id"])
    return rerouted


async def reopen_road(ctx: Context, closure_id: int) -> ClosureView:
    authorize(ctx.actor, "incidents.manage")
    network = await network_or_none(ctx)  # before the command: no second connection inside
    async with command(ctx) as cmd:
        row = await cmd.connection.fetchrow(
            "UPDATE road_closure SET opened_at=$2 WHERE id=$1 AND opened_at IS NULL RETURNING *",
            closure_id,
            cmd.now,
        )
        if row is None:
            exists = await cmd.connection.fetchval(
                "SELECT 1 FROM road_closure WHERE id=$1", closure_id
            )
            if not exists:
                raise NotFound(f"no closure {closure_id}", field="closure_id")
            raise Conflict(f"closure {closure_id} is already open", field="closure_id")
        await cmd.audit(
            "incidents.reopen_road", "road_closure", closure_id, {"open": False}, {"open": True}
        )
        cmd.emit("road.opened", {"closure": closure_id})
        return _closure_view(row, network)


async def list_closures(ctx: Context, active: bool = True) -> list[ClosureView]:
    authorize(ctx.actor, "incidents.read")
    async with query(ctx) as conn:
        rows = await conn.fetch(
            "SELECT * FROM road_closure WHERE NOT $1 OR opened_at IS NULL ORDER BY id", active
        )
    one_road = any(r["kind"] == "edge" for r in rows)
    network = await network_or_none(ctx) if one_road else None
    return [_closure_view(r, network) for r in rows]


def _outage_view(row: asyncpg.Record) -> DepotOutageView:
    return view_of(DepotOutageView, row)


async def depot_out(ctx: Context, incident_id: int, data: DepotOutageCreate) -> DepotOutageView:
    authorize(ctx.actor, "incidents.manage")
    async with command(ctx) as cmd:
        conn = cmd.connection
        await incident_row(conn, incident_id)
        depot = await places.depot(conn, data.depot)
        if await conn.fetchval(
            "SELECT 1 FROM depot_outage WHERE depot=$1 AND back_at IS NULL", data.depot
        ):
            raise Conflict(f"depot {data.depot} is already out", field="depot")
        row = await conn.fetchrow(
            "INSERT INTO depot_outage (incident, depot, reason, out_at) VALUES ($1,$2,$3,$4) "
            "RETURNING *",
            incident_id,
            data.depot,
            data.reason,
            cmd.now,
        )
        await cmd.audit("incidents.depot_out", "depot", data.depot, None, {"reason": data.reason})
        cmd.emit(
            "depot.out", {"depot": data.depot, "incident": incident_id}, street=depot["street"]
        )
        return _outage_view(row)


async def depot_back(ctx: Context, outage_id: int) -> DepotOutageView:
    authorize(ctx.actor, "incidents.manage")
    async with command(ctx) as cmd:
        row = await cmd.connection.fetchrow(
            "UPDATE depot_outage SET back_at=$2 WHERE id=$1 AND back_at IS NULL RETURNING *",
            outage_id,
            cmd.now,
        )
        if row is None:
            raise NotFound(f"no open outage {outage_id}", field="outage_id")
        await cmd.audit(
            "incidents.depot_back", "depot", row["depot"], {"out": True}, {"out": False}
        )
        cmd.emit("depot.back", {"depot": row["depot"]})
        return _outage_view(row)


async def list_outages(ctx: Context) -> list[DepotOutageView]:
    authorize(ctx.actor, "incidents.read")
    async with query(ctx) as conn:
        rows = await conn.fetch("SELECT * FROM depot_outage WHERE back_at IS NULL ORDER BY id")
    return [_outage_view(r) for r in rows]
