"""The report of a run: the requests' fill rates, what stayed unmet and why, delivery
times, the fleet's figures (vehicles used, trips, kilometres, load per capacity, minutes
loads waited for a vehicle), people's tasks, the 12345 calls' rates, community plans'
call-outs and shelters (only when the scenario turns `preparedness` on), the routes driven,
and the hash of the history; and the figures the scenario's `expect` bounds read from it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from dispatch.db import query
from dispatch.exercises import scenario as sc
from dispatch.exercises.replay.state import Delivery, ReplayState, as_minutes
from dispatch.hotline.service import hotline_figures
from dispatch.incidents.service import percentile


@dataclass
class _Rows:
    """What the report reads from the sandbox: the run's requests and tasks."""

    requests: list[asyncpg.Record]
    tasks: list[asyncpg.Record]
    names: dict[str, str]  # community code -> name


async def _read_rows(state: ReplayState) -> _Rows:
    incident_ids = [state.incidents[k] for k in state.incident_order]
    async with query(state.context()) as conn:
        requests = await conn.fetch(
            "SELECT * FROM supply_request WHERE incident = ANY($1::bigint[]) "
            "AND status <> 'cancelled' ORDER BY id",
            incident_ids,
        )
        tasks = await conn.fetch(
            "SELECT t.id, t.kind, t.status, t.people_needed, t.accepted_at, t.finished_at, "
            "count(a.person)::int AS people FROM task t "
            "LEFT JOIN task_assignee a ON a.task = t.id "
            "WHERE t.incident = ANY($1::bigint[]) GROUP BY t.id ORDER BY t.id",
            incident_ids,
        )
        names = {r["code"]: r["name"] for r in await conn.fetch("SELECT code, name FROM community")}
    return _Rows(list(requests), list(tasks), names)


def _fill_rates(requests: list[asyncpg.Record]) -> dict[str, Any]:
    requested = sum(r["quantity"] for r in requests)
    delivered = sum(r["delivered_qty"] for r in requests)
    by_priority: dict[str, float] = {}
    for priority in sc.PRIORITIES:
        rows = [r for r in requests if r["priority"] == priority]
        asked = sum(r["quantity"] for r in rows)
        if asked:
            by_priority[priority] = round(sum(r["delivered_qty"] for r in rows) / asked, 3)
    return {
        "requests": len(requests),
        "requested_units": requested,
        "delivered_units": delivered,
        "fill_rate": round(delivered / requested, 3) if requested else 1.0,
        "fill_rate_by_priority": by_priority,
    }


def _unmet_reason(state: ReplayState, r: asyncpg.Record, in_transit: dict[int, int]) -> str:
    if in_transit.get(r["id"]):
        return "still in transit when the scenario ended"
    if r["id"] in state.last_unmet:  # the planner's reason says more than "stood down"
        return state.last_unmet[r["id"]]
    if r["unmet_reason"]:
        return str(r["unmet_reason"])
    if not state.scenario.policy.auto_approve:
        return "plan awaiting approval when the scenario ended"
    return "not planned before the scenario ended"


def _unmet(state: ReplayState, rows: _Rows) -> list[dict[str, Any]]:
    in_transit: dict[int, int] = {}
    for d in state.deliveries.values():
        if d.arrived is None and d.failed is None:
            in_transit[d.request] = in_transit.get(d.request, 0) + d.quantity
    unmet = []
    for r in rows.requests:
        short = r["quantity"] - r["delivered_qty"]
        if short <= 0:
            continue
        unmet.append(
            {
                "request": state.requests.get(r["id"]),
                "incident": state.request_incident.get(r["id"]),
                "community": r["community"],
                "community_name": rows.names.get(r["community"], ""),
                "item": r["item"],
                "priority": r["priority"],
                "quantity": short,
                "reason": _unmet_reason(state, r, in_transit),
            }
        )
    return unmet


def _delivered(state: ReplayState) -> list[Delivery]:
    return sorted(
        (d for d in state.deliveries.values() if d.arrived and d.delivered),
        key=lambda d: d.number,
    )


