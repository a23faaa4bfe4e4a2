"""Run tasks: one delivery task per vehicle run of an approved plan.

A run is what one vehicle and its crew drive from one depot: trips, stops in order, and at
each stop the transfers unloaded there. The task carries the vehicle (`out` from approval,
so no other plan routes it, `available` again when the task ends however it ends) and the
vehicle's crew, put on it where the assignment rules allow (a crew member already on
another task, or outside the task's street, is left for the dispatcher to replace). The
task is picked up (en route) as any delivery; then each stop is completed on its own,
receiving exactly that stop's transfers with what arrived, who received it and why anything
was short; the last stop done is the task done.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from dispatch.accounts.policy import Actor, Role
from dispatch.db import Command, Context, command
from dispatch.errors import Conflict, InvalidInput, NotFound
from dispatch.incidents.receipts import fulfil_request, reopen_request
from dispatch.incidents.records import community_street
from dispatch.incidents.schemas import StopComplete, TaskKind, TaskView
from dispatch.incidents.tasks import insert_task, locked_task, move_task
from dispatch.people.eligibility import Job, misfits, task_hours
from dispatch.people.service import load_workers
from dispatch.stock.schemas import ReceivedLine, TransferCancel, TransferReceive
from dispatch.stock.service import cancel_transfer, receive_transfer


@dataclass(frozen=True)
class RunStop:
    """A stop of a run as approval makes it: where, in which trip, when, and the transfers
    (already dispatched) unloaded there."""

    community: str
    trip: int
    eta_at: datetime
    depart_at: datetime
    kg: float
    m3: float
    transfers: tuple[int, ...]


def system_context(cmd: Command, task_id: int) -> Context:
    """The rules of a run act, not the caller: a crew member receives at every community of
    the run, not only their own, and a failed run returns stock to any depot."""
    actor = Actor(None, f"system:task-{task_id}", Role.COMMANDER)
    return Context(actor, cmd.ctx.clock, cmd.ctx.exercise, durable=cmd.ctx.durable)


async def _free_vehicle(cmd: Command, vehicle_id: int) -> asyncpg.Record:
    row = await cmd.connection.fetchrow(
        "SELECT v.*, d.street AS depot_street FROM vehicle v JOIN depot d ON d.code = v.depot "
        "WHERE v.id = $1 FOR UPDATE OF v",
        vehicle_id,
    )
    if row is None or row["retired_at"] is not None or row["status"] != "available":
        code = row["code"] if row else str(vehicle_id)
        status = "retired" if row and row["retired_at"] else (row["status"] if row else "gone")
        raise Conflict(
            f"vehicle {code} is {status} since the plan was computed; re-plan",
            field="plan_id",
            code="run.vehicle_unavailable",
            params={"vehicle": code, "status": status},
        )
    return row


async def _vehicle_status(cmd: Command, vehicle: asyncpg.Record, status: str, task: int) -> None:
    await cmd.connection.execute(
        "UPDATE vehicle SET status=$2, updated_at=$3 WHERE id=$1", vehicle["id"], status, cmd.now
    )
    await cmd.audit(
        "fleet.vehicle_status",
        "vehicle",
        vehicle["id"],
        {"status": vehicle["status"]},
        {"status": status, "task": task},
    )
    data = {"id": vehicle["id"], "code": vehicle["code"], "status": status, "task": task}
    cmd.emit("vehicle.status", data, street=vehicle["depot_street"])


async def _crew_on(cmd: Command, task_id: int, vehicle: asyncpg.Record) -> None:
    """The vehicle's crew on the task, each where the assignment rules allow."""
    conn = cmd.connection
    crew = [
        r["person_id"]
        for r in await conn.fetch(
            "SELECT person_id FROM vehicle_crew WHERE vehicle_id=$1 ORDER BY role, person_id",
            vehicle["id"],
        )
    ]
    if not crew:
        return
    await conn.execute("SELECT 1 FROM person WHERE id = ANY($1::int[]) FOR UPDATE", crew)
    row = await conn.fetchrow("SELECT * FROM task WHERE id=$1", task_id)
    job = Job(
        task=task_id,
        street=row["street"],
        community=row["community"],
        skills=frozenset(row["skills"]),
        hours=task_hours(row["minutes"]),
        concurrent=row["concurrent"],
    )
    workers = await load_workers(conn, cmd.now, crew)
    fits = [p for p in crew if p in workers and not misfits(workers[p], job)]
    left = [p for p in crew if p not in fits]
    if not fits:
        return
    await conn.executemany(
        "INSERT INTO task_assignee (task, person, assigned_at) VALUES ($1, $2, $3)",
        [(task_id, p, cmd.now) for p in fits],
    )
    note = f"crew of {vehicle['code']}" + (f"; not eligible: {left}" if left else "")
    await move_task(cmd, row, "assign", note, len(fits))


