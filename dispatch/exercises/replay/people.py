"""People's tasks: staffed from the same suggestions as the API, waiting when nobody
fits, ended after their minutes (freeing people for tasks left short)."""

from __future__ import annotations

from datetime import timedelta

from dispatch.clock import SHANGHAI
from dispatch.errors import DomainError
from dispatch.exercises.replay.shelters import evacuate
from dispatch.exercises.replay.state import STAFF, TASK_END, ReplayState
from dispatch.incidents.schemas import TaskAssign, TaskComplete, TaskStep
from dispatch.incidents.service import assign_task, complete_task, step_task, suggest_for_task


async def staff(state: ReplayState, task_id: int) -> None:
    """Pair people with a task from the suggestions (the same matching as the API)."""
    task = state.tasks[task_id]
    ctx = state.context()
    try:
        suggested = await suggest_for_task(ctx, task_id)
    except DomainError as exc:
        state.refuse("suggest", exc)
        return
    people = [s.person_id for s in suggested.suggestions]
    if not people:
        if task_id not in state.unstaffed:
            state.unstaffed.append(task_id)
            state.record("unstaffed", task.key, [s.reason for s in suggested.short])
        return
    if task_id in state.unstaffed:
        state.unstaffed.remove(task_id)
    view = await assign_task(ctx, task_id, TaskAssign(version=task.version, people=people))
    view = await step_task(ctx, task_id, "accept", TaskStep(version=view.version))
    view = await step_task(ctx, task_id, "start", TaskStep(version=view.version))
    task.version = view.version
    task.assigned = people
    state.push(state.now + timedelta(minutes=task.minutes), TASK_END, "task_end", task_id)
    state.record("staffed", task.key, sorted(state.codes.get(p, "?") for p in people))


async def staff_waiting(state: ReplayState, new_day_only: bool = False) -> None:
    """Tasks left short, again: when people arrive or finish, and on a new day (the
    8-hour limit counts per day); in between the matching would say the same."""
    if not state.scenario.policy.assign_people:
        return
    day = state.now.astimezone(SHANGHAI).date()
    if new_day_only and day == state.staffing_day:
        return
    state.staffing_day = day
    for task_id in list(state.unstaffed):
        await staff(state, task_id)


async def task_end(state: ReplayState, task_id: int) -> None:
    task = state.tasks[task_id]
    try:
        view = await complete_task(state.context(), task_id, TaskComplete(version=task.version))
    except DomainError as exc:
        state.refuse("task_end", exc)
        return
    task.version = view.version
    task.done = True
    state.record("task_done", task.key)
    state.push(state.now, STAFF, "staff")  # freed people may staff waiting tasks
    if task.shelter is not None:  # a community plan's evacuation: its households arrive
        await evacuate(state, task)
