"""A closure reroutes the delivery runs it cuts (issue 18, point 3).

Every run task in progress is placed where its vehicle is: at a fresh GPS fix when one was
reported, else at the last stop its times say it has reached (its depot before the first),
free to leave when that stop's handling ends. When a leg still ahead would cross a road just
closed, its remaining stops are ordered again on the roads without it
(`geo.fleet_reroute`: each trip keeps its stops and so its load, priorities in order, only
lanes the vehicle fits), their seats in the run and ETAs are updated, the change is audited
and announced live; a stop it can no longer reach stays at the end with the reason
`road_closed` (cleared when a later reroute reaches it again).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from dispatch.db import Command
from dispatch.incidents.positions import FIX_FRESH, latest_fix
from dispatch.incidents.run_records import STOP_SHELTER
from dispatch.incidents.tasks import record_progress
from dispatch.roads import router_for, snapper_for
from geo.fleet_reroute import LeftStop, Rerouted, RunLeft, crosses_closure, reroute_run
from geo.network import RoadState, Vehicle

__all__ = ["reroute_runs"]

RUNS = """
SELECT t.id, t.status, t.street, t.community, t.version, v.code AS vehicle, v.lane_class,
       d.lat AS depot_lat, d.lon AS depot_lon
FROM task t JOIN vehicle v ON v.id = t.vehicle_id JOIN depot d ON d.code = t.depot
WHERE t.kind = 'delivery' AND t.vehicle_id IS NOT NULL
  AND t.status IN ('open', 'assigned', 'accepted', 'en_route')
ORDER BY t.id FOR UPDATE OF t
"""
# a stop is where its goods are handed over: the community's committee, or its shelter
STOPS = f"""
SELECT s.id, s.seq, s.trip, s.status, s.eta_at, s.depart_at, s.unreachable,
       coalesce(h.lat, c.lat) AS lat, coalesce(h.lon, c.lon) AS lon,
       coalesce((SELECT max(CASE r.priority WHEN 'critical' THEN 2 WHEN 'high' THEN 1 ELSE 0 END)
                 FROM stock_transfer x JOIN supply_request r ON r.id = x.request_id
                 WHERE x.stop_id = s.id), 0) AS priority
FROM task_stop s JOIN community c ON c.code = s.community {STOP_SHELTER}
WHERE s.task = $1 ORDER BY s.seq FOR UPDATE OF s
"""
_SEAT_SHIFT = 100_000  # seats moved out of the way first: (task, seq) is unique


async def _where(
    cmd: Command, state: RoadState, run: asyncpg.Record, stops: list[asyncpg.Record]
) -> tuple[int, float, int, list[asyncpg.Record]]:
    """(node, seconds until it may leave, trip it is on, stops still ahead) of the run."""
    network, now = state.network, cmd.now
    snap = snapper_for(network, Vehicle(run["lane_class"]))
    reached = [s for s in stops if s["status"] == "done" or s["eta_at"] <= now]
    last = max(reached, key=lambda s: s["seq"]) if reached else None
    ahead = [
        s for s in stops if s["status"] == "pending" and (last is None or s["seq"] > last["seq"])
    ]
    fix = await latest_fix(cmd.connection, run["id"]) if run["status"] == "en_route" else None
    if fix is not None and fix["at"] >= now - FIX_FRESH:
        trip = last["trip"] if last else (ahead[0]["trip"] if ahead else 1)
        return snap.nearest_node(fix["lat"], fix["lon"]), 0.0, trip, ahead
    if last is None:
        node = snap.nearest_node(run["depot_lat"], run["depot_lon"])
        return node, 0.0, ahead[0]["trip"] if ahead else 1, ahead
    wait = max(0.0, (last["depart_at"] - now).total_seconds())
    return snap.nearest_node(last["lat"], last["lon"]), wait, last["trip"], ahead


async def _run_left(
    cmd: Command, state: RoadState, run: asyncpg.Record
) -> tuple[RunLeft, list[asyncpg.Record]] | None:
    stops = list(await cmd.connection.fetch(STOPS, run["id"]))
    node, wait, trip, ahead = await _where(cmd, state, run, stops)
    if not ahead:
        return None
    snap = snapper_for(state.network, Vehicle("tricycle"))  # where planning put the stops
    left = tuple(
        LeftStop(
            str(s["id"]),
            snap.nearest_node(s["lat"], s["lon"]),
            s["trip"],
            max(0.0, (s["depart_at"] - s["eta_at"]).total_seconds()),
            s["priority"],
        )
        for s in ahead
    )
    depot = snap.nearest_node(run["depot_lat"], run["depot_lon"])
    return RunLeft(run["lane_class"], depot, node, wait, trip, left), ahead


async def _write(
    cmd: Command, run: asyncpg.Record, ahead: list[asyncpg.Record], new: Rerouted
) -> dict[str, Any]:
    """The stops ahead in their new seats, with new ETAs (or their reason), audited."""
    conn, now = cmd.connection, cmd.now
    seats = sorted(s["seq"] for s in ahead)
    by_id = {str(s["id"]): s for s in ahead}
    await conn.execute(
        "UPDATE task_stop SET seq = seq + $2 WHERE id = ANY($1::bigint[])",
        [s["id"] for s in ahead],
        _SEAT_SHIFT,
    )
    timed = {s.id: s for s in new.stops}
    reasons = dict(new.unreachable)
    after = []
    for seat, stop_id in zip(seats, new.order, strict=True):
        old = by_id[stop_id]
        t = timed.get(stop_id)
        eta = now + timedelta(seconds=t.arrival_s) if t else old["eta_at"]
        leave = now + timedelta(seconds=t.departure_s) if t else old["depart_at"]
        await conn.execute(
            "UPDATE task_stop SET seq=$2, eta_at=$3, depart_at=$4, unreachable=$5 WHERE id=$1",
            old["id"],
            seat,
            eta,
            leave,
            reasons.get(stop_id),
        )
        after.append(
            {"stop": old["id"], "seq": seat, "eta_at": eta.isoformat(), **_why(reasons, stop_id)}
        )
    before = [{"stop": s["id"], "seq": s["seq"], "eta_at": s["eta_at"].isoformat()} for s in ahead]
    await conn.execute("UPDATE task SET version=version+1 WHERE id=$1", run["id"])
    await cmd.audit("tasks.reroute_run", "task", run["id"], {"stops": before}, {"stops": after})
    return {"task": run["id"], "vehicle": run["vehicle"], "stops": after}


def _why(reasons: dict[str, str], stop_id: str) -> dict[str, str]:
    return {"unreachable": reasons[stop_id]} if stop_id in reasons else {}


async def reroute_runs(cmd: Command, before: RoadState, after: RoadState) -> list[int]:
    """Runs whose legs ahead cross a road closed between ``before`` and ``after``, their
    remaining stops re-sequenced from where each vehicle is; returns their task ids."""
    rerouted = []
    router, _ = router_for(after.network)
    for run in await cmd.connection.fetch(RUNS):
        found = await _run_left(cmd, after, run)
        if found is None:
            continue
        left, ahead = found
        if not crosses_closure(before, after, left, router):
            continue
        new = reroute_run(after, left, router)
        data = await _write(cmd, run, ahead, new)
        lost = len(new.unreachable)
        note = f"road closed on run: {len(new.stops)} stops re-sequenced, {lost} unreachable"
        await record_progress(cmd, run["id"], "rerouted", None, None, None, note)
        cmd.emit(
            "task.rerouted",
            {**data, "unreachable": lost},
            street=run["street"],
            community=run["community"],
        )
        rerouted.append(run["id"])
    return rerouted