async def create_run_task(
    cmd: Command, incident: int, vehicle_id: int, stops: Sequence[RunStop], minutes: float
) -> int:
    """The task of one vehicle's run: its stops in order, their transfers, its crew.

    The task is of the depot's street (the street that crews and loads it; the district
    reserve's runs are of their first stop's street) and of its first stop's community."""
    conn = cmd.connection
    vehicle = await _free_vehicle(cmd, vehicle_id)
    streets = {s.community: await community_street(conn, s.community) for s in stops}
    street = vehicle["depot_street"] or streets[stops[0].community]
    task_id = await insert_task(
        cmd,
        incident,
        TaskKind.DELIVERY,
        stops[0].community,
        street,
        vehicle["crew_needed"],
        [],
        max(30, math.ceil(minutes)),
        vehicle_id=vehicle_id,
        depot=vehicle["depot"],
        note=f"run of {vehicle['code']}: {len(stops)} stops",
    )
    for seq, stop in enumerate(stops, start=1):
        stop_id = await conn.fetchval(
            "INSERT INTO task_stop (task, seq, trip, community, street, eta_at, depart_at, kg, "
            "m3) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            task_id,
            seq,
            stop.trip,
            stop.community,
            streets[stop.community],
            stop.eta_at,
            stop.depart_at,
            stop.kg,
            stop.m3,
        )
        await conn.execute(
            "UPDATE stock_transfer SET task_id=$2, stop_id=$3 WHERE id = ANY($1::bigint[])",
            list(stop.transfers),
            task_id,
            stop_id,
        )
    await _vehicle_status(cmd, vehicle, "out", task_id)
    await _crew_on(cmd, task_id, vehicle)
    return task_id


async def _stop_row(cmd: Command, task_id: int, stop_id: int) -> asyncpg.Record:
    stop = await cmd.connection.fetchrow(
        "SELECT s.*, c.name AS community_name FROM task_stop s "
        "JOIN community c ON c.code = s.community WHERE s.id=$1 AND s.task=$2 FOR UPDATE OF s",
        stop_id,
        task_id,
    )
    if stop is None:
        raise NotFound(f"task {task_id} has no stop {stop_id}", field="stop_id")
    if stop["status"] == "done":
        raise Conflict(
            f"stop {stop['seq']} ({stop['community_name']}) was received by {stop['receiver']}",
            field="stop_id",
            code="run.stop_done",
            params={"seq": stop["seq"], "community": stop["community_name"]},
        )
    return stop


def _delivered(
    data: StopComplete, sent: dict[int, int], community: str
) -> tuple[dict[int, int], int]:
    """What arrived per transfer (in full unless named), and how many units short."""
    got = dict(sent)
    for i, line in enumerate(data.lines):
        if line.transfer not in sent:
            raise InvalidInput(
                f"transfer {line.transfer} is not unloaded at this stop",
                field=f"lines[{i}].transfer",
                code="run.not_on_stop",
                params={"transfer": line.transfer, "community": community},
            )
        if line.delivered > sent[line.transfer]:
            raise InvalidInput(
                f"only {sent[line.transfer]} were sent on transfer {line.transfer}",
                field=f"lines[{i}].delivered",
                code="run.over_sent",
                params={"transfer": line.transfer, "sent": sent[line.transfer]},
            )
        got[line.transfer] = line.delivered
    short = sum(sent.values()) - sum(got.values())
    if short and not (data.shortfall_reason or "").strip():
        raise InvalidInput(
            f"{short} units short at {community}: say why",
            field="shortfall_reason",
            code="run.shortfall_reason",
            params={"short": short, "community": community},
        )
    return got, short


