"""Incidents: declare and run them; requests from communities; closures and outages; tasks
with a state machine and versions so two tablets never silently overwrite each other."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import asyncpg

from dispatch.accounts.policy import (
    Actor,
    Role,
    Target,
    TaskTarget,
    authorize,
    authorize_task,
    enlistable,
)
from dispatch.clock import local
from dispatch.db import Command, Context, command, query, view_of
from dispatch.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed
from dispatch.incidents.schemas import (
    ClosureCreate,
    ClosureView,
    DepotOutageCreate,
    DepotOutageView,
    IncidentAdvance,
    IncidentCreate,
    IncidentStatus,
    IncidentView,
    PositionReport,
    PositionView,
    ProgressView,
    RequestCancel,
    RequestCreate,
    RequestView,
    Summary,
    TaskAssign,
    TaskComplete,
    TaskCreate,
    TaskFail,
    TaskKind,
    TaskNote,
    TaskStatus,
    TaskStep,
    TaskView,
)
from dispatch.people.eligibility import (
    HOURS_LIMIT,
    Job,
    Rule,
    Worker,
    misfits,
    placeable,
    task_hours,
)
from geo.network import RoadNetwork

ACTIVE_INCIDENT = ("declared", "responding")
NEXT_STATUS = {
    IncidentStatus.RESPONDING: ("declared", "responding_at"),
    IncidentStatus.STOOD_DOWN: ("responding", "stood_down_at"),
    IncidentStatus.CLOSED: ("stood_down", "closed_at"),
}
DOOR_CHECK_GROUP = 8  # households per door-check task


# --- incidents -----------------------------------------------------------------------------


async def _incident(
    conn: asyncpg.Connection, incident_id: int, lock: bool = False
) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT * FROM incident WHERE id=$1" + (" FOR UPDATE" if lock else ""), incident_id
    )
    if row is None:
        raise NotFound(f"no incident {incident_id}", field="incident_id")
    return row


async def _incident_view(conn: asyncpg.Connection, row: asyncpg.Record) -> IncidentView:
    communities = await conn.fetch(
        "SELECT community FROM incident_community WHERE incident=$1 ORDER BY community", row["id"]
    )
    return IncidentView(
        id=row["id"],
        type=row["type"],
        level=row["level"],
        title=row["title"],
        status=row["status"],
        communities=[r["community"] for r in communities],
        declared_at=local(row["declared_at"]) or row["declared_at"],
        responding_at=local(row["responding_at"]),
        stood_down_at=local(row["stood_down_at"]),
        closed_at=local(row["closed_at"]),
        declared_by=row["declared_by"],
        summary=None if row["summary"] is None else json.loads(row["summary"]),
    )


async def _community_streets(conn: asyncpg.Connection, codes: Sequence[str]) -> dict[str, str]:
    rows = await conn.fetch("SELECT code, street FROM community WHERE code = ANY($1)", list(codes))
    found = {r["code"]: r["street"] for r in rows}
    for i, code in enumerate(codes):
        if code not in found:
            raise InvalidInput(f"unknown community {code}", field=f"communities[{i}]")
    return found


async def declare_incident(ctx: Context, data: IncidentCreate) -> IncidentView:
    authorize(ctx.actor, "incidents.manage")
    async with command(ctx) as cmd:
        conn = cmd.connection
        streets = await _community_streets(conn, data.communities)
        incident_id: int = await conn.fetchval(
            """
            INSERT INTO incident (type, level, title, status, declared_at, declared_by)
            VALUES ($1, $2, $3, 'declared', $4, $5) RETURNING id
            """,
            data.type.value,
            data.level.value,
            data.title,
            cmd.now,
            ctx.actor.username,
        )
        await conn.executemany(
            "INSERT INTO incident_community (incident, community, street) VALUES ($1, $2, $3)",
            [(incident_id, code, street) for code, street in sorted(streets.items())],
        )
        row = await _incident(conn, incident_id)
        view = await _incident_view(conn, row)
        await cmd.audit(
            "incidents.declare",
            "incident",
            incident_id,
            None,
            {
                "type": view.type,
                "level": view.level,
                "title": view.title,
                "communities": view.communities,
            },
        )
        cmd.emit(
            "incident.declared",
            {
                "incident": incident_id,
                "title": data.title,
                "type": data.type.value,
                "level": data.level.value,
            },
        )
        for code, street in sorted(streets.items()):
            cmd.emit(
                "incident.community",
                {"incident": incident_id, "community": code},
                street=street,
                community=code,
            )
        if data.door_checks:
            await create_door_checks(cmd, incident_id, sorted(streets))
    return view


async def advance_incident(
    ctx: Context,
    incident_id: int,
    target: IncidentStatus,
    data: IncidentAdvance | None = None,
) -> IncidentView:
    """declared -> responding -> stood_down -> closed, each step timed and audited.

    Standing down or closing with work still under way (deliveries on the road, tasks in
    progress) is refused, listing it, unless the caller cancels it (`cancel_open`)."""
    authorize(ctx.actor, "incidents.manage")
    if target not in NEXT_STATUS:
        raise InvalidInput(f"an incident cannot be moved to {target.value}", field="status")
    data = data or IncidentAdvance()
    if data.cancel_open and data.reason is None:
        raise InvalidInput(
            "say why the open tasks and deliveries are cancelled",
            field="reason",
            code="incident.cancel_needs_reason",
        )
    expected, stamp = NEXT_STATUS[target]
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await _incident(conn, incident_id, lock=True)
        if row["status"] != expected:
            raise Conflict(
                f"incident {incident_id} is {row['status']}; {target.value} follows {expected}",
                field="status",
            )
        if target is not IncidentStatus.RESPONDING:
            await settle_open_work(cmd, incident_id, data)
            await _close_open_requests(cmd, incident_id, f"incident {target.value}")
        summary = None
        if target is IncidentStatus.CLOSED:
            summary = await incident_summary(conn, incident_id)
        await conn.execute(
            f"UPDATE incident SET status=$2, {stamp}=$3, summary=COALESCE($4::jsonb, summary) "
            "WHERE id=$1",
            incident_id,
            target.value,
            cmd.now,
            None if summary is None else json.dumps(_summary_dict(summary), ensure_ascii=False),
        )
        await cmd.audit(
            f"incidents.{target.value}",
            "incident",
            incident_id,
            {"status": row["status"]},
            {"status": target.value},
        )
        cmd.emit(f"incident.{target.value}", {"incident": incident_id})
        return await _incident_view(conn, await _incident(conn, incident_id))


async def _close_open_requests(cmd: Command, incident_id: int, reason: str) -> None:
    """Standing down closes what was never planned as unmet, so the summary says so (and
    closing, what a cancelled delivery opened again)."""
    rows = await cmd.connection.fetch(
        """
        UPDATE supply_request SET status='unmet', unmet_reason=$2
        WHERE incident=$1 AND status='open' RETURNING id, street, community
        """,
        incident_id,
        reason,
    )
    for r in rows:
        cmd.emit(
            "request.unmet",
            {"request": r["id"], "reason": reason},
            street=r["street"],
            community=r["community"],
        )


async def list_incidents(ctx: Context, status: str | None = None) -> list[IncidentView]:
    authorize(ctx.actor, "incidents.read")
    async with query(ctx) as conn:
        rows = await conn.fetch(
            "SELECT * FROM incident WHERE $1::varchar IS NULL OR status=$1 ORDER BY id DESC",
            status,
        )
        return [await _incident_view(conn, r) for r in rows]


async def get_incident(ctx: Context, incident_id: int) -> IncidentView:
    authorize(ctx.actor, "incidents.read")
    async with query(ctx) as conn:
        return await _incident_view(conn, await _incident(conn, incident_id))


# --- closures and depot outages ----------------------------------------------------------------


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


async def _network_or_none(ctx: Context) -> RoadNetwork | None:
    from dispatch.places.service import active_road_network

    try:
        return await active_road_network(ctx)
    except NotFound:
        return None


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
    network = await _network_or_none(ctx) if kind == "edge" else None
    if kind == "edge":
        u, v = values[3], values[4]
        if network is None or not ({(u, v), (v, u)} & network.edge_index.keys()):
            raise InvalidInput(f"no road joins nodes {u} and {v}", field="edge")
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await _incident(conn, incident_id)
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
        await cmd.audit(
            "incidents.close_road",
            "road_closure",
            closure["id"],
            None,
            {"kind": kind, "values": values, "rerouted": rerouted},
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
        return _closure_view(closure, network, rerouted)


async def reroute_in_transit(ctx: Context, cmd: Command) -> list[int]:
    from dispatch.planning.service import reroute, road_state

    conn = cmd.connection
    state = await road_state(ctx, conn)
    moving = await conn.fetch(
        "SELECT id, route, street, community, status, en_route_at FROM task "
        "WHERE kind='delivery' AND route IS NOT NULL "
        "AND status IN ('open', 'assigned', 'accepted', 'en_route') ORDER BY id FOR UPDATE"
    )
    rerouted = []
    for task in moving:
        on_the_way = task["status"] == "en_route" and task["en_route_at"] is not None
        travelled = (cmd.now - task["en_route_at"]).total_seconds() if on_the_way else 0.0
        fix = await _latest_fix(conn, task["id"]) if on_the_way else None
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
        await _progress(cmd, task["id"], "rerouted", None, None, None, "road closed on route")
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
    network = await _network_or_none(ctx)  # before the command: no second connection inside
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
    network = await _network_or_none(ctx) if one_road else None
    return [_closure_view(r, network) for r in rows]


def _outage_view(row: asyncpg.Record) -> DepotOutageView:
    return view_of(DepotOutageView, row)


async def depot_out(ctx: Context, incident_id: int, data: DepotOutageCreate) -> DepotOutageView:
    authorize(ctx.actor, "incidents.manage")
    async with command(ctx) as cmd:
        conn = cmd.connection
        await _incident(conn, incident_id)
        depot = await conn.fetchrow("SELECT code, street FROM depot WHERE code=$1", data.depot)
        if depot is None:
            raise InvalidInput(f"unknown depot {data.depot}", field="depot")
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


# --- requests ------------------------------------------------------------------------------


def _request_view(row: asyncpg.Record) -> RequestView:
    return view_of(RequestView, row)


async def create_request(ctx: Context, incident_id: int, data: RequestCreate) -> RequestView:
    """A community (or the 12345 hotline, entered by a worker) asks for supplies."""
    async with command(ctx) as cmd:
        conn = cmd.connection
        incident = await _incident(conn, incident_id)
        street = await conn.fetchval("SELECT street FROM community WHERE code=$1", data.community)
        if street is None:
            raise InvalidInput(f"unknown community {data.community}", field="community")
        authorize(ctx.actor, "requests.create", Target(street, data.community))
        if incident["status"] not in ACTIVE_INCIDENT:
            raise Conflict(f"incident {incident_id} is {incident['status']}", field="incident_id")
        if not await conn.fetchval("SELECT 1 FROM item WHERE code=$1", data.item):
            raise InvalidInput(f"unknown item {data.item}", field="item")
        await conn.execute(
            "INSERT INTO incident_community (incident, community, street) VALUES ($1,$2,$3) "
            "ON CONFLICT DO NOTHING",
            incident_id,
            data.community,
            street,
        )
        row = await conn.fetchrow(
            """
            INSERT INTO supply_request (incident, community, street, item, quantity, priority,
                need_by, source, note, status, created_at, created_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10, $11) RETURNING *
            """,
            incident_id,
            data.community,
            street,
            data.item,
            data.quantity,
            data.priority.value,
            data.need_by,
            data.source.value,
            data.note,
            cmd.now,
            ctx.actor.username,
        )
        view = _request_view(row)
        await cmd.audit(
            "requests.create",
            "supply_request",
            view.id,
            None,
            {
                "community": view.community,
                "item": view.item,
                "quantity": view.quantity,
                "priority": view.priority,
                "source": view.source,
            },
        )
        cmd.emit(
            "request.created",
            {
                "request": view.id,
                "incident": incident_id,
                "item": view.item,
                "quantity": view.quantity,
                "priority": view.priority,
            },
            street=street,
            community=data.community,
        )
        return view


async def cancel_request(ctx: Context, request_id: int, data: RequestCancel) -> RequestView:
    async with command(ctx) as cmd:
        row = await cmd.connection.fetchrow(
            "SELECT * FROM supply_request WHERE id=$1 FOR UPDATE", request_id
        )
        if row is None:
            raise NotFound(f"no request {request_id}", field="request_id")
        authorize(ctx.actor, "requests.create", Target(row["street"], row["community"]))
        if row["status"] != "open":
            raise Conflict(
                f"request {request_id} is {row['status']}; only open requests can be cancelled",
                field="request_id",
            )
        updated = await cmd.connection.fetchrow(
            "UPDATE supply_request SET status='cancelled', unmet_reason=$2 WHERE id=$1 RETURNING *",
            request_id,
            data.reason,
        )
        await cmd.audit(
            "requests.cancel",
            "supply_request",
            request_id,
            {"status": "open"},
            {"status": "cancelled", "reason": data.reason},
        )
        cmd.emit(
            "request.cancelled",
            {"request": request_id},
            street=row["street"],
            community=row["community"],
        )
        return _request_view(updated)


def _scope_clause(ctx: Context, args: list[Any]) -> str:
    """Rows a scoped actor may see: their street's, or their community's."""
    actor = ctx.actor
    if actor.is_district_wide:
        return "TRUE"
    if actor.street is not None:
        args.append(actor.street)
        return f"street = ${len(args)}"
    args.append(actor.community)
    return f"community = ${len(args)}"


async def list_requests(
    ctx: Context, incident_id: int, status: str | None = None
) -> list[RequestView]:
    authorize(ctx.actor, "requests.read")
    args: list[Any] = [incident_id, status]
    where = _scope_clause(ctx, args)
    async with query(ctx) as conn:
        await _incident(conn, incident_id)
        rows = await conn.fetch(
            f"SELECT * FROM supply_request WHERE incident=$1 AND ($2::varchar IS NULL OR "
            f"status=$2) AND {where} ORDER BY id",
            *args,
        )
    return [_request_view(r) for r in rows]


async def get_request(ctx: Context, request_id: int) -> RequestView:
    authorize(ctx.actor, "requests.read")
    async with query(ctx) as conn:
        row = await conn.fetchrow("SELECT * FROM supply_request WHERE id=$1", request_id)
    if row is None or not ctx.actor.covers(Target(row["street"], row["community"])):
        raise NotFound(f"no request {request_id}", field="request_id")
    return _request_view(row)


# --- tasks ---------------------------------------------------------------------------------

TASK_ACTIVE = ("open", "assigned", "accepted", "en_route")
TRANSITIONS: dict[str, tuple[frozenset[str], TaskStatus | None]] = {
    "assign": (frozenset({"open", "assigned"}), TaskStatus.ASSIGNED),
    "accept": (frozenset({"assigned"}), TaskStatus.ACCEPTED),
    "start": (frozenset({"accepted"}), TaskStatus.EN_ROUTE),
    "complete": (frozenset({"accepted", "en_route"}), TaskStatus.DONE),
    "fail": (frozenset(TASK_ACTIVE), TaskStatus.FAILED),
    "cancel": (frozenset(TASK_ACTIVE), TaskStatus.CANCELLED),
    "note": (frozenset(TASK_ACTIVE), None),
}
IN_PROGRESS = frozenset({"accepted", "en_route"})
STAMPS = {
    TaskStatus.ASSIGNED: "assigned_at",
    TaskStatus.ACCEPTED: "accepted_at",
    TaskStatus.EN_ROUTE: "en_route_at",
    TaskStatus.DONE: "finished_at",
    TaskStatus.FAILED: "finished_at",
    TaskStatus.CANCELLED: "finished_at",
}


async def _task_view(conn: asyncpg.Connection, row: asyncpg.Record) -> TaskView:
    people = await conn.fetch(
        "SELECT person FROM task_assignee WHERE task=$1 ORDER BY person", row["id"]
    )
    fix = await _latest_fix(conn, row["id"]) if row["status"] == "en_route" else None
    return view_of(
        TaskView,
        row,
        skills=list(row["skills"]),
        transfer=row["transfer_id"],
        request=row["request_id"],
        route=None if row["route"] is None else json.loads(row["route"]),
        households=list(row["households"]),
        assignees=[r["person"] for r in people],
        position=None if fix is None else view_of(PositionView, fix),
    )


# --- where a team on its way is --------------------------------------------------------------

MAX_OFF_ROUTE_M = 3_000.0  # a fix farther than this from the task's route is not the vehicle
CLOCK_DRIFT = timedelta(minutes=1)  # a tablet's clock may run this far ahead of ours
FIX_FRESH = timedelta(minutes=3)  # a fix older than this no longer says where it is now
POSITION_COLUMNS = "task, at, lat, lon, accuracy_m, next_node, off_route_m"


async def _latest_fix(conn: asyncpg.Connection, task_id: int) -> asyncpg.Record | None:
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
    from geo.routing import position_near

    nodes = [int(n) for n in (route or {}).get("nodes", [])]
    if network is None or not nodes or any(n not in network.index for n in nodes):
        return None, None
    next_node, _, off = position_near(network, nodes, lat, lon)
    return next_node, off


async def report_position(ctx: Context, task_id: int, data: PositionReport) -> PositionView:
    """A GPS fix of a task on its way: kept in the task's track (append-only: who sent
    which fix when, so it is not repeated in the audit trail), drawn on the command map,
    and the place its route turns from when a road ahead closes."""
    from dispatch.places.service import to_wgs84

    lat, lon = to_wgs84(data.lat, data.lon, data.system)
    network = await _network_or_none(ctx)  # before the command: no second connection inside
    async with command(ctx) as cmd:
        row = await cmd.connection.fetchrow(
            "SELECT id, street, community, status, route, en_route_at FROM task WHERE id=$1",
            task_id,
        )
        if row is None:
            raise NotFound(f"no task {task_id}", field="task_id")
        authorize_task(ctx.actor, "position", await _task_target(cmd.connection, row))
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


async def _insert_task(
    cmd: Command,
    incident: int,
    kind: TaskKind,
    community: str,
    street: str,
    people: int,
    skills: Sequence[str],
    minutes: int,
    **extra: Any,
) -> int:
    columns = [
        "incident",
        "kind",
        "community",
        "street",
        "people_needed",
        "skills",
        "minutes",
        "status",
        "created_at",
        *extra,
    ]
    values = [
        incident,
        kind.value,
        community,
        street,
        people,
        list(skills),
        minutes,
        "open",
        cmd.now,
        *extra.values(),
    ]
    placeholders = ", ".join(f"${i + 1}" for i in range(len(values)))
    task_id: int = await cmd.connection.fetchval(
        f"INSERT INTO task ({', '.join(columns)}) VALUES ({placeholders}) RETURNING id", *values
    )
    await _progress(cmd, task_id, "created", None, "open", None, None)
    cmd.emit(
        "task.created",
        {"task": task_id, "incident": incident, "kind": kind.value, "status": "open"},
        street=street,
        community=community,
    )
    return task_id


async def create_task(ctx: Context, incident_id: int, data: TaskCreate) -> TaskView:
    async with command(ctx) as cmd:
        conn = cmd.connection
        incident = await _incident(conn, incident_id)
        street = await conn.fetchval("SELECT street FROM community WHERE code=$1", data.community)
        if street is None:
            raise InvalidInput(f"unknown community {data.community}", field="community")
        authorize(ctx.actor, "tasks.create", Target(street, data.community))
        await _active_incident(conn, incident["id"], "created")
        if data.kind is TaskKind.DELIVERY:
            raise InvalidInput("delivery tasks come from approved plans", field="kind")
        known = {r["code"] for r in await conn.fetch("SELECT code FROM skill")}
        for i, skill in enumerate(data.skills):
            if skill not in known:
                raise InvalidInput(f"unknown skill {skill}", field=f"skills[{i}]")
        task_id = await _insert_task(
            cmd,
            incident_id,
            data.kind,
            data.community,
            street,
            data.people,
            data.skills,
            data.minutes,
            note=data.note,
            concurrent=data.concurrent,
        )
        await cmd.audit(
            "tasks.create",
            "task",
            task_id,
            None,
            {"kind": data.kind.value, "community": data.community, "people": data.people},
        )
        return await _task_view(
            conn, await conn.fetchrow("SELECT * FROM task WHERE id=$1", task_id)
        )


async def create_delivery_task(
    cmd: Command, incident: int, line: asyncpg.Record, qty: int, transfer_id: int
) -> int:
    """One delivery task per approved transfer, for the receiving community's street."""
    street = await cmd.connection.fetchval(
        "SELECT street FROM community WHERE code=$1", line["community"]
    )
    task_id = await _insert_task(
        cmd,
        incident,
        TaskKind.DELIVERY,
        line["community"],
        street,
        2,
        ["driving"],
        max(30, math.ceil(float(line["eta_s"]) / 60) * 2),
        transfer_id=transfer_id,
        request_id=line["request"],
        plan_line=line["id"],
        route=line["route"],
        note=f"{qty} x {line['item']} from {line['depot']}",
    )
    await cmd.connection.execute(
        "UPDATE stock_transfer SET task_id=$2 WHERE id=$1", transfer_id, task_id
    )
    return task_id


