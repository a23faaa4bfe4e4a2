"""The assignment rules are pure: each refusal follows from its rule alone, and who may act
on a task and who may be enlisted follow from role, scope and assignment alone."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dispatch.accounts.policy import (
    ASSIGNEE_ACTIONS,
    COMMUNITY_SCOPED,
    TASK_ACTIONS,
    Actor,
    Role,
    Target,
    TaskTarget,
    authorize_task,
    enlistable,
)
from dispatch.errors import Forbidden
from dispatch.people.eligibility import HOURS_LIMIT, Job, Rule, Worker, misfits, placeable

SKILLS = ("first_aid", "driving", "medical", "lifting")
STREETS = ("110101001", "110101002", "110101003")
COMMUNITIES = {s: (f"{s}001", f"{s}002") for s in STREETS}

skills = st.frozensets(st.sampled_from(SKILLS), max_size=4)
streets = st.sampled_from(STREETS)


@st.composite
def places(draw: st.DrawFn) -> Target:
    street = draw(streets)
    return Target(street=street, community=draw(st.sampled_from(COMMUNITIES[street])))


workers = st.builds(
    Worker,
    id=st.integers(1, 50),
    name=st.just("某"),
    place=places(),
    skills=skills,
    paired=st.frozensets(places(), max_size=2),
    hours_today=st.floats(0, 12, allow_nan=False),
    tasks=st.frozensets(st.integers(1, 6), max_size=3),
)


@st.composite
def jobs(draw: st.DrawFn) -> Job:
    place = draw(places())
    return Job(
        task=draw(st.integers(1, 6)),
        street=str(place.street),
        community=str(place.community),
        skills=draw(skills),
        hours=draw(st.floats(0.25, 12, allow_nan=False)),
        concurrent=draw(st.booleans()),
    )


@given(workers, jobs())
def test_each_rule_refuses_exactly_when_it_is_broken(worker: Worker, job: Job) -> None:
    broken = misfits(worker, job)
    assert (Rule.SKILLS in broken) == (not job.skills <= worker.skills)
    assert (Rule.HOURS in broken) == (worker.hours_today + job.hours > HOURS_LIMIT + 1e-9)
    assert (Rule.ONE_TASK in broken) == (not job.concurrent and bool(worker.tasks - {job.task}))
    belongs = worker.place.street == job.street or any(
        p.street == job.street for p in worker.paired
    )
    assert (Rule.SCOPE in broken) == (not belongs)
    assert list(broken) == sorted(broken, key=list(Rule).index)  # a stable order
    # the suggestions leave out exactly the people on another task or outside the street
    assert placeable(worker, job) == (not {Rule.ONE_TASK, Rule.SCOPE} & set(broken))


@given(workers, jobs())
def test_fitting_is_monotone_in_skills_and_hours(worker: Worker, job: Job) -> None:
    """More skills or fewer hours worked never adds a refusal."""
    better = Worker(
        worker.id,
        worker.name,
        worker.place,
        worker.skills | job.skills,
        worker.paired,
        0.0,
        worker.tasks,
    )
    assert set(misfits(better, job)) <= set(misfits(worker, job))
    assert Rule.SKILLS not in misfits(better, job)


actors = st.one_of(
    st.builds(Actor, st.none(), st.just("boss"), st.just(Role.COMMANDER)),
    st.builds(Actor, st.none(), st.just("lead"), st.just(Role.STREET_LEADER), street=streets),
    st.builds(
        lambda role, place, person: Actor(
            None, "field", role, community=place.community, person_id=person
        ),
        st.sampled_from([Role.COMMUNITY_WORKER, Role.VOLUNTEER]),
        places(),
        st.one_of(st.none(), st.integers(1, 5)),
    ),
)


@given(actors, places(), st.frozensets(places(), max_size=2))
def test_enlisting_is_the_actors_scope_widened_by_pairings(
    actor: Actor, person: Target, paired: frozenset[Target]
) -> None:
    allowed = enlistable(actor.scope, person, paired)
    assert allowed == any(actor.covers(p) for p in (person, *paired))
    assert enlistable(Target(), person, paired)  # the district takes anyone


@given(actors, st.sampled_from(sorted(TASK_ACTIONS)), places(), st.frozensets(st.integers(1, 5)))
def test_who_may_act_on_a_task(
    actor: Actor, action: str, place: Target, assignees: frozenset[int]
) -> None:
    task = TaskTarget(7, str(place.street), str(place.community), assignees)
    try:
        authorize_task(actor, action, task)
        allowed = True
    except Forbidden:
        allowed = False
    if actor.role is Role.COMMANDER:
        assert allowed
    elif actor.role is Role.STREET_LEADER:
        assert allowed == (actor.street == task.street)
    else:
        assert actor.role in COMMUNITY_SCOPED
        mine = actor.person_id is not None and actor.person_id in assignees
        assert allowed == (action in ASSIGNEE_ACTIONS and mine)
