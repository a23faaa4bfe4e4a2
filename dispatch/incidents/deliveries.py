"""Delivery tasks: a single-line delivery per approved transfer (plans without runs, and
lines no vehicle could carry); completing one receives its transfer and fulfils its
request, failing or cancelling one returns its stock. A run task (`runs`) is completed stop
by stop; failing or cancelling it returns the stock of the stops not yet done."""

from __future__ import annotations

import math

import asyncpg

from dispatch.accounts.policy import Actor, Role
from dispatch.db import Command, Context, command
from dispatch.errors import Conflict, InvalidInput
from dispatch.incidents.receipts import fulfil_request, reopen_request
from dispatch.incidents.records import community_street
from dispatch.incidents.runs import release_run
from dispatch.incidents.schemas import TaskComplete, TaskFail, TaskKind, TaskView
from dispatch.incidents.tasks import insert_task, locked_task, move_task
from dispatch.stock.schemas import ReceivedLine, TransferCancel, TransferReceive
from dispatch.stock.service import cancel_transfer, receive_transfer


async def create_delivery_task(
    cmd: Command, incident: int, line: asyncpg.Record, qty: int, transfer_id: int
) -> int:
    """One delivery task per approved transfer, for the receiving community's street."""
    street = await community_street(cmd.connection, line["community"])
    task_id = await insert_task(
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


async def complete_task(
    ctx: Context, task_id: int, data: TaskComplete, key: str | None = None
) -> TaskView:
    """Done. A delivery receives its transfer with the delivered quantity and fulfils the
    request by as much; a door check records the households checked."""
    async with command(ctx) as cmd:
        row = await locked_task(cmd, task_id, "complete", data.version)
        if row["vehicle_id"] is not None:
            raise Conflict(
                f"task {task_id} is a delivery run: it is done when its last stop is",
                field="task_id",
                code="run.complete_by_stops",
                params={"task": task_id},
            )
        if row["kind"] == TaskKind.DELIVERY.value:
            if row["status"] != "en_route":
                raise Conflict(
                    "a delivery is picked up (en route) before it is delivered",
                    field="status",
                    status=row["status"],
                )
            delivered = await _deliver(cmd, row, data, key)
            return await move_task(
                cmd, row, "complete", data.note, delivered, delivered_qty=delivered
            )
        checked = data.households_checked
        if checked is None:
            checked = len(row["households"])
        if row["households"] and checked > len(row["households"]):
            raise InvalidInput(
                f"the task has {len(row['households'])} households", field="households_checked"
            )
        return await move_task(cmd, row, "complete", data.note, checked, households_checked=checked)


async def _deliver(cmd: Command, row: asyncpg.Record, data: TaskComplete, key: str | None) -> int:
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
    await fulfil_request(cmd, row["request_id"], delivered, sent)
    return delivered


async def fail_task(ctx: Context, task_id: int, data: TaskFail) -> TaskView:
    async with command(ctx) as cmd:
        row = await locked_task(cmd, task_id, "fail", data.version)
        await release_delivery(cmd, row, data.reason)
        return await move_task(cmd, row, "fail", data.reason, failed_reason=data.reason)


async def cancel_task(ctx: Context, task_id: int, data: TaskFail) -> TaskView:
    async with command(ctx) as cmd:
        row = await locked_task(cmd, task_id, "cancel", data.version)
        await release_delivery(cmd, row, data.reason)
        return await move_task(cmd, row, "cancel", data.reason, failed_reason=data.reason)


async def release_delivery(cmd: Command, row: asyncpg.Record, reason: str) -> None:
    """A delivery that will not arrive: its stock returns and its request is open again."""
    if row["vehicle_id"] is not None:
        await release_run(cmd, row, reason)
        return
    if row["kind"] != TaskKind.DELIVERY.value or row["transfer_id"] is None:
        return

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
    await reopen_request(cmd, row["request_id"], sent)
