"""The after-action summary of an incident: fill rates, times, people-hours, unmet."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec

from dispatch.accounts.policy import authorize
from dispatch.db import Context, query
from dispatch.incidents.records import incident_row
from dispatch.incidents.schemas import Summary


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
        UNION ALL  -- a run's deliveries: each stop's transfers, when that stop was received
        SELECT s.done_at, r.created_at FROM task_stop s
        JOIN task t ON t.id = s.task
        JOIN stock_transfer x ON x.stop_id = s.id
        JOIN supply_request r ON r.id = x.request_id
        WHERE t.incident=$1 AND s.status='done' AND EXISTS (
            SELECT 1 FROM stock_transfer_pick p WHERE p.transfer = x.id AND p.qty_received > 0)
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


def summary_dict(summary: Summary) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(summary)
    return out


async def summary(ctx: Context, incident_id: int) -> Summary:
    authorize(ctx.actor, "incidents.read")
    async with query(ctx) as conn:
        await incident_row(conn, incident_id)
        return await incident_summary(conn, incident_id)