async def create_door_checks(cmd: Command, incident: int, communities: Sequence[str]) -> list[int]:
    """Care households first: grouped door checks per community, nearest to the centre first;
    elderly households need `elderly_care`, others `first_aid`."""
    created = []
    for community in communities:
        rows = await cmd.connection.fetch(
            "SELECT h.id, h.kind, h.street FROM care_household h WHERE h.community=$1 "
            "ORDER BY h.kind = 'elderly_alone' DESC, h.id",
            community,
        )
        for start in range(0, len(rows), DOOR_CHECK_GROUP):
            group = rows[start : start + DOOR_CHECK_GROUP]
            elderly = any(r["kind"] == "elderly_alone" for r in group)
            task_id = await _insert_task(
                cmd,
                incident,
                TaskKind.DOOR_CHECK,
                community,
                group[0]["street"],
                2,
                ["elderly_care"] if elderly else ["first_aid"],
                15 * len(group),
                households=[r["id"] for r in group],
            )
            created.append(task_id)
    return created


async def _progress(
    cmd: Command,
    task_id: int,
    event: str,
    from_status: str | None,
    to_status: str | None,
    quantity: int | None,
    note: str | None,
) -> None:
    await cmd.connection.execute(
        """
        INSERT INTO task_progress (task, at, actor, event, from_status, to_status, quantity, note)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        """,
        task_id,
        cmd.now,
        cmd.ctx.actor.username,
        event,
        from_status,
        to_status,
        quantity,
        note,
    )


