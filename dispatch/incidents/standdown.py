"""What stands down with an incident: the work still open or under way, refused
while under way unless the caller cancels it with a reason."""

from __future__ import annotations

from typing import Any

import asyncpg

from dispatch.db import Command
from dispatch.errors import Conflict
from dispatch.incidents.deliveries import release_delivery
from dispatch.incidents.schemas import IncidentAdvance
from dispatch.incidents.tasks import IN_PROGRESS, TASK_ACTIVE, move_task
from dispatch.stock.schemas import TransferCancel
from dispatch.stock.service import cancel_transfer

OPEN_TASKS = """
SELECT t.*, c.name AS community_name,
       coalesce(tr.status, (SELECT x.status FROM stock_transfer x WHERE x.task_id = t.id
                            AND x.status = 'dispatched' LIMIT 1)) AS transfer_status,
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
    linked += await conn.fetchval(  # a run's transfers go with its task
        "SELECT coalesce(array_agg(id), '{}') FROM stock_transfer "
        "WHERE task_id = ANY($1::bigint[])",
        [t["id"] for t in tasks if t["vehicle_id"] is not None],
    )
    transfers = await conn.fetch(LOOSE_TRANSFERS, incident_id, linked)
    entries = [(_task_entry(t), t["transfer_status"]) for t in tasks]
    entries += [(_transfer_entry(t), None) for t in transfers]
    if not data.cancel_open:
        under_way = [e for e, transfer in entries if _under_way(e, transfer)]
        if under_way:
            raise _open_work_refused(incident_id, under_way)
        return

    assert data.reason is not None
    for task in tasks:
        await release_delivery(cmd, task, data.reason)
        await move_task(cmd, task, "cancel", data.reason, failed_reason=data.reason)
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