def _delivery_times(requests: list[asyncpg.Record], done: list[Delivery]) -> dict[str, Any]:
    created = {r["id"]: r["created_at"] for r in requests}
    minutes = [as_minutes(d.arrived - created[d.request]) for d in done if d.arrived]
    units = [d.delivered or 0 for d in done]
    first_request = min(created.values(), default=None)
    first_delivery = min((d.arrived for d in done if d.arrived), default=None)
    return {
        "first_delivery_minutes": None
        if first_request is None or first_delivery is None
        else as_minutes(first_delivery - first_request),
        "delivery_minutes": {
            "p50": percentile(minutes, 0.5),
            "p90": percentile(minutes, 0.9),
            "max": round(max(minutes), 1) if minutes else 0.0,
            # per delivered unit: what the optimal planner minimises
            "mean": round(sum(m * u for m, u in zip(minutes, units, strict=True)) / sum(units), 1)
            if sum(units)
            else 0.0,
        },
    }


def _fleet_figures(state: ReplayState) -> dict[str, Any]:
    """What the vehicles did: those that drove a run, their trips and kilometres (as routed,
    a reroute's detour not counted), each trip's load per capacity (the larger of weight
    and volume) averaged over trips, and the minutes the runs' loads waited at their
    depots for a vehicle, summed over deliveries."""
    ratios = []
    for trip in state.trips:
        v = state.vehicles[trip.vehicle]
        ratios.append(max(trip.kg / v.payload_kg, trip.m3 / v.volume_m3))
    waited = [d.waited_minutes for d in state.deliveries.values() if d.stop is not None]
    return {
        "vehicles_used": len({t.vehicle for t in state.trips}),
        "trips": len(state.trips),
        "vehicle_km": round(sum(t.km for t in state.trips), 1),
        "utilisation": round(sum(ratios) / len(ratios), 3) if ratios else 0.0,
        "waiting_minutes": round(sum(waited), 1),
    }


def _people_figures(tasks: list[asyncpg.Record]) -> dict[str, Any]:
    people_tasks = [t for t in tasks if t["kind"] != "delivery"]
    people_hours = sum(
        t["people"] * (t["finished_at"] - t["accepted_at"]).total_seconds() / 3600
        for t in tasks
        if t["status"] == "done" and t["accepted_at"] and t["finished_at"]
    )
    return {
        "tasks": len(people_tasks),
        "tasks_staffed": sum(1 for t in people_tasks if t["people"] > 0),
        "tasks_fully_staffed": sum(1 for t in people_tasks if t["people"] >= t["people_needed"]),
        "people_hours": round(people_hours, 2),
    }


def _routes(state: ReplayState) -> list[dict[str, Any]]:
    return [
        {
            "number": d.number,
            "request": state.requests.get(d.request),
            "depot": d.depot,
            "community": d.community,
            "item": d.item,
            "quantity": d.quantity,
            "departed_minutes": state.offset(d.departed),
            "arrived_minutes": None if d.arrived is None else state.offset(d.arrived),
            "delivered": d.delivered,
            "rerouted": d.rerouted,
            "failed": d.failed,
            "on_run": d.stop is not None,
            "waited_minutes": d.waited_minutes,
            "coordinates": d.route.get("coordinates", []),
        }
        for d in sorted(state.deliveries.values(), key=lambda d: d.number)
    ]


async def _hotline(state: ReplayState) -> dict[str, Any]:
    """接诉即办 figures of the calls received since the start, judged on the clock at the
    end (the hotline's own figures): tickets, 响应率, 解决率, 满意率, medians, overdue now;
    the district's, then per street."""
    report = await hotline_figures(state.context(), state.scenario.start, None)
    streets = [
        {"code": s.code, "name": s.name, **msgspec.structs.asdict(s.figures)}
        for s in report.streets
    ]
    return {**msgspec.structs.asdict(report.district), "streets": streets}