async def _task_target(conn: asyncpg.Connection, row: asyncpg.Record) -> TaskTarget:
    people = await conn.fetch("SELECT person FROM task_assignee WHERE task=$1", row["id"])
    return TaskTarget(
        row["id"], row["street"], row["community"], frozenset(r["person"] for r in people)
    )


async def _active_incident(conn: asyncpg.Connection, incident_id: int, doing: str) -> None:
    """Nothing is assigned, created or begun in an incident stood down or closed (409)."""
    status = await conn.fetchval("SELECT status FROM incident WHERE id=$1", incident_id)
    if status not in ACTIVE_INCIDENT:
        raise Conflict(
            f"incident {incident_id} is {status}: nothing more is {doing} in it",
            field="incident_id",
            code="incident.not_active",
            params={"incident": incident_id, "status": status},
        )


async def _locked_task(cmd: Command, task_id: int, action: str, version: int) -> asyncpg.Record:
    """The task row, locked, after who-may-act (403), version (412) and transition (409)
    checks."""
    row = await cmd.connection.fetchrow("SELECT * FROM task WHERE id=$1 FOR UPDATE", task_id)
    if row is None:
        raise NotFound(f"no task {task_id}", field="task_id")
    authorize_task(cmd.ctx.actor, action, await _task_target(cmd.connection, row))
    if row["version"] != version:
        raise PreconditionFailed(
            f"task {task_id} changed since version {version}; it is at version "
            f"{row['version']} ({row['status']}): reload and retry",
            field="version",
            current_version=row["version"],
            task_status=row["status"],
        )
    allowed, _ = TRANSITIONS[action]
    if row["status"] not in allowed:
        raise Conflict(
            f"a task that is {row['status']} cannot {action}",
            field="status",
            task_status=row["status"],
        )
    return row


