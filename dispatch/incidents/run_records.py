"""A run task as read: its vehicle and its stops in driving order, each with the transfers
unloaded there (items by name, quantities, lots) and its receipt once done. Read with every
view of the task, so the squad tablet and the run sheet show the same stops."""

from __future__ import annotations

from collections import defaultdict

import asyncpg

from dispatch.clock import local
from dispatch.incidents.schemas import RunVehicle, ShelterRef, StopLine, StopLot, StopView

# a stop at a shelter (安置点) is one whose transfers are for the shelter's requests (the
# plan keeps a shelter's goods on a stop of their own, apart from the committee's): `h`, the
# shelter (id, name, lat, lon), joined to a task_stop `s`; none for a committee's stop
STOP_SHELTER = """
LEFT JOIN LATERAL (
    SELECT sh.id, sh.name, sh.lat, sh.lon FROM stock_transfer t
    JOIN supply_request r ON r.id = t.request_id
    JOIN shelter sh ON sh.id = r.shelter_id
    WHERE t.stop_id = s.id ORDER BY t.id LIMIT 1
) h ON true
"""
STOPS = f"""
SELECT s.*, c.name AS community_name, h.id AS shelter_id, h.name AS shelter_name
FROM task_stop s JOIN community c ON c.code = s.community {STOP_SHELTER}
WHERE s.task = $1 ORDER BY s.seq
"""
LINES = """
SELECT t.id AS transfer, t.stop_id, t.request_id, t.status, p.item, i.name_zh, i.unit,
       l.lot_number, l.expires_on, p.qty_sent, p.qty_received
FROM stock_transfer t
JOIN stock_transfer_pick p ON p.transfer = t.id
JOIN item i ON i.code = p.item
JOIN lot l ON l.id = p.lot
WHERE t.task_id = $1 AND t.stop_id IS NOT NULL
ORDER BY t.stop_id, t.id, l.expires_on NULLS LAST, l.lot_number, p.id
"""


def _lines(rows: list[asyncpg.Record]) -> dict[int, list[StopLine]]:
    """Per stop, one line per transfer, its picks folded into lots."""
    by_transfer: dict[int, StopLine] = {}
    per_stop: dict[int, list[StopLine]] = defaultdict(list)
    for r in rows:
        line = by_transfer.get(r["transfer"])
        if line is None:
            line = StopLine(
                transfer=r["transfer"],
                request=r["request_id"],
                item=r["item"],
                item_name=r["name_zh"],
                unit=r["unit"],
                quantity=0,
                lots=[],
                status=r["status"],
                received=None if r["qty_received"] is None else 0,
            )
            by_transfer[r["transfer"]] = line
            per_stop[r["stop_id"]].append(line)
        line.quantity += r["qty_sent"]
        if r["qty_received"] is not None:
            line.received = (line.received or 0) + r["qty_received"]
        expires = None if r["expires_on"] is None else r["expires_on"].isoformat()
        line.lots.append(StopLot(r["lot_number"], expires, r["qty_sent"]))
    return per_stop


async def stop_views(conn: asyncpg.Connection, task_id: int) -> list[StopView]:
    stops = await conn.fetch(STOPS, task_id)
    lines = _lines(await conn.fetch(LINES, task_id))
    return [
        StopView(
            id=s["id"],
            seq=s["seq"],
            trip=s["trip"],
            community=s["community"],
            community_name=s["community_name"],
            street=s["street"],
            eta_at=local(s["eta_at"]) or s["eta_at"],
            depart_at=local(s["depart_at"]) or s["depart_at"],
            kg=s["kg"],
            m3=s["m3"],
            status=s["status"],
            lines=lines.get(s["id"], []),
            receiver=s["receiver"],
            shortfall_reason=s["shortfall_reason"],
            done_at=local(s["done_at"]),
            done_by=s["done_by"],
            unreachable=s["unreachable"],
            shelter=None
            if s["shelter_id"] is None
            else ShelterRef(id=s["shelter_id"], name=s["shelter_name"]),
        )
        for s in stops
    ]


async def run_vehicle(conn: asyncpg.Connection, vehicle_id: int) -> RunVehicle | None:
    row = await conn.fetchrow(
        "SELECT v.id, v.code, v.kind, v.name, v.depot, d.name AS depot_name FROM vehicle v "
        "JOIN depot d ON d.code = v.depot WHERE v.id = $1",
        vehicle_id,
    )
    return None if row is None else RunVehicle(**dict(row))
