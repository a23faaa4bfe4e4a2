"""Who may be put on a task: one set of rules for the suggestions and direct assignment.

Pure, like `dispatch.accounts.policy`: the service loads a `Worker` per person and a `Job`
for the task, and `misfits` says which rules the pairing breaks. Skills and the 8-hour day
are judged by the same code the matching uses (`geo.assignment.eligibility`), so a person
the suggestions would never offer is never assigned by hand either, unless a commander
overrides with a reason; the suggestions for a task leave out, by the same function, the
people on another task and those outside the task's place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from dispatch.accounts.policy import Target, enlistable
from geo.assignment import AssignOptions, Candidate, Need, eligibility

HOURS_LIMIT = AssignOptions().hours_limit  # the working day the matching allows


class Rule(StrEnum):
    SKILLS = "skills"  # the person has every skill the task needs
    HOURS = "hours"  # hours worked today + the task's expected time <= the day's limit
    ONE_TASK = "one_task"  # not on another task, unless this task allows it
    SCOPE = "scope"  # of the task's street, or of a partner unit paired with a community there


@dataclass(frozen=True)
class Worker:
    """A person as the rules see them."""

    id: int
    name: str
    place: Target  # where they live or serve
    skills: frozenset[str] = frozenset()
    paired: frozenset[Target] = frozenset()  # communities their partner unit is paired with
    hours_today: float = 0.0
    tasks: frozenset[int] = frozenset()  # active tasks they are on that allow no other


@dataclass(frozen=True)
class Job:
    """A task as the rules see it."""

    task: int
    street: str
    community: str
    skills: frozenset[str] = frozenset()
    hours: float = 1.0
    concurrent: bool = False  # its people may be on other tasks at the same time


def task_hours(minutes: int) -> float:
    """The hours a task counts for against the day: its expected time, at least a quarter
    hour, at most 12 h (what the suggestions have always asked the matching for)."""
    return min(max(minutes / 60, 0.25), 12.0)


def _skills_and_hours(worker: Worker, job: Job, hours_limit: float) -> tuple[bool, bool]:
    need = Need(
        id="job", community=job.community, people=1, skills=job.skills, duration_h=job.hours
    )
    candidate = Candidate(id="worker", skills=worker.skills, hours_worked=worker.hours_today)
    skilled, in_hours, _ = eligibility(
        [need], [candidate], np.zeros((1, 1)), AssignOptions(hours_limit=hours_limit)
    )
    return bool(skilled[0, 0]), bool(in_hours[0, 0])


def busy(worker: Worker, job: Job) -> bool:
    """On another task that allows no other, and this one does not allow it either."""
    return not job.concurrent and bool(worker.tasks - {job.task})


def in_scope(worker: Worker, job: Job) -> bool:
    return enlistable(Target(street=job.street), worker.place, worker.paired)


def misfits(worker: Worker, job: Job, hours_limit: float = HOURS_LIMIT) -> tuple[Rule, ...]:
    """The rules putting `worker` on `job` breaks, in a fixed order (empty: it may be done)."""
    skilled, in_hours = _skills_and_hours(worker, job, hours_limit)
    broken = {
        Rule.SKILLS: not skilled,
        Rule.HOURS: not in_hours,
        Rule.ONE_TASK: busy(worker, job),
        Rule.SCOPE: not in_scope(worker, job),
    }
    return tuple(rule for rule, is_broken in broken.items() if is_broken)


def placeable(worker: Worker, job: Job) -> bool:
    """Whether the suggestions for `job` may offer `worker` at all; skills and hours are
    left to the matching, which explains a need left short by them."""
    return not busy(worker, job) and in_scope(worker, job)
