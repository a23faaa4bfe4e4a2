"""Approving a plan that carries runs: one delivery task per vehicle run.

The plan's lines say what each depot sends to each community (request, item, quantity,
lots); its runs say which vehicle visits which community in which order, carrying how many
kilograms (a shelter of a community is a place of its own, apart from its committee).
Approval puts the lines' units on the visits (a community visited twice, a split stop,
gets its goods shared between the visits by weight; the routing cuts a split at
kilograms and goods come in units, so one visit may carry up to one unit more than routed),
makes one dispatched transfer per line and visit, and one run task per vehicle with its
stops in order (`incidents.runs`).

What no vehicle could carry (the plan's unserved stops: no crew, no vehicle fitting the
lanes, over capacity, after need-by) still leaves as a single-line delivery task the old
way: the dispatcher approved sending it, the stock is set aside and the task is on the
board for whoever they find to drive it (a borrowed vehicle, a vehicle back from its run),
rather than silently dropped from an approved plan. Why no run carries it is in the plan
(its runs' `unserved`, shown with the plan) and in the approval's audit row.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from dispatch.db import Command
from dispatch.incidents.service import RunStop, create_run_task

# (line, quantity, lots, key suffix) -> the dispatched transfer's id
Dispatch = Callable[[asyncpg.Record, int, list[tuple[str, int]], str], Awaitable[int]]


@dataclass
class _Visit:
    """One stop of one trip of one vehicle, and the transfers approval makes for it."""

    vehicle_id: int
    trip: int
    community: str
    arrival_min: float
    departure_min: float
    kg: float
    m3: float
    room: float
    return_min: float  # the trip's back at the depot
    shelter: int | None = None  # a stop at a shelter of the community, not its committee
    portions: list[tuple[asyncpg.Record, int]] = field(default_factory=list)


def _visits(runs: Sequence[Mapping[str, Any]]) -> dict[str, list[_Visit]]:
    """Every visit of every run, per depot, in driving order (vehicle, trip, arrival)."""
    out: dict[str, list[_Visit]] = {}
    for entry in runs:
        visits = out.setdefault(entry["depot"], [])
        for run in entry["runs"]:
            for trip_no, trip in enumerate(run["trips"], start=1):
                for stop in trip["stops"]:
                    kg = float(stop["kg"])
                    visits.append(
                        _Visit(
                            int(run["vehicle_id"]),
                            trip_no,
                            stop["community"],
                            float(stop["arrival_min"]),
                            float(stop["departure_min"]),
                            kg,
                            float(stop["m3"]),
                            kg + 0.05,  # the routing's kilograms are rounded to 0.1
                            float(trip["return_min"]),
                            stop.get("shelter"),
                        )
                    )
    return out


def _share(
    visits: Sequence[_Visit], lines: Sequence[tuple[asyncpg.Record, int]], kg: Mapping[str, float]
) -> dict[int, int]:
    """Put the lines' units (one depot, one community) on its visits by weight; returns the
    units left over per line (what no vehicle carries)."""
    left = {line["id"]: qty for line, qty in lines}
    for pass_no in (0, 1):  # the second pass: the units a split's rounding left behind
        for visit in visits:
            for line, _ in lines:
                unit = kg.get(line["item"], 0.0)
                if left[line["id"]] == 0 or (pass_no == 1 and visit.room <= 0):
                    continue
                if unit <= 0:
                    take = left[line["id"]]
                elif pass_no == 0:
                    take = min(left[line["id"]], math.floor(visit.room / unit + 1e-9))
                else:
                    take = min(left[line["id"]], math.ceil(visit.room / unit))
                if take > 0:
                    visit.portions.append((line, take))
                    visit.room -= take * unit
                    left[line["id"]] -= take
    return left


def _cut_lots(lots: list[tuple[str, int]], sizes: Sequence[int]) -> list[list[tuple[str, int]]]:
    """The line's lots shared among its portions in order: earliest-expiring lots first."""
    pool = [(str(lot), int(qty)) for lot, qty in lots]
    out: list[list[tuple[str, int]]] = []
    for size in sizes:
        part: list[tuple[str, int]] = []
        while size > 0 and pool:
            lot, has = pool[0]
            take = min(size, has)
            part.append((lot, take))
            size -= take
            if has == take:
                pool.pop(0)
            else:
                pool[0] = (lot, has - take)
        out.append(part)
    return out


Place = tuple[str, str, int | None]  # depot, community, shelter (None: the committee)