async def _move(
    cmd: Command,
    row: asyncpg.Record,
    action: str,
    remark: str | None,
    quantity: int | None = None,
    **sets: Any,
) -> TaskView:
    _, target = TRANSITIONS[action]
    status = row["status"] if target is None else target.value
    assignments = {"status": status, **sets}
    if target is not None and target in STAMPS:
        assignments[STAMPS[target]] = cmd.now
    names = list(assignments)
    clause = ", ".join(f"{n}=${i + 2}" for i, n in enumerate(names))
    updated = await cmd.connection.fetchrow(
        f"UPDATE task SET {clause}, version=version+1 WHERE id=$1 RETURNING *",
        row["id"],
        *assignments.values(),
    )
    await _progress(cmd, row["id"], action, row["status"], status, quantity, remark)
    await cmd.audit(
        f"tasks.{action}",
        "task",
        row["id"],
        {"status": row["status"], "version": row["version"]},
        {
            "status": status,
            "version": updated["version"],
            **({"quantity": quantity} if quantity is not None else {}),
        },
    )
    cmd.emit(
        f"task.{status if target is not None else 'note'}",
        {
            "task": row["id"],
            "incident": row["incident"],
            "status": status,
            "version": updated["version"],
            "kind": row["kind"],
        },
        street=row["street"],
        community=row["community"],
    )
    return await _task_view(cmd.connection, updated)


