"""Community plans in a replay (only when the scenario turns `preparedness` on): declaring
an incident starts the approved plans of its communities in the declaring command (the
incidents service does it, as in the real world: `Context.plans_run`), and the replay
plays on what they started, on simulated time:

- the plans' tasks are people's tasks like the scenario's own (`T…` keys, staffed from the
  same suggestions, ended after their minutes); an evacuation task, once done, brings its
  households to the plan's shelter (`shelters.evacuate`);
- each call-out (`K1, K2, …` in order of sending) is answered by its simulated recipient
  through `answer_callout`, the API's path, on a rule of seeded draws
  (`random.Random("dispatch-scenario/<seed>/callout/<n>")`, four draws per call-out in this
  order, so a call-out's course depends on the seed and its number only): its fate
  (never answers with `no_answer_share`, declines with `decline_share`, else
  acknowledges), the delay after sending (`answer_delay`, whole minutes, at least one),
  the ETA it gives (`eta`, whole minutes, at least one) and, for a decline, its reason.
  An answer due after the scenario's end does not happen.
- escalation runs as in the real world, on simulated time: at each call-out's due time
  the replay sweeps (`escalation.sweep`), and a decline escalates at once; each new step
  (to the deputy, then the street squad leader) is a call-out of its own (`K…`, the next
  number), answered on the same rule.

The history names plans by community, call-outs by key and role, shelters by code; never
database ids. Which plans exist is the copied world's (`dispatch demo` seeds one per
community): a community the incident names without a plan that answers it is recorded
(`no_plan`), and the report lists it.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import asyncpg

from dispatch.db import query
from dispatch.errors import DomainError
from dispatch.exercises import scenario as sc
from dispatch.exercises.replay.people import staff
from dispatch.exercises.replay.shelters import note_occupancy
from dispatch.exercises.replay.state import CALLOUT, CalloutRun, PeopleTask, ReplayState
from dispatch.preparedness.escalation import sweep
from dispatch.preparedness.schemas import CalloutState
from dispatch.preparedness.service import answer_callout

# why a simulated recipient cannot come (zh-CN first, en second)
DECLINE_REASONS = (
    "人在外地，无法赶到 / away from the city, cannot come",
    "家中有老人需要照顾 / caring for an elderly relative at home",
    "正在值班，脱不开身 / on duty elsewhere, cannot leave",
    "身体不适 / unwell",
)


def draws(seed: int, number: int) -> random.Random:
    """The call-out's own stream: its course depends on the seed and its number only."""
    return random.Random(f"dispatch-scenario/{seed}/callout/{number}")


def _whole_minutes(seconds: float) -> int:
    return max(1, round(seconds / 60))


def plan_answer(
    rule: sc.Preparedness, seed: int, number: int, callout: int, sent_at: datetime
) -> CalloutRun:
    """What the recipient of call-out `number` does, and when (four draws, always)."""
    rng = draws(seed, number)
    fate = rng.random()
    delay = _whole_minutes(rule.answer_delay.draw(rng))
    eta = _whole_minutes(rule.eta.draw(rng))
    reason = DECLINE_REASONS[rng.randrange(len(DECLINE_REASONS))]
    key = f"K{number}"
    if fate < rule.no_answer_share:
        return CalloutRun(key, callout, None, None)
    at = sent_at + timedelta(minutes=delay)
    if fate < rule.no_answer_share + rule.decline_share:
        return CalloutRun(key, callout, CalloutState.DECLINED.value, at, reason=reason)
    return CalloutRun(key, callout, CalloutState.ACKNOWLEDGED.value, at, eta_minutes=eta)


async def _read(state: ReplayState, incident: int) -> tuple[list[asyncpg.Record], ...]:
    """The incident's activations not taken on yet (a raised level adds to those of its
    declaration), with their call-outs, tasks and shelters."""
    known = list(state.activations)
    async with query(state.context()) as conn:
        activations = await conn.fetch(
            "SELECT id, plan_id, community, tasks, shelters FROM plan_activation "
            "WHERE incident=$1 AND id <> ALL($2::bigint[]) ORDER BY community, id",
            incident,
            known,
        )
        callouts = await conn.fetch(
            "SELECT c.id, c.activation_id, c.community, c.role, c.recipient_kind, c.sent_at, "
            "c.due_at FROM plan_callout c JOIN plan_activation a ON a.id = c.activation_id "
            "WHERE c.incident=$1 AND a.id <> ALL($2::bigint[]) ORDER BY a.community, c.id",
            incident,
            known,
        )
        tasks = await conn.fetch(
            "SELECT id, version, kind, community, people_needed, minutes FROM task "
            "WHERE id = ANY($1::bigint[]) ORDER BY id",
            [t for a in activations for t in a["tasks"]],
        )
        shelters = await conn.fetch(
            "SELECT p.plan_id, s.id, s.code, s.name, s.occupancy FROM plan_shelter p "
            "JOIN shelter s ON s.id = p.shelter_id WHERE p.plan_id = ANY($1::int[]) "
            "ORDER BY p.plan_id, s.id",
            [a["plan_id"] for a in activations],
        )
    return list(activations), list(callouts), list(tasks), list(shelters)


