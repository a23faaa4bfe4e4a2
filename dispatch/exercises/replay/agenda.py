"""The agenda and the run: a sandbox opened, the world prepared, then the agenda played in
(time, class, sequence) order, one step handler per agenda kind in `STEPS`, and the report.

Nothing else orders the commands, so two runs issue the same commands in the same order.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from dispatch.clock import WallClock
from dispatch.db import Context
from dispatch.errors import Conflict, DomainError
from dispatch.exercises import scenario as sc
from dispatch.exercises.replay.calls import sweep, ticket_step
from dispatch.exercises.replay.events import apply_event
from dispatch.exercises.replay.fleet import make_fleet
from dispatch.exercises.replay.people import staff_waiting, task_end
from dispatch.exercises.replay.plans import arrive, replan
from dispatch.exercises.replay.preparedness import callout_step, escalation_step
from dispatch.exercises.replay.report import build_report, check_expect
from dispatch.exercises.replay.runs import stop_arrival, vehicle_back
from dispatch.exercises.replay.state import (
    EVENT,
    REPLAN,
    REPLAY_ACTOR,
    Options,
    Progress,
    ReplayState,
)
from dispatch.exercises.replay.world import prepare_world
from dispatch.exercises.schemas import ExerciseCreate
from dispatch.exercises.service import create_exercise, delete_exercise, get_exercise


async def _event_step(state: ReplayState, event: sc.Event) -> None:
    await apply_event(state, event)
    state.events_done += 1


async def _tick_step(state: ReplayState, _: Any) -> None:
    state.replan_due = False
    await replan(state)
    await staff_waiting(state, new_day_only=True)


async def _replan_now_step(state: ReplayState, _: Any) -> None:
    if state.replan_due:
        state.replan_due = False
        await replan(state)


async def _staff_step(state: ReplayState, _: Any) -> None:
    await staff_waiting(state)


Step = Callable[[ReplayState, Any], Awaitable[None]]
# one handler per agenda kind: the kind pushed on the agenda -> what happens at its moment
STEPS: dict[str, Step] = {
    "event": _event_step,
    "arrival": arrive,
    "stop": stop_arrival,
    "vehicle_back": vehicle_back,
    "task_end": task_end,
    "tick": _tick_step,
    "replan_now": _replan_now_step,
    "staff": _staff_step,
    "ticket": ticket_step,
    "sweep": sweep,
    "callout": callout_step,
    "escalation": escalation_step,
}


class Replay(ReplayState):
    """One run of one scenario."""

    async def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        await self._open_sandbox()
        try:
            await prepare_world(self)
            await make_fleet(self)
            await self._loop()
            report = await build_report(self)
        except BaseException:
            if not self.options.keep and self.options.exercise_id is None:
                await self._close_sandbox()
            raise
        self.wall_seconds = round(time.perf_counter() - started, 2)
        report["wall_seconds"] = self.wall_seconds
        report["plan_seconds"] = round(self.plan_seconds, 2)
        report["expect"] = check_expect(self.scenario, report)
        if not self.options.keep and self.options.exercise_id is None:
            await self._close_sandbox()
        return report

    async def _open_sandbox(self) -> None:
        """A new exercise for the run, or the existing one it plays into."""
        manager = Context(REPLAY_ACTOR, WallClock())
        if self.options.exercise_id is not None:
            view = await get_exercise(manager, self.options.exercise_id)
            if view.status != "active":
                raise Conflict(f"exercise {view.id} is {view.status}", field="id")
        else:
            name = self.options.name or f"回放 {self.scenario.name}"[:100]
            view = await create_exercise(
                manager,
                ExerciseCreate(
                    name=name,
                    kind=self.options.kind,
                    scenario=Path(self.scenario.source).name[:200],
                    seed=self.scenario.seed,
                ),
            )
        self.exercise_id = view.id
        self.schema = view.schema_name
        # a sandbox of its own is thrown away (or kept to look at): its commits need not
        # wait for the disk; a drill people work in keeps durable commits
        own = self.options.exercise_id is None
        # plans start in the sandbox only when the scenario turns `preparedness` on
        plans_run = self.scenario.plans_run
        self.ctx = Context(
            REPLAY_ACTOR, self.clock, view.schema_name, durable=not own, plans_run=plans_run
        )

    async def _close_sandbox(self) -> None:
        if self.exercise_id is None:
            return
        with contextlib.suppress(DomainError):  # already deleted (by a trainer, while it ran)
            await delete_exercise(Context(REPLAY_ACTOR, WallClock()), self.exercise_id)

    async def _loop(self) -> None:
        scenario = self.scenario
        for event in sorted(scenario.events, key=lambda e: (e.at, e.index)):
            self.push(scenario.start + event.at, EVENT, "event", event)
        every = scenario.policy.replan_every
        tick = scenario.start
        while tick <= scenario.end:
            self.push(tick, REPLAN, "tick")
            tick += every
        total = scenario.duration.total_seconds() or 1.0
        while self.agenda:
            at, _, _, kind, payload = heapq.heappop(self.agenda)
            if at > scenario.end:
                break
            await self._wait_until(at)
            self.clock.set(at)
            self.steps += 1
            await self._step(kind, payload)
            if self.on_progress is not None:
                self.on_progress((at - scenario.start).total_seconds() / total, self.steps)
        if self.clock.now() < scenario.end:
            await self._wait_until(scenario.end)
            self.clock.set(scenario.end)

    async def _wait_until(self, at: datetime) -> None:
        speed = self.options.speed
        if speed is None or at <= self.now:
            return
        await asyncio.sleep((at - self.now).total_seconds() / speed)

    async def _step(self, kind: str, payload: Any) -> None:
        step = STEPS.get(kind)
        if step is not None:
            await step(self, payload)


async def replay(
    scenario: sc.Scenario, options: Options | None = None, on_progress: Progress | None = None
) -> dict[str, Any]:
    """Run one scenario and return its report."""
    return await Replay(scenario, options, on_progress).run()