def _job(row: asyncpg.Record) -> Job:
    return Job(
        task=row["id"],
        street=row["street"],
        community=row["community"],
        skills=frozenset(row["skills"]),
        hours=task_hours(row["minutes"]),
        concurrent=row["concurrent"],
    )


def _refusal(row: asyncpg.Record, worker: Worker, rule: Rule) -> InvalidInput | Conflict:
    """422 for a person who does not fit the task, 409 for one already on another."""
    job = _job(row)
    params: dict[str, Any] = {"person": worker.name, "person_id": worker.id, "task": row["id"]}
    if rule is Rule.SKILLS:
        params["skills"] = ", ".join(sorted(job.skills - worker.skills))
        why = f"lacks {params['skills']}"
    elif rule is Rule.HOURS:
        params.update(hours=round(worker.hours_today, 2), task_hours=job.hours, limit=HOURS_LIMIT)
        why = f"has worked {worker.hours_today:.1f} h today; {job.hours:g} h more passes the day"
    elif rule is Rule.ONE_TASK:
        params["tasks"] = ", ".join(str(t) for t in sorted(worker.tasks - {job.task}))
        why = f"is already on task {params['tasks']}"
    else:
        params["street"] = job.street
        why = f"is not of street {job.street} nor of a unit paired with a community there"
    error = Conflict if rule is Rule.ONE_TASK else InvalidInput
    return error(
        f"{worker.name} (person {worker.id}) {why}: the {rule.value} rule",
        field="people",
        code=f"assign.{rule.value}",
        params=params,
        rule=rule.value,
    )


async def _check_assignees(cmd: Command, row: asyncpg.Record, data: TaskAssign) -> list[int]:
    """The people to put on the task, by the rules the suggestions follow; a commander's
    stated reason overrides a refusal, and the override is audited."""
    from dispatch.people.service import check_enlistable, load_workers

    conn = cmd.connection
    people = sorted(set(data.people))
    # a person is put on one task at a time: concurrent assignments of them queue here
    await conn.execute("SELECT 1 FROM person WHERE id = ANY($1::int[]) FOR UPDATE", people)
    workers = await load_workers(conn, cmd.now, people)
    missing = sorted(set(people) - set(workers))
    if missing:
        raise InvalidInput(f"unknown or inactive people {missing}", field="people")
    check_enlistable(cmd.ctx.actor, list(workers.values()), "people")
    refused = {p: rules for p in people if (rules := misfits(workers[p], _job(row)))}
    if not refused:
        return people
    first = min(refused)
    if data.override_reason is None:
        raise _refusal(row, workers[first], refused[first][0])
    if cmd.ctx.actor.role is not Role.COMMANDER:
        raise Forbidden(
            "only a commander may override the assignment rules",
            field="override_reason",
            code="forbidden.override",
            params={"person": workers[first].name, "rule": refused[first][0].value},
        )
    await cmd.audit(
        "tasks.assign_override",
        "task",
        row["id"],
        None,
        {
            "reason": data.override_reason,
            "overridden": [{"person": p, "rules": [r.value for r in refused[p]]} for p in refused],
        },
    )
    return people


