"""Shelter intake in a replay (only with `preparedness` on): a community plan's evacuation
task, once done, brings its households to the plan's shelter through `shelters.intake`,
the API's path. The database decides the room there is; a shelter that has no room left
for a household is refused with the nearest open one with room named (`shelter.full`),
and the household goes there, as a squad would send it. A household no open shelter has
room for is recorded `unsheltered`.

How many households (`preparedness.households`) and how many people each (drawn from
`household_size`, whole, at least one) on the task's own seeded stream
(`random.Random("dispatch-scenario/<seed>/evacuation/<task key>")`), so the households
depend on the seed and the task's key only. The shelters' occupancy is followed after each
change, for the report's peaks.
"""

from __future__ import annotations

import random

from dispatch.errors import Conflict, DomainError
from dispatch.exercises import scenario as sc
from dispatch.exercises.replay.state import PeopleTask, ReplayState
from dispatch.preparedness.schemas import IntakeCreate
from dispatch.preparedness.service import intake

MOVES = 50  # shelters a household is sent on to at most (each refusal names a nearer one)


def draws(seed: int, task_key: str) -> random.Random:
    return random.Random(f"dispatch-scenario/{seed}/evacuation/{task_key}")


def household_sizes(rule: sc.Preparedness, seed: int, task_key: str) -> list[int]:
    """The people in each household the task brings, in order."""
    rng = draws(seed, task_key)
    return [max(1, round(rule.household_size.draw(rng))) for _ in range(rule.households)]


def note_occupancy(state: ReplayState, shelter: int, code: str, name: str, occupancy: int) -> None:
    """A shelter's occupancy now: its peak, and the peak of all the run's shelters at once."""
    state.shelter_names[shelter] = name
    state.shelter_codes[shelter] = code
    state.occupancy[shelter] = occupancy
    state.peak[shelter] = max(state.peak.get(shelter, 0), occupancy)
    state.peak_overall = max(state.peak_overall, sum(state.occupancy.values()))


async def _register(state: ReplayState, task: PeopleTask, people: int) -> None:
    """One household into the plan's shelter, or on to the nearest one with room."""
    assert task.shelter is not None
    shelter = task.shelter
    for _ in range(MOVES):
        try:
            done = await intake(state.context(), shelter, IntakeCreate(people=people))
        except Conflict as exc:
            if exc.code == "shelter.full" and "nearest_id" in exc.params:
                shelter = int(exc.params["nearest_id"])
                continue
            state.record("unsheltered", task.key, people, exc.code)
            return
        view = done.shelter
        note_occupancy(state, view.id, view.code, view.name, view.occupancy)
        state.sheltered.append(people)
        moved = [] if shelter == task.shelter else [state.shelter_codes.get(task.shelter)]
        state.record("intake", task.key, view.code, people, *moved)
        return
    state.record("unsheltered", task.key, people, "shelter.moves")


async def evacuate(state: ReplayState, task: PeopleTask) -> None:
    """The evacuation task's households, registered one by one in the order drawn."""
    rule = state.scenario.preparedness
    if rule is None or task.shelter is None:
        return
    for people in household_sizes(rule, state.scenario.seed, task.key):
        try:
            await _register(state, task, people)
        except DomainError as exc:
            state.refuse("intake", exc)
