"""Where a team on its way is: GPS fixes of a task en route, kept as its track, each
placed on the task's route (its next junction, how far off it is)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import asyncpg

from dispatch.accounts.policy import authorize_task
from dispatch.db import Context, command, view_of
from dispatch.errors import Conflict, InvalidInput, NotFound
from dispatch.incidents.records import network_or_none, task_target
from dispatch.incidents.schemas import PositionReport, PositionView
from dispatch.places.service import to_wgs84
from geo.network import RoadNetwork
from geo.routing import position_near

MAX_OFF_ROUTE_M = 3_000.0  # a fix farther than this from the task's route is not the vehicle
CLOCK_DRIFT = timedelta(minutes=1)  # a tablet's clock may run this far ahead of ours
FIX_FRESH = timedelta(minutes=3)  # a fix older than this no longer says where it is now
POSITION_COLUMNS = "task, at, lat, lon, accuracy_m, next_node, off_route_m"


async def latest_fix(conn: asyncpg.Connection, task_id: int) -> asyncpg.Record | None:
    fix: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {POSITION_COLUMNS} FROM task_position WHERE task=$1 "
        "ORDER BY at DESC, id DESC LIMIT 1",
        task_id,
    )
    return fix


def _where_on_route(
    network: RoadNetwork | None, route: dict[str, Any] | None, lat: float, lon: float
) -> tuple[int | None, float | None]:
    """The index of the route's next junction for the fix, and how far off the route it
    is; unknown without the network the route was computed on."""
    nodes = [int(n) for n in (route or {}).get("nodes", [])]
    if network is None or not nodes or any(n not in network.index for n in nodes):
        return None, None
    next_node, _, off = position_near(network, nodes, lat, lon)
    return next_node, off


async def report_position(ctx: Context, task_id: int, data: PositionReport) -> PositionView:
    """A GPS fix of a task on its way: kept in the task's track (append-only: who sent
    which fix when, so it is not repeated in the audit trail), drawn on the command map,
    and the place its route turns from when a road ahead closes."""
    lat, lon = to_wgs84(data.lat, data.lon, data.system)
    network = await network_or_none(ctx)  # before the command: no second connection inside
    async with command(ctx) as cmd:
        row = await cmd.connection.fetchrow(
            "SELECT id, street, community, status, route, en_route_at FROM task WHERE id=$1",
            task_id,
        )
        if row is None:
            raise NotFound(f"no task {task_id}", field="task_id")
        authorize_task(ctx.actor, "position", await task_target(cmd.connection, row))
        if row["status"] != "en_route" or row["en_route_at"] is None:
            raise Conflict(
                f"a task that is {row['status']} is not on its way: only a task en route "
                "reports where it is",
                field="status",
                task_status=row["status"],
            )
        at = data.at or cmd.now
        if at.tzinfo is None:
            raise InvalidInput("at needs a time zone (e.g. +08:00)", field="at")
        if at > cmd.now + CLOCK_DRIFT:
            raise InvalidInput("at is in the future: check the tablet's clock", field="at")
        if at < row["en_route_at"] - CLOCK_DRIFT:
            raise InvalidInput("at is before the task set off", field="at")
        route = None if row["route"] is None else json.loads(row["route"])
        next_node, off = _where_on_route(network, route, lat, lon)
        if off is not None and off > MAX_OFF_ROUTE_M:
            raise InvalidInput(
                f"the fix is {off / 1000:,.1f} km from the task's route; check the coordinates",
                field="lat",
            )
        fix = await cmd.connection.fetchrow(
            f"""
            INSERT INTO task_position
                (task, at, lat, lon, accuracy_m, next_node, off_route_m, recorded_at, recorded_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {POSITION_COLUMNS}
            """,
            task_id,
            at,
            lat,
            lon,
            data.accuracy_m,
            next_node,
            off,
            cmd.now,
            ctx.actor.username,
        )
        view = view_of(PositionView, fix)
        cmd.emit(
            "task.position",
            {
                "task": task_id,
                "lat": lat,
                "lon": lon,
                "accuracy_m": data.accuracy_m,
                "at": at.isoformat(),
                "next_node": next_node,
            },
            street=row["street"],
            community=row["community"],
        )
    return view