async def assign_task(ctx: Context, task_id: int, data: TaskAssign) -> TaskView:
    """Put people on a task: the same rules as the suggestions (`people.eligibility`)."""
    async with command(ctx) as cmd:
        row = await _locked_task(cmd, task_id, "assign", data.version)
        await _active_incident(cmd.connection, row["incident"], "assigned")
        people = await _check_assignees(cmd, row, data)
        await cmd.connection.execute("DELETE FROM task_assignee WHERE task=$1", task_id)
        await cmd.connection.executemany(
            "INSERT INTO task_assignee (task, person, assigned_at) VALUES ($1, $2, $3)",
            [(task_id, p, cmd.now) for p in people],
        )
        return await _move(cmd, row, "assign", data.note, len(people))


async def step_task(ctx: Context, task_id: int, action: str, data: TaskStep) -> TaskView:
    """accept (the assignee takes it on the tablet) or start (picked up, en route)."""
    async with command(ctx) as cmd:
        row = await _locked_task(cmd, task_id, action, data.version)
        await _active_incident(cmd.connection, row["incident"], "begun")
        return await _move(cmd, row, action, data.note)


async def complete_task(
    ctx: Context, task_id: int, data: TaskComplete, key: str | None = None
) -> TaskView:
    """Done. A delivery receives its transfer with the delivered quantity and fulfils the
    request by as much; a door check records the households checked."""
    async with command(ctx) as cmd:
        row = await _locked_task(cmd, task_id, "complete", data.version)
        if row["kind"] == TaskKind.DELIVERY.value:
            if row["status"] != "en_route":
                raise Conflict(
                    "a delivery is picked up (en route) before it is delivered",
                    field="status",
                    status=row["status"],
                )
            delivered = await _deliver(cmd, row, data, key)
            return await _move(cmd, row, "complete", data.note, delivered, delivered_qty=delivered)
        checked = data.households_checked
        if checked is None:
            checked = len(row["households"])
        if row["households"] and checked > len(row["households"]):
            raise InvalidInput(
                f"the task has {len(row['households'])} households", field="households_checked"
            )
        return await _move(cmd, row, "complete", data.note, checked, households_checked=checked)


async def _deliver(cmd: Command, row: asyncpg.Record, data: TaskComplete, key: str | None) -> int:
    from dispatch.stock.schemas import ReceivedLine, TransferReceive
    from dispatch.stock.service import receive_transfer

    conn = cmd.connection
    line = await conn.fetchrow(
        "SELECT item, sum(qty_sent)::int AS sent FROM stock_transfer_pick WHERE transfer=$1 "
        "GROUP BY item",
        row["transfer_id"],
    )
    sent = int(line["sent"])
    delivered = sent if data.delivered is None else data.delivered
    if delivered > sent:
        raise InvalidInput(f"only {sent} were sent", field="delivered")
    if delivered < sent and not data.shortfall_reason:
        raise InvalidInput(f"{sent - delivered} short: say why", field="shortfall_reason")
    await receive_transfer(
        cmd.ctx,
        row["transfer_id"],
        TransferReceive(
            lines=[ReceivedLine(item=line["item"], qty=delivered)],
            shortfall_reason=data.shortfall_reason if delivered < sent else None,
        ),
        f"{key}:receive" if key else None,
    )
    request = await conn.fetchrow(
        """
        UPDATE supply_request SET delivered_qty = delivered_qty + $2,
            planned_qty = planned_qty - $3,
            status = CASE WHEN delivered_qty + $2 >= quantity THEN 'fulfilled'
                          ELSE 'partially_fulfilled' END,
            fulfilled_at = CASE WHEN delivered_qty + $2 >= quantity THEN $4 ELSE fulfilled_at END
        WHERE id=$1 RETURNING *
        """,
        row["request_id"],
        delivered,
        sent - delivered,
        cmd.now,
    )
    cmd.emit(
        "request.delivered",
        {"request": request["id"], "delivered": delivered, "status": request["status"]},
        street=request["street"],
        community=request["community"],
    )
    return delivered


async def fail_task(ctx: Context, task_id: int, data: TaskFail) -> TaskView:
    async with command(ctx) as cmd:
        row = await _locked_task(cmd, task_id, "fail", data.version)
        await _release_delivery(cmd, row, data.reason)
        return await _move(cmd, row, "fail", data.reason, failed_reason=data.reason)


async def cancel_task(ctx: Context, task_id: int, data: TaskFail) -> TaskView:
    async with command(ctx) as cmd:
        row = await _locked_task(cmd, task_id, "cancel", data.version)
        await _release_delivery(cmd, row, data.reason)
        return await _move(cmd, row, "cancel", data.reason, failed_reason=data.reason)


# --- what stands down with an incident -------------------------------------------------------

OPEN_TASKS = """
SELECT t.*, c.name AS community_name, tr.status AS transfer_status,
       array(SELECT p.name FROM task_assignee a JOIN person p ON p.id = a.person
             WHERE a.task = t.id ORDER BY p.id) AS people
FROM task t JOIN community c ON c.code = t.community
LEFT JOIN stock_transfer tr ON tr.id = t.transfer_id
WHERE t.incident = $1 AND t.status = ANY($2::varchar[])
ORDER BY t.id FOR UPDATE OF t
"""
LOOSE_TRANSFERS = """
SELECT tr.id, tr.status, tr.source, d.name AS source_name,
       coalesce(tr.dest_community, tr.dest_depot) AS dest, coalesce(dc.name, dd.name) AS dest_name,
       array(SELECT i.name_zh FROM stock_transfer_line l JOIN item i ON i.code = l.item
             WHERE l.transfer = tr.id ORDER BY l.id) AS items
FROM stock_transfer tr JOIN depot d ON d.code = tr.source
LEFT JOIN community dc ON dc.code = tr.dest_community
LEFT JOIN depot dd ON dd.code = tr.dest_depot
WHERE tr.incident_id = $1 AND tr.status IN ('planned', 'dispatched')
  AND NOT (tr.id = ANY($2::bigint[]))
ORDER BY tr.id
"""


