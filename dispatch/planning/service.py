"""Plans: read the database state, let `geo` compute who sends what where, store it, and on
approval turn it into dispatched transfers and delivery tasks in one transaction.

A plan carries the fingerprint of its inputs (stock by lot, floors, open demand, closures,
depots out, the road network, the policy). Approval recomputes it: if anything changed
since the plan was computed, the plan is refused (409) and must be recomputed.

The roads a plan routes on (state, router, reroute) are `dispatch.roads`; their names are
re-exported here for callers that still ask planning for them (the replay).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from dispatch.accounts.policy import authorize
from dispatch.clock import SHANGHAI, local
from dispatch.db import Command, Context, command, query
from dispatch.errors import Conflict, InvalidInput, NotFound
from dispatch.incidents.schemas import ShelterRef
from dispatch.incidents.service import create_delivery_task
from dispatch.planning.destinations import ShelterPlace
from dispatch.planning.explained import Names, names_for, unmet_json
from dispatch.planning.run_approval import approve_runs, runs_of
from dispatch.planning.runs import LIVE, RouteOptions, plan_delivery_runs
from dispatch.planning.schemas import (
    LineEdit,
    PlanApproval,
    PlanCreate,
    PlanDecision,
    PlanLineView,
    PlanView,
)
from dispatch.roads import (
    closure_of,
    position_of,
    reroute,
    road_state,
    route_json,
    router_for,
    router_ready,
)
from dispatch.stock.schemas import PickLine, TransferCreate
from dispatch.stock.service import create_transfer, dispatch_transfer
from geo.network import RoadState
from geo.planning import Demand, DepotRecord, PlanOptions, ReserveFloor, StockLine, plan_transfers
from geo.planning import Plan as GeoPlan

__all__ = [
    "DELIVERY_CREW",
    "HANDLING_MINUTES",
    "VEHICLE_SPEED_KMH",
    "Inputs",
    "approve_plan",
    "closure_of",
    "compute",
    "create_plan",
    "emergency_default",
    "get_plan",
    "list_plans",
    "position_of",
    "read_inputs",
    "reject_plan",
    "reroute",
    "road_state",
    "route_json",
    "router_for",
    "router_ready",
]

VEHICLE_SPEED_KMH = 25.0
HANDLING_MINUTES = 10.0
DELIVERY_CREW = 2


@dataclass(frozen=True)
class Inputs:
    """What a plan is computed from, read in one snapshot; its fingerprint guards approval."""

    depots: tuple[DepotRecord, ...]
    stock: tuple[StockLine, ...]
    floors: tuple[ReserveFloor, ...]
    demands: tuple[Demand, ...]
    state: RoadState
    lot_ids: dict[str, int]
    options: PlanOptions
    # each demand's need_by as a moment: the fingerprint must not change as the clock moves
    deadlines: tuple[str | None, ...] = ()
    # the shelter each shelter's demand is delivered at, by demand id (none: the committee)
    shelters: dict[str, ShelterPlace] = field(default_factory=dict)

    def _demand_key(self, d: Demand, deadline: str | None) -> tuple[Any, ...]:
        """A demand as fingerprinted; a shelter's with where the shelter is."""
        key: tuple[Any, ...] = (d.id, d.community, d.item, d.quantity, d.priority, deadline)
        place = self.shelters.get(d.id)
        return key if place is None else (*key, place.id, place.lat, place.lon)

    @property
    def fingerprint(self) -> str:
        body = {
            "depots": [(d.code, d.lat, d.lon, d.is_district_reserve, d.out) for d in self.depots],
            "stock": [(s.depot, s.item, s.lot, s.quantity, str(s.expires)) for s in self.stock],
            "floors": [(f.depot, f.item, f.minimum) for f in self.floors],
            "demands": [
                self._demand_key(d, deadline)
                for d, deadline in zip(self.demands, self.deadlines, strict=True)
            ],
            "roads": self.state.version,
            "out": sorted(self.state.depots_out),
            "policy": [self.options.policy, self.options.emergency],
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _seconds_until(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else (moment - now).total_seconds()


async def _stock_and_floors(
    conn: asyncpg.Connection, items: Sequence[str]
) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    """Stock by lot and reserve floors of the items asked for."""
    stock_rows = await conn.fetch(
        """
        SELECT b.depot, b.item, b.lot, l.lot_number, l.expires_on, b.qty
        FROM stock_balance b JOIN lot l ON l.id = b.lot
        WHERE b.qty > 0 AND b.item = ANY($1::varchar[])
        ORDER BY b.depot, b.item, l.lot_number
        """,
        list(items),
    )
    floor_rows = await conn.fetch(
        "SELECT depot, item, minimum FROM reserve_standard WHERE item = ANY($1::varchar[]) "
        "ORDER BY depot, item",
        list(items),
    )
    return stock_rows, floor_rows


async def read_inputs(
    ctx: Context,
    conn: asyncpg.Connection,
    incident: int,
    policy: str,
    emergency: bool,
    vehicle_speed_kmh: float = VEHICLE_SPEED_KMH,
    handling_minutes: float = HANDLING_MINUTES,
) -> Inputs:
    now = ctx.now()
    demand_rows = await conn.fetch(
        """
        SELECT r.id, r.community, r.item, r.quantity - r.planned_qty AS open_qty, r.priority,
               r.need_by, r.shelter_id, s.name AS shelter_name, s.lat AS shelter_lat,
               s.lon AS shelter_lon, COALESCE(s.lat, c.lat) AS lat, COALESCE(s.lon, c.lon) AS lon
        FROM supply_request r JOIN community c ON c.code = r.community
        LEFT JOIN shelter s ON s.id = r.shelter_id
        WHERE r.incident = $1 AND r.status IN ('open', 'planned', 'partially_fulfilled')
          AND r.quantity > r.planned_qty
        ORDER BY r.id
        """,
        incident,
    )
    items = sorted({r["item"] for r in demand_rows})
    stock_rows, floor_rows = await _stock_and_floors(conn, items)
    depot_rows = await conn.fetch("SELECT code, kind, lat, lon FROM depot ORDER BY code")
    state = await road_state(ctx, conn)
    depots = tuple(
        DepotRecord(
            r["code"],
            lat=r["lat"],
            lon=r["lon"],
            is_district_reserve=r["kind"] == "district_reserve",
            out=r["code"] in state.depots_out,
        )
        for r in depot_rows
    )
    return Inputs(
        depots=depots,
        stock=tuple(
            StockLine(r["depot"], r["item"], r["lot_number"], r["qty"], r["expires_on"])
            for r in stock_rows
        ),
        floors=tuple(ReserveFloor(r["depot"], r["item"], r["minimum"]) for r in floor_rows),
        demands=tuple(
            Demand(
                str(r["id"]),
                r["community"],
                r["item"],
                r["open_qty"],
                r["priority"],
                _seconds_until(r["need_by"], now),
                lat=r["lat"],
                lon=r["lon"],
            )
            for r in demand_rows
        ),
        state=state,
        lot_ids={f"{r['item']}/{r['lot_number']}": r["lot"] for r in stock_rows},
        deadlines=tuple(
            None if r["need_by"] is None else r["need_by"].isoformat() for r in demand_rows
        ),
        shelters={
            str(r["id"]): ShelterPlace(
                r["shelter_id"], r["shelter_name"], r["shelter_lat"], r["shelter_lon"]
            )
            for r in demand_rows
            if r["shelter_id"] is not None
        },
        options=PlanOptions(
            policy="nearest" if policy == "nearest" else "optimal",
            vehicle_speed_kmh=vehicle_speed_kmh,
            handling_minutes=handling_minutes,
            emergency=emergency,
            now=now.astimezone(SHANGHAI).date(),
        ),
    )


def compute(inputs: Inputs) -> GeoPlan:
    router, snapper = router_for(inputs.state.network)
    return plan_transfers(
        inputs.depots,
        inputs.stock,
        inputs.floors,
        inputs.demands,
        inputs.state,
        router,
        options=inputs.options,
        snapper=snapper,
    )


async def _incident_row(conn: asyncpg.Connection, incident: int) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM incident WHERE id=$1", incident)
    if row is None:
        raise NotFound(f"no incident {incident}", field="incident")
    return row


def emergency_default(level: str) -> bool:
    """Level I and II incidents may draw street depots below their reserve floor."""
    return level in ("I", "II")


async def _store_lines(
    conn: asyncpg.Connection, plan_id: int, inputs: Inputs, result: GeoPlan, names: Names
) -> None:
    """One plan line per transfer the plan proposes, with its lots, route and explanation
    (the English sentence, and its code with named params), and the shelter it is for."""
    network = inputs.state.network
    shelters = {k: v.id for k, v in inputs.shelters.items()}
    await conn.executemany(
        """
        INSERT INTO plan_line (plan, request, depot, community, item, quantity, lots, route,
                               length_m, travel_s, eta_s, explanation, explained, shelter_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10, $11, $12, $13::jsonb,
                $14)
        """,
        [
            (
                plan_id,
                int(t.demand_id),
                t.depot,
                t.community,
                t.item,
                t.quantity,
                json.dumps([[lot, qty] for lot, qty in t.lots]),
                json.dumps(route_json(network, t.route, t.route_length_m, t.travel_s)),
                t.route_length_m,
                t.travel_s,
                t.eta_s,
                t.explanation[:500],
                json.dumps(names.named(*t.coded), ensure_ascii=False),
                shelters.get(t.demand_id),
            )
            for t in result.transfers
        ],
    )


async def create_plan(
    ctx: Context,
    incident: int,
    data: PlanCreate,
    vehicle_speed_kmh: float = VEHICLE_SPEED_KMH,
    handling_minutes: float = HANDLING_MINUTES,
    *,
    runs: bool = True,
    route: RouteOptions = LIVE,
) -> PlanView:
    """Compute a plan for the incident's open demand, with its delivery runs on the
    sending depots' vehicles (`runs`); older proposals are superseded. (Scenario replay
    passes its policy's vehicle speed and handling time, and `route`: the routing stops
    after a fixed count of solver iterations, not on the clock, so a replay's runs are the
    same on any machine, and no vehicle drives faster than the policy's speed.)"""
    authorize(ctx.actor, "plans.create")
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await _incident_row(conn, incident)
        if row["status"] not in ("declared", "responding"):
            raise Conflict(f"incident {incident} is {row['status']}", field="incident")
        emergency = emergency_default(row["level"]) if data.emergency is None else data.emergency
        inputs = await read_inputs(
            ctx, conn, incident, data.policy.value, emergency, vehicle_speed_kmh, handling_minutes
        )
        result = await asyncio.to_thread(compute, inputs)
        await conn.execute(
            "UPDATE plan SET status='superseded' WHERE incident=$1 AND status='proposed'", incident
        )
        names = await names_for(conn, result)
        unmet = unmet_json(result, names)
        places, fleet_args = (inputs.depots, inputs.demands), (result, route, inputs.shelters)
        delivery_runs = (
            await plan_delivery_runs(ctx, conn, inputs.state, places, *fleet_args) if runs else None
        )
        plan_id: int = await conn.fetchval(
            """
            INSERT INTO plan (incident, policy, emergency, status, fingerprint, objective,
                              runtime_ms, unmet, created_at, created_by, runs)
            VALUES ($1, $2, $3, 'proposed', $4, $5, $6, $7::jsonb, $8, $9, $10::jsonb)
            RETURNING id
            """,
            incident,
            data.policy.value,
            emergency,
            inputs.fingerprint,
            result.objective_s,
            result.runtime_s * 1000,
            json.dumps(unmet, ensure_ascii=False),
            cmd.now,
            ctx.actor.username,
            None if delivery_runs is None else json.dumps(delivery_runs, ensure_ascii=False),
        )
        await _store_lines(conn, plan_id, inputs, result, names)
        await cmd.audit(
            "plans.create",
            "plan",
            plan_id,
            None,
            {
                "incident": incident,
                "policy": data.policy.value,
                "emergency": emergency,
                "lines": len(result.transfers),
                "unmet": len(unmet),
                "objective_s": result.objective_s,
            },
        )
        cmd.emit(
            "plan.proposed",
            {
                "plan": plan_id,
                "incident": incident,
                "lines": len(result.transfers),
                "unmet": len(unmet),
            },
        )
        view = await _plan_view(conn, plan_id)
    return view


async def _plan_view(conn: asyncpg.Connection, plan_id: int) -> PlanView:
    row = await conn.fetchrow("SELECT * FROM plan WHERE id=$1", plan_id)
    if row is None:
        raise NotFound(f"no plan {plan_id}", field="plan_id")
    lines = await conn.fetch(
        "SELECT l.*, (SELECT s.name FROM shelter s WHERE s.id = l.shelter_id) AS shelter_name "
        "FROM plan_line l WHERE l.plan=$1 ORDER BY l.id",
        plan_id,
    )
    return PlanView(
        id=row["id"],
        incident=row["incident"],
        policy=row["policy"],
        emergency=row["emergency"],
        status=row["status"],
        fingerprint=row["fingerprint"],
        objective_s=row["objective"],
        runtime_ms=row["runtime_ms"],
        unmet=json.loads(row["unmet"]),
        created_at=local(row["created_at"]) or row["created_at"],
        created_by=row["created_by"],
        decided_at=local(row["decided_at"]),
        decided_by=row["decided_by"],
        runs=json.loads(row["runs"]) if row["runs"] else None,
        lines=[
            PlanLineView(
                id=r["id"],
                request=r["request"],
                depot=r["depot"],
                community=r["community"],
                item=r["item"],
                quantity=r["quantity"],
                lots=[(str(a), int(b)) for a, b in json.loads(r["lots"])],
                route=json.loads(r["route"]),
                length_m=r["length_m"],
                travel_s=r["travel_s"],
                eta_s=r["eta_s"],
                explanation=r["explanation"],
                explained=json.loads(r["explained"]) if r["explained"] else None,
                shelter=None
                if r["shelter_id"] is None
                else ShelterRef(id=r["shelter_id"], name=r["shelter_name"]),
            )
            for r in lines
        ],
    )


async def get_plan(ctx: Context, plan_id: int) -> PlanView:
    authorize(ctx.actor, "plans.read")
    async with query(ctx) as conn:
        return await _plan_view(conn, plan_id)


async def list_plans(ctx: Context, incident: int) -> list[PlanView]:
    authorize(ctx.actor, "plans.read")
    async with query(ctx) as conn:
        await _incident_row(conn, incident)
        ids = await conn.fetch("SELECT id FROM plan WHERE incident=$1 ORDER BY id", incident)
        return [await _plan_view(conn, r["id"]) for r in ids]


def _edited_quantities(
    lines: Sequence[asyncpg.Record], edits: Sequence[LineEdit]
) -> dict[int, int]:
    quantities = {r["id"]: r["quantity"] for r in lines}
    for i, edit in enumerate(edits):
        if edit.line not in quantities:
            raise InvalidInput(f"line {edit.line} is not in this plan", field=f"lines[{i}].line")
        planned = next(r["quantity"] for r in lines if r["id"] == edit.line)
        if edit.quantity > planned:
            raise InvalidInput(
                f"line {edit.line} can send at most {planned}", field=f"lines[{i}].quantity"
            )
        quantities[edit.line] = edit.quantity
    return quantities


async def approve_plan(
    ctx: Context, plan_id: int, data: PlanApproval, key: str | None = None
) -> PlanView:
    """Approve whole or with edited quantities: transfers dispatched, and a delivery task per
    vehicle run (`run_approval`) or, for a plan without runs, per line; all in one
    transaction, or nothing if the world changed since the plan was computed."""
    authorize(ctx.actor, "plans.approve")
    async with command(ctx) as cmd:
        conn = cmd.connection
        plan = await conn.fetchrow("SELECT * FROM plan WHERE id=$1 FOR UPDATE", plan_id)
        if plan is None:
            raise NotFound(f"no plan {plan_id}", field="plan_id")
        if plan["status"] != "proposed":
            raise Conflict(f"plan {plan_id} is {plan['status']}", field="plan_id")
        await conn.execute(
            "SELECT id FROM supply_request WHERE incident=$1 ORDER BY id FOR UPDATE",
            plan["incident"],
        )
        current = await read_inputs(ctx, conn, plan["incident"], plan["policy"], plan["emergency"])
        if current.fingerprint != plan["fingerprint"]:
            raise Conflict(
                "stock, requests or roads changed since this plan was computed; re-plan",
                field="plan_id",
            )
        lines = await conn.fetch("SELECT * FROM plan_line WHERE plan=$1 ORDER BY id", plan_id)
        quantities = _edited_quantities(lines, data.lines)
        made = await _dispatch_lines(cmd, plan, lines, quantities, key)
        await conn.execute(
            "UPDATE plan SET status='approved', decided_at=$2, decided_by=$3, decision_note=$4 "
            "WHERE id=$1",
            plan_id,
            cmd.now,
            ctx.actor.username,
            data.note,
        )
        edited = {
            k: v
            for k, v in quantities.items()
            if v != next(r["quantity"] for r in lines if r["id"] == k)
        }
        await cmd.audit(
            "plans.approve",
            "plan",
            plan_id,
            {"status": "proposed"},
            {"status": "approved", "edited_lines": edited, **made},
        )
        cmd.emit("plan.approved", {"plan": plan_id, "incident": plan["incident"]})
        return await _plan_view(conn, plan_id)


async def _dispatch_lines(
    cmd: Command,
    plan: asyncpg.Record,
    lines: Sequence[asyncpg.Record],
    quantities: dict[int, int],
    key: str | None,
) -> dict[str, Any]:
    """The approved lines' transfers dispatched and their delivery tasks made; each request
    planned by its line's quantity."""
    ctx, incident = cmd.ctx, plan["incident"]

    async def send(line: asyncpg.Record, qty: int, lots: list[tuple[str, int]], at: str) -> int:
        transfer = await create_transfer(
            ctx,
            TransferCreate(
                source=line["depot"],
                dest_community=line["community"],
                lines=[PickLine(item=line["item"], qty=q, lot=lot) for lot, q in lots],
                incident=incident,
                request=line["request"],
                note=f"plan {plan['id']} line {line['id']}",
            ),
        )
        await dispatch_transfer(ctx, transfer.id, f"{key}:{at}" if key else None)
        return transfer.id

    async def single(line: asyncpg.Record, qty: int, transfer: int) -> int:
        return await create_delivery_task(cmd, incident, line, qty, transfer)

    chosen = [
        (
            line,
            quantities[line["id"]],
            _scaled_lots(json.loads(line["lots"]), quantities[line["id"]]),
        )
        for line in lines
        if quantities[line["id"]] > 0
    ]
    for line, qty, _ in chosen:
        await cmd.connection.execute(
            "UPDATE supply_request SET planned_qty = planned_qty + $2, status = CASE "
            "WHEN status = 'open' THEN 'planned' ELSE status END WHERE id=$1",
            line["request"],
            qty,
        )
    runs = runs_of(plan)
    if runs is not None:
        return await approve_runs(cmd, incident, runs, chosen, send, single)
    for line, qty, lots in chosen:
        await single(line, qty, await send(line, qty, lots, str(line["id"])))
    return {"single_deliveries": len(chosen)}


def _scaled_lots(lots: list[list[Any]], qty: int) -> list[tuple[str, int]]:
    """An edited (smaller) line keeps the earliest-expiring lots of the planned ones."""
    out: list[tuple[str, int]] = []
    left = qty
    for lot, planned in lots:
        take = min(int(planned), left)
        if take > 0:
            out.append((str(lot), take))
            left -= take
    return out


async def reject_plan(ctx: Context, plan_id: int, data: PlanDecision) -> PlanView:
    authorize(ctx.actor, "plans.approve")
    async with command(ctx) as cmd:
        plan = await cmd.connection.fetchrow("SELECT * FROM plan WHERE id=$1 FOR UPDATE", plan_id)
        if plan is None:
            raise NotFound(f"no plan {plan_id}", field="plan_id")
        if plan["status"] != "proposed":
            raise Conflict(f"plan {plan_id} is {plan['status']}", field="plan_id")
        await cmd.connection.execute(
            "UPDATE plan SET status='rejected', decided_at=$2, decided_by=$3, decision_note=$4 "
            "WHERE id=$1",
            plan_id,
            cmd.now,
            ctx.actor.username,
            data.note,
        )
        await cmd.audit(
            "plans.reject",
            "plan",
            plan_id,
            {"status": "proposed"},
            {"status": "rejected", "note": data.note},
        )
        cmd.emit("plan.rejected", {"plan": plan_id, "incident": plan["incident"]})
        return await _plan_view(cmd.connection, plan_id)