async def _preparedness(state: ReplayState) -> dict[str, Any]:
    """Community plans' figures (only when the scenario turns `preparedness` on): the plans
    started, the call-outs by how they stand at the end (`no_answer`: not answered by then,
    whether `sent` still or marked so), minutes from sent to acknowledged, the households
    and people sheltered, and the shelters' peak occupancy (each by name, and `overall`: the
    most people in the run's shelters at once)."""
    async with query(state.context()) as conn:
        rows = await conn.fetch(
            "SELECT state, sent_at, answered_at, escalated_from FROM plan_callout "
            "WHERE activation_id = ANY($1::bigint[]) ORDER BY id",
            state.activations,
        )
    return callout_figures(list(rows)) | {
        "plans_activated": len(state.activations),
        "communities_without_plan": list(state.without_plan),
        "households_sheltered": len(state.sheltered),
        "people_sheltered": sum(state.sheltered),
        "shelter_peak_occupancy": {
            "overall": state.peak_overall,
            "shelters": {state.shelter_names[s]: state.peak[s] for s in sorted(state.peak)},
        },
    }


def callout_figures(rows: list[Any]) -> dict[str, Any]:
    """`callouts {sent, acknowledged, declined, no_answer}`, `callout_ack_minutes {p50,
    p90}` (None while nothing is acknowledged) and `escalations` from the call-outs' rows
    (`state`, `sent_at`, `answered_at`, `escalated_from`), one row per step."""
    states = [r["state"] for r in rows]
    minutes = [
        as_minutes(r["answered_at"] - r["sent_at"]) for r in rows if r["state"] == "acknowledged"
    ]
    return {
        "callouts": {
            "sent": len(rows),
            "acknowledged": states.count("acknowledged"),
            "declined": states.count("declined"),
            "no_answer": sum(1 for s in states if s in ("sent", "no_answer")),
        },
        "callout_ack_minutes": {
            "p50": percentile(minutes, 0.5) if minutes else None,
            "p90": percentile(minutes, 0.9) if minutes else None,
        },
        # steps sent because an earlier one went unanswered or was declined
        "escalations": sum(1 for r in rows if r["escalated_from"] is not None),
    }


def _heading(state: ReplayState) -> dict[str, Any]:
    scenario = state.scenario
    return {
        "scenario": scenario.name,
        "file": Path(scenario.source).name,
        "description": scenario.description,
        "seed": scenario.seed,
        "policy": state.planner,
        "start": scenario.start.isoformat(),
        "duration_minutes": as_minutes(scenario.duration),
        "history_sha256": hashlib.sha256(canonical(state.history).encode()).hexdigest(),
    }


async def build_report(state: ReplayState) -> dict[str, Any]:
    """The run's report, its keys in the order the report has always listed them."""
    rows = await _read_rows(state)
    done = _delivered(state)
    return {
        **_heading(state),
        **_fill_rates(rows.requests),
        "unmet": _unmet(state, rows),
        **_delivery_times(rows.requests, done),
        "deliveries": len(done),
        **_fleet_figures(state),
        **_people_figures(rows.tasks),
        "plans": state.plans,
        "hotline": await _hotline(state),
        # only when plans run: every other report keeps exactly its keys
        **(await _preparedness(state) if state.scenario.plans_run else {}),
        "events": len(state.scenario.events),
        "agenda_steps": state.steps,
        "refused": state.refused,
        "exercise": state.exercise_id,
        "kept": state.options.keep or state.options.exercise_id is not None,
        "timeline": [{"minutes": h[0], "kind": h[1], "data": h[2:]} for h in state.history],
        "routes": _routes(state),
    }


def canonical(history: list[list[Any]]) -> str:
    """One text for the history: sorted keys, no spaces, floats as written."""
    return json.dumps(history, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def shown_figures(reports: list[dict[str, Any]]) -> tuple[str, ...]:
    """The figures a summary shows: the report's, and the plans' where a report has them."""
    if any("callouts" in r for r in reports):
        return (*sc.FIGURES[:-1], *sc.PREPAREDNESS_FIGURES, sc.FIGURES[-1])
    return sc.FIGURES


def figure(report: dict[str, Any], name: str) -> float | None:
    """A figure by dotted name (`delivery_minutes.p90`); `unmet` counts its entries."""
    value: Any = report
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    if isinstance(value, list):
        return float(len(value))
    return None if value is None else float(value)


def check_expect(scenario: sc.Scenario, report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each bound with the figure it saw and whether it held."""
    return [
        {
            "bound": str(b),
            "figure": b.figure,
            "actual": figure(report, b.figure),
            "ok": b.holds(figure(report, b.figure)),
        }
        for b in scenario.expect
    ]


def failed_bounds(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in report.get("expect", []) if not b["ok"]]