def _task_entry(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "task": row["id"],
        "kind": row["kind"],
        "status": row["status"],
        "community": row["community"],
        "community_name": row["community_name"],
        "people": list(row["people"]),
        "transfer": row["transfer_id"],
    }


def _transfer_entry(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "transfer": row["id"],
        "kind": "transfer",
        "status": row["status"],
        "source": row["source"],
        "source_name": row["source_name"],
        "dest": row["dest"],
        "dest_name": row["dest_name"],
        "items": list(row["items"]),
    }


def _under_way(entry: dict[str, Any], transfer_status: str | None) -> bool:
    """In progress: a task accepted or on its way, a delivery whose stock has left."""
    return entry["status"] in IN_PROGRESS or "dispatched" in (entry["status"], transfer_status)


def _open_work_refused(incident_id: int, under_way: list[dict[str, Any]]) -> Conflict:
    names = [
        f"task {e['task']} ({e['kind']}, {e['community_name']})"
        if "task" in e
        else f"transfer {e['transfer']} ({e['source_name']} → {e['dest_name']})"
        for e in under_way
    ]
    return Conflict(
        f"incident {incident_id} still has work under way: {'; '.join(names)}. Finish it, or "
        "send cancel_open with a reason to cancel it (its stock returns to its depot)",
        field="cancel_open",
        code="incident.open_work",
        params={"incident": incident_id, "count": len(names), "names": "; ".join(names)},
        open=under_way,
    )


async def settle_open_work(cmd: Command, incident_id: int, data: IncidentAdvance) -> None:
    """Before standing down or closing: refuse (409) while deliveries are on their way or
    tasks in progress, unless the caller cancels them; with `cancel_open`, every task still
    open and every transfer not yet received is cancelled with the reason, its stock
    returned to its depot by the stock commands."""
    conn = cmd.connection
    tasks = await conn.fetch(OPEN_TASKS, incident_id, list(TASK_ACTIVE))
    linked = [t["transfer_id"] for t in tasks if t["transfer_id"] is not None]
    transfers = await conn.fetch(LOOSE_TRANSFERS, incident_id, linked)
    entries = [(_task_entry(t), t["transfer_status"]) for t in tasks]
    entries += [(_transfer_entry(t), None) for t in transfers]
    if not data.cancel_open:
        under_way = [e for e, transfer in entries if _under_way(e, transfer)]
        if under_way:
            raise _open_work_refused(incident_id, under_way)
        return
    from dispatch.stock.schemas import TransferCancel
    from dispatch.stock.service import cancel_transfer

    assert data.reason is not None
    for task in tasks:
        await _release_delivery(cmd, task, data.reason)
        await _move(cmd, task, "cancel", data.reason, failed_reason=data.reason)
    for transfer in transfers:
        await cancel_transfer(cmd.ctx, transfer["id"], TransferCancel(reason=data.reason))
    if entries:
        await cmd.audit(
            "incidents.cancel_open",
            "incident",
            incident_id,
            {"open": [e for e, _ in entries]},
            {"reason": data.reason, "cancelled": len(entries)},
        )


async def _release_delivery(cmd: Command, row: asyncpg.Record, reason: str) -> None:
    """A delivery that will not arrive: its stock returns and its request is open again."""
    if row["kind"] != TaskKind.DELIVERY.value or row["transfer_id"] is None:
        return
    from dispatch.stock.schemas import TransferCancel
    from dispatch.stock.service import cancel_transfer

    # The rule "a failed delivery returns its stock" acts, not the caller: a street leader
    # may fail their street's delivery even when it came from the district reserve.
    on_behalf = Context(
        Actor(None, f"system:task-{row['id']}", Role.COMMANDER), cmd.ctx.clock, cmd.ctx.exercise
    )
    await cancel_transfer(on_behalf, row["transfer_id"], TransferCancel(reason=reason))
    sent = await cmd.connection.fetchval(
        "SELECT coalesce(sum(qty_sent), 0)::int FROM stock_transfer_pick WHERE transfer=$1",
        row["transfer_id"],
    )
    await cmd.connection.execute(
        "UPDATE supply_request SET planned_qty = greatest(planned_qty - $2, 0), status = CASE "
        "WHEN delivered_qty > 0 THEN 'partially_fulfilled' ELSE 'open' END WHERE id=$1",
        row["request_id"],
        sent,
    )


async def note_task(ctx: Context, task_id: int, data: TaskNote) -> TaskView:
    async with command(ctx) as cmd:
        row = await _locked_task(cmd, task_id, "note", data.version)
        return await _move(cmd, row, "note", data.note, note=data.note)


async def list_tasks(
    ctx: Context, incident_id: int | None = None, status: str | None = None
) -> list[TaskView]:
    authorize(ctx.actor, "tasks.read")
    args: list[Any] = [incident_id, status]
    where = _scope_clause(ctx, args)
    async with query(ctx) as conn:
        rows = await conn.fetch(
            f"SELECT * FROM task WHERE ($1::bigint IS NULL OR incident=$1) AND "
            f"($2::varchar IS NULL OR status=$2) AND {where} ORDER BY id",
            *args,
        )
        return [await _task_view(conn, r) for r in rows]


async def get_task(ctx: Context, task_id: int) -> TaskView:
    authorize(ctx.actor, "tasks.read")
    async with query(ctx) as conn:
        row = await conn.fetchrow("SELECT * FROM task WHERE id=$1", task_id)
        if row is None or not ctx.actor.covers(Target(row["street"], row["community"])):
            raise NotFound(f"no task {task_id}", field="task_id")
        return await _task_view(conn, row)