async def _receive(
    cmd: Command, row: asyncpg.Record, stop: asyncpg.Record, data: StopComplete, key: str | None
) -> int:
    """The stop's transfers received with what arrived; their requests fulfilled by it."""
    transfers = await cmd.connection.fetch(
        "SELECT t.id, t.request_id, p.item, sum(p.qty_sent)::int AS sent FROM stock_transfer t "
        "JOIN stock_transfer_pick p ON p.transfer = t.id "
        "WHERE t.stop_id=$1 AND t.status='dispatched' GROUP BY t.id, p.item ORDER BY t.id",
        stop["id"],
    )
    sent = {t["id"]: t["sent"] for t in transfers}
    got, short = _delivered(data, sent, stop["community_name"])
    rules = system_context(cmd, row["id"])
    for t in transfers:
        reason = data.shortfall_reason if got[t["id"]] < t["sent"] else None
        receipt = TransferReceive(
            lines=[ReceivedLine(item=t["item"], qty=got[t["id"]])], shortfall_reason=reason
        )
        await receive_transfer(rules, t["id"], receipt, f"{key}:stop:{t['id']}" if key else None)
        await fulfil_request(cmd, t["request_id"], got[t["id"]], t["sent"])
    await cmd.connection.execute(
        "UPDATE task_stop SET status='done', receiver=$2, shortfall_reason=$3, done_at=$4, "
        "done_by=$5 WHERE id=$1",
        stop["id"],
        data.receiver.strip(),
        data.shortfall_reason if short else None,
        cmd.now,
        cmd.ctx.actor.username,
    )
    delivered = sum(got.values())
    await cmd.audit(
        "tasks.stop",
        "task_stop",
        stop["id"],
        {"status": "pending"},
        {
            "status": "done",
            "task": row["id"],
            "receiver": data.receiver.strip(),
            "delivered": {str(k): v for k, v in got.items()},
            "short": short,
        },
    )
    return delivered


async def complete_stop(
    ctx: Context, task_id: int, stop_id: int, data: StopComplete, key: str | None = None
) -> TaskView:
    """A stop unloaded and signed for (the task en route; its crew or the street and district
    roles). The last stop done is the run done and its vehicle available again."""
    async with command(ctx) as cmd:
        row = await locked_task(cmd, task_id, "stop", data.version)
        if row["vehicle_id"] is None:
            raise Conflict(
                f"task {task_id} is not a delivery run",
                field="task_id",
                code="run.not_a_run",
                params={"task": task_id},
            )
        stop = await _stop_row(cmd, task_id, stop_id)
        delivered = await _receive(cmd, row, stop, data, key)
        conn = cmd.connection
        pending = await conn.fetchval(
            "SELECT count(*) FROM task_stop WHERE task=$1 AND status='pending'", task_id
        )
        remark = data.note or f"stop {stop['seq']} {stop['community_name']}: {data.receiver}"
        if pending:
            return await move_task(cmd, row, "stop", remark, delivered)
        total = await conn.fetchval(
            "SELECT coalesce(sum(p.qty_received), 0)::int FROM stock_transfer t "
            "JOIN stock_transfer_pick p ON p.transfer = t.id WHERE t.task_id=$1",
            task_id,
        )
        await release_vehicle(cmd, row)
        return await move_task(cmd, row, "complete", remark, delivered, delivered_qty=total)


async def release_vehicle(cmd: Command, row: asyncpg.Record) -> None:
    """The run has ended: its vehicle is available again (unless someone has since put it
    in maintenance)."""
    vehicle = await cmd.connection.fetchrow(
        "SELECT v.*, d.street AS depot_street FROM vehicle v JOIN depot d ON d.code = v.depot "
        "WHERE v.id = $1 FOR UPDATE OF v",
        row["vehicle_id"],
    )
    if vehicle is not None and vehicle["status"] == "out":
        await _vehicle_status(cmd, vehicle, "available", row["id"])


async def release_run(cmd: Command, row: asyncpg.Record, reason: str) -> None:
    """A run that will not go on: the transfers of its stops not yet done return to the
    depot, their requests are open again, the vehicle is available."""
    conn = cmd.connection
    open_transfers = await conn.fetch(
        "SELECT t.id, t.request_id, (SELECT coalesce(sum(qty_sent), 0)::int FROM "
        "stock_transfer_pick p WHERE p.transfer = t.id) AS sent FROM stock_transfer t "
        "WHERE t.task_id=$1 AND t.status IN ('planned', 'dispatched') ORDER BY t.id",
        row["id"],
    )
    rules = system_context(cmd, row["id"])
    for t in open_transfers:
        await cancel_transfer(rules, t["id"], TransferCancel(reason=reason))
        await reopen_request(cmd, t["request_id"], t["sent"])
    await release_vehicle(cmd, row)


__all__ = [
    "RunStop",
    "complete_stop",
    "create_run_task",
    "release_run",
    "release_vehicle",
]