def _place(line: asyncpg.Record) -> Place:
    return line["depot"], line["community"], line["shelter_id"]


def _unserved_reasons(runs: Sequence[Mapping[str, Any]]) -> dict[Place, str]:
    return {
        (entry["depot"], u["community"], u.get("shelter")): u["reason"]
        for entry in runs
        for u in entry["unserved"]
    }


async def approve_runs(
    cmd: Command,
    incident: int,
    runs: Sequence[Mapping[str, Any]],
    chosen: Sequence[tuple[asyncpg.Record, int, list[tuple[str, int]]]],
    send: Dispatch,
    single: Callable[[asyncpg.Record, int, int], Awaitable[int]],
) -> dict[str, Any]:
    """The chosen lines (line, quantity, lots) as run tasks, and what no run carries as
    single-line deliveries (`single(line, qty, transfer)`); returns what was made, and why
    each single-line delivery is on no run, for the approval's audit row."""
    rows = await cmd.connection.fetch(
        "SELECT code, weight_kg FROM item WHERE code = ANY($1::varchar[])",
        sorted({line["item"] for line, _, _ in chosen}),
    )
    kg = {r["code"]: float(r["weight_kg"] or 0) for r in rows}
    visits = _visits(runs)
    groups: dict[Place, list[tuple[asyncpg.Record, int]]] = {}
    for line, qty, _ in chosen:
        groups.setdefault(_place(line), []).append((line, qty))
    left: dict[int, int] = {}
    for (depot, community, shelter), lines in groups.items():
        theirs = [
            v for v in visits.get(depot, []) if v.community == community and v.shelter == shelter
        ]
        left.update(_share(theirs, lines, kg))
    portions: dict[int, list[tuple[_Visit, int]]] = {}
    for depot_visits in visits.values():
        for visit in depot_visits:
            for line, take in visit.portions:
                portions.setdefault(line["id"], []).append((visit, take))
    transfers: dict[int, list[int]] = {}  # id(visit) -> its transfers
    reasons = _unserved_reasons(runs)
    singles: list[dict[str, Any]] = []
    for line, _, lots in chosen:
        mine = portions.get(line["id"], [])
        cuts = _cut_lots(lots, [take for _, take in mine] + [left[line["id"]]])
        for n, ((visit, take), part) in enumerate(zip(mine, cuts, strict=False)):
            transfer = await send(line, take, part, f"{line['id']}:{n}")
            transfers.setdefault(id(visit), []).append(transfer)
        if left[line["id"]] > 0:
            why = reasons.get(_place(line), "no_vehicle")
            transfer = await send(line, left[line["id"]], cuts[-1], f"{line['id']}")
            task = await single(line, left[line["id"]], transfer)
            singles.append({"line": line["id"], "task": task, "reason": why})
    tasks = await _run_tasks(cmd, incident, visits, transfers)
    return {"run_tasks": tasks, "single_deliveries": len(singles), "on_no_run": singles}


async def _run_tasks(
    cmd: Command,
    incident: int,
    visits: Mapping[str, Sequence[_Visit]],
    transfers: Mapping[int, list[int]],
) -> list[int]:
    """One task per vehicle, its stops the visits that carry something, in driving order."""
    start = cmd.now
    by_vehicle: dict[int, list[_Visit]] = {}
    for depot_visits in visits.values():
        for visit in depot_visits:
            if transfers.get(id(visit)):
                by_vehicle.setdefault(visit.vehicle_id, []).append(visit)
    made = []
    for vehicle_id, mine in sorted(by_vehicle.items()):
        stops = [_stop(v, start, transfers[id(v)]) for v in mine]
        minutes = max(v.return_min for v in mine)
        made.append(await create_run_task(cmd, incident, vehicle_id, stops, minutes))
    return made


def _stop(visit: _Visit, start: datetime, transfers: Sequence[int]) -> RunStop:
    return RunStop(
        community=visit.community,
        trip=visit.trip,
        eta_at=start + timedelta(minutes=visit.arrival_min),
        depart_at=start + timedelta(minutes=visit.departure_min),
        kg=visit.kg,
        m3=visit.m3,
        transfers=tuple(transfers),
    )


def runs_of(plan: asyncpg.Record) -> list[dict[str, Any]] | None:
    """The plan's runs, or None for a plan computed without them (replay, older plans)."""
    return None if plan["runs"] is None else list(json.loads(plan["runs"]))