async def task_track(ctx: Context, task_id: int) -> list[PositionView]:
    """Where the team was seen on its way, fix by fix in time order: for the map while it
    drives, and for the review after."""
    await get_task(ctx, task_id)  # scope: another street's task is not there (404)
    async with query(ctx) as conn:
        rows = await conn.fetch(
            f"SELECT {POSITION_COLUMNS} FROM task_position WHERE task=$1 ORDER BY at, id",
            task_id,
        )
    return [view_of(PositionView, r) for r in rows]


async def task_history(ctx: Context, task_id: int) -> list[ProgressView]:
    await get_task(ctx, task_id)
    async with query(ctx) as conn:
        rows = await conn.fetch("SELECT * FROM task_progress WHERE task=$1 ORDER BY id", task_id)
    return [
        ProgressView(
            id=r["id"],
            at=local(r["at"]) or r["at"],
            actor=r["actor"],
            event=r["event"],
            from_status=r["from_status"],
            to_status=r["to_status"],
            quantity=r["quantity"],
            note=r["note"],
        )
        for r in rows
    ]


# --- the after-action summary ----------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear between ranks, to 0.1 min: the after-action summary's and the replay's."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = (len(ordered) - 1) * q
    low, high = math.floor(k), math.ceil(k)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (k - low), 1)


async def incident_summary(conn: asyncpg.Connection, incident_id: int) -> Summary:
    """Requests, fill rate (overall and by priority), times, people-hours, unmet and why."""
    requests = await conn.fetch(
        "SELECT * FROM supply_request WHERE incident=$1 AND status <> 'cancelled'", incident_id
    )
    deliveries = await conn.fetch(
        """
        SELECT t.finished_at, r.created_at FROM task t JOIN supply_request r ON r.id=t.request_id
        WHERE t.incident=$1 AND t.kind='delivery' AND t.status='done' AND t.delivered_qty > 0
        """,
        incident_id,
    )
    tasks = await conn.fetch(
        """
        SELECT t.status, t.accepted_at, t.finished_at, count(a.person)::int AS people
        FROM task t LEFT JOIN task_assignee a ON a.task=t.id WHERE t.incident=$1 GROUP BY t.id
        """,
        incident_id,
    )
    requested = sum(r["quantity"] for r in requests)
    delivered = sum(r["delivered_qty"] for r in requests)
    by_priority: dict[str, float] = {}
    for priority in ("critical", "high", "normal"):
        rows = [r for r in requests if r["priority"] == priority]
        if rows:
            asked = sum(r["quantity"] for r in rows)
            by_priority[priority] = round(sum(r["delivered_qty"] for r in rows) / asked, 3)
    minutes = [(d["finished_at"] - d["created_at"]).total_seconds() / 60 for d in deliveries]
    first_request = min((r["created_at"] for r in requests), default=None)
    first_delivery = min((d["finished_at"] for d in deliveries), default=None)
    people_hours = sum(
        t["people"] * (t["finished_at"] - t["accepted_at"]).total_seconds() / 3600
        for t in tasks
        if t["status"] == "done" and t["accepted_at"] and t["finished_at"]
    )
    return Summary(
        requests=len(requests),
        requested_units=requested,
        delivered_units=delivered,
        fill_rate=round(delivered / requested, 3) if requested else 1.0,
        fill_rate_by_priority=by_priority,
        first_delivery_minutes=None
        if first_request is None or first_delivery is None
        else round((first_delivery - first_request).total_seconds() / 60, 1),
        delivery_minutes={
            "p50": percentile(minutes, 0.5),
            "p90": percentile(minutes, 0.9),
            "max": round(max(minutes), 1) if minutes else 0.0,
        },
        tasks=len(tasks),
        tasks_staffed=sum(1 for t in tasks if t["people"] > 0),
        tasks_done=sum(1 for t in tasks if t["status"] == "done"),
        people_hours=round(people_hours, 2),
        unmet=[
            {
                "request": r["id"],
                "community": r["community"],
                "item": r["item"],
                "quantity": r["quantity"] - r["delivered_qty"],
                "reason": r["unmet_reason"] or r["status"],
            }
            for r in requests
            if r["delivered_qty"] < r["quantity"]
        ],
    )


def _summary_dict(summary: Summary) -> dict[str, Any]:
    import msgspec

    out: dict[str, Any] = msgspec.to_builtins(summary)
    return out


async def summary(ctx: Context, incident_id: int) -> Summary:
    authorize(ctx.actor, "incidents.read")
    async with query(ctx) as conn:
        await _incident(conn, incident_id)
        return await incident_summary(conn, incident_id)


async def suggest_for_task(ctx: Context, task_id: int, on_duty_only: bool = True) -> Any:
    """People for a task from the exact matching (paired units and residents first, skills,
    hours limit, travel on today's roads with their closures); the assigner picks."""
    from dispatch.people.schemas import SuggestRequest
    from dispatch.people.service import load_workers, suggest_for_needs
    from dispatch.planning.service import road_state

    view = await get_task(ctx, task_id)
    authorize(ctx.actor, "tasks.assign", Target(view.street, view.community))
    async with query(ctx) as conn:
        state = await road_state(ctx, conn)
        workers = await load_workers(conn, ctx.now())
    job = Job(
        task=view.id,
        street=view.street,
        community=view.community,
        skills=frozenset(view.skills),
        hours=task_hours(view.minutes),
        concurrent=view.concurrent,
    )
    scope = ctx.actor.scope
    only = frozenset(
        w.id for w in workers.values() if placeable(w, job) and enlistable(scope, w.place, w.paired)
    )
    need = SuggestRequest(
        community=view.community,
        people=min(view.people_needed, 200),
        skills=view.skills,
        duration_h=job.hours,
        on_duty_only=on_duty_only,
    )
    return (await suggest_for_needs(ctx, [need], state, only))[0]