async def plans_started(state: ReplayState, event: sc.Incident, incident: int) -> None:
    """What the declaration's plans started: their tasks taken on (and staffed), their
    shelters known, their call-outs' answers put on the agenda."""
    activations, callouts, tasks, shelters = await _read(state, incident)
    started = {a["community"] for a in activations}
    for community in sorted(set(event.communities) - started):
        state.without_plan.append(community)
        state.record("no_plan", event.key, community)
    await _take_on_started(state, event.key, activations, callouts, tasks, shelters)


async def plans_raised(state: ReplayState, key: str, incident: int) -> None:
    """What raising the incident's level started: the plans that answer only the graver
    level, taken on as a declaration's are (those started before are not read again)."""
    await _take_on_started(state, key, *await _read(state, incident))


async def _take_on_started(
    state: ReplayState,
    key: str,
    activations: list[asyncpg.Record],
    callouts: list[asyncpg.Record],
    tasks: list[asyncpg.Record],
    shelters: list[asyncpg.Record],
) -> None:
    by_id = {t["id"]: t for t in tasks}
    shelter_of: dict[int, asyncpg.Record] = {}
    for s in shelters:
        shelter_of.setdefault(s["plan_id"], s)  # the plan's first shelter takes its evacuees
        if s["id"] not in state.occupancy:
            note_occupancy(state, s["id"], s["code"], s["name"], s["occupancy"])
    staffing: list[int] = []
    for a in activations:
        state.activations.append(a["id"])
        shelter = shelter_of.get(a["plan_id"])
        keys = [_take_on(state, key, by_id[t], shelter) for t in sorted(a["tasks"])]
        staffing += sorted(a["tasks"])
        opened = sorted(
            s["code"] for s in shelters if s["plan_id"] == a["plan_id"] and s["id"] in a["shelters"]
        )
        sent = sum(1 for c in callouts if c["activation_id"] == a["id"])
        state.record("activated", key, a["community"], keys, opened, sent)
    for c in callouts:
        run = _adopt(state, c)
        state.record("callout", run.key, key, c["community"], c["role"], c["recipient_kind"])
    if state.scenario.policy.assign_people:
        for task_id in staffing:
            await staff(state, task_id)


def _adopt(state: ReplayState, row: asyncpg.Record) -> CalloutRun:
    """A call-out step the service sent: its recipient's answer and the sweep at its due
    time put on the agenda."""
    rule = state.scenario.preparedness or sc.Preparedness()
    number = len(state.callouts) + 1
    run = plan_answer(rule, state.scenario.seed, number, row["id"], row["sent_at"])
    state.callouts[run.key] = run
    if run.answer_at is not None:
        state.push(run.answer_at, CALLOUT, "callout", run.key)
    state.push(row["due_at"], CALLOUT, "escalation", run.key)
    return run


async def _escalated(state: ReplayState) -> None:
    """The steps escalation sent since the replay last looked (to a deputy, to a street
    squad leader), each taken on as a call-out of its own."""
    known = {run.callout: key for key, run in state.callouts.items()}
    async with query(state.context()) as conn:
        rows = await conn.fetch(
            "SELECT id, escalated_from, step, community, role, recipient_kind, sent_at, due_at "
            "FROM plan_callout WHERE escalated_from = ANY($1::bigint[]) "
            "AND NOT (id = ANY($2::bigint[])) ORDER BY id",
            sorted(known),
            sorted(known),
        )
    for row in rows:
        run = _adopt(state, row)
        state.record(
            "escalated", run.key, known[row["escalated_from"]], row["step"], row["recipient_kind"]
        )


async def escalation_step(state: ReplayState, key: str) -> None:
    """A call-out's due time: the sweep escalates what is still unanswered (nothing, when
    it was answered in time or escalated already)."""
    await sweep(state.context())
    await _escalated(state)


def _take_on(
    state: ReplayState, incident_key: str, row: asyncpg.Record, shelter: asyncpg.Record | None
) -> str:
    """A plan's task as one of the replay's people's tasks (its key)."""
    key = f"T{len(state.tasks) + 1}"
    evacuation = row["kind"] == "evacuation" and shelter is not None
    state.tasks[row["id"]] = PeopleTask(
        key,
        row["id"],
        row["version"],
        row["community"],
        row["kind"],
        row["people_needed"],
        row["minutes"],
        shelter=shelter["id"] if evacuation and shelter is not None else None,
    )
    state.record(
        "task", key, incident_key, row["community"], row["kind"], row["people_needed"], "plan"
    )
    return key


async def callout_step(state: ReplayState, key: str) -> None:
    """The recipient answers, through the API's path; a refusal is recorded (a trainee, or
    an escalation, may have answered it first)."""
    run = state.callouts[key]
    assert run.answer is not None
    try:
        await answer_callout(
            state.context(),
            run.callout,
            CalloutState(run.answer),
            eta_minutes=run.eta_minutes,
            reason=run.reason,
        )
    except DomainError as exc:
        state.refuse("callout_answer", exc)
        return
    state.record("callout_answer", key, run.answer, run.eta_minutes)
    await _escalated(state)  # a decline goes on to the next recipient at once
