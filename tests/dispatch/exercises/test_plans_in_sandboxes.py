"""Community plans and sandboxes: a declaration starts plans in the real world always, in a
sandbox only with the replay's opt-in (`Context.plans_run`, from a scenario's
`preparedness: {activate: true}`), never in a drill people work in; the `preparedness`
key's checks; the simulated answers' and households' rules; the report's figures'
arithmetic on a small fixture."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.clock import WallClock
from dispatch.db import Context
from dispatch.exercises import scenario as sc
from dispatch.exercises.replay.preparedness import DECLINE_REASONS, plan_answer
from dispatch.exercises.replay.report import callout_figures
from dispatch.exercises.replay.shelters import household_sizes, note_occupancy
from dispatch.exercises.replay.state import REPLAY_ACTOR, ReplayState
from dispatch.exercises.schemas import ExerciseCreate, ExerciseKind
from dispatch.exercises.service import create_exercise, delete_exercise
from dispatch.incidents.schemas import IncidentCreate, IncidentType, Level
from dispatch.incidents.service import declare_incident
from dispatch.preparedness.demo import TASKS
from dispatch.preparedness.schemas import (
    HazardSpec,
    Holder,
    HolderKind,
    PlanCreate,
    RoleSpec,
    ShelterCreate,
)
from dispatch.preparedness.service import approve_plan, create_plan, create_shelter
from tests.dispatch.exercises.test_scenario import BASE, REFERENCE
from tests.dispatch.people.seed import ensure_district
from tests.dispatch.preparedness.helpers import community_of, plans_made_here
from tests.support import run, sql, system_context

STREET = "110101011"  # 前门
START = datetime(2026, 7, 31, 9, 0, tzinfo=timezone(timedelta(hours=8)))


@pytest.fixture(scope="module", autouse=True)
def _plans_superseded_after() -> Iterator[None]:
    yield from plans_made_here()


@pytest.fixture(scope="module")
def planned() -> str:
    """A community with an approved rainstorm plan (a shelter, a role, the demo's tasks)."""
    ensure_district()
    community = community_of(STREET, 1)
    ctx = system_context()
    place = sql("SELECT lat, lon FROM community WHERE code=$1", community)[0]
    shelter = run(
        create_shelter(
            ctx,
            ShelterCreate(
                code=f"T{uuid.uuid4().hex[:12]}",
                name="测试安置点",
                community=community,
                lat=place["lat"],
                lon=place["lon"],
                capacity=50,
            ),
        )
    )
    squad = sql("SELECT min(id) AS i FROM team WHERE kind='street_squad' AND street=$1", STREET)
    person = sql("SELECT min(id) AS i FROM person WHERE active AND street=$1", STREET)
    role = RoleSpec(
        "抢险救援组",
        Holder(HolderKind.STREET_SQUAD, squad[0]["i"]),
        Holder(HolderKind.PERSON, person[0]["i"]),
    )
    hazards = [HazardSpec(IncidentType.RAINSTORM, Level.IV)]
    body = PlanCreate(community, "测试预案", hazards, [role], [shelter.id], list(TASKS))
    plan = run(create_plan(ctx, body))
    run(approve_plan(ctx, plan.id))
    return community


def _declare(ctx: Context, community: str) -> int:
    body = IncidentCreate(
        type=IncidentType.RAINSTORM,
        level=Level.III,
        title=f"测试暴雨 {uuid.uuid4().int % 10**6:06d}",
        communities=[community],
    )
    return run(declare_incident(ctx, body)).id


def _started(schema: str | None, incident: int) -> dict[str, int]:
    prefix = f"{schema}." if schema else ""
    row = sql(
        f"SELECT (SELECT count(*) FROM {prefix}plan_activation WHERE incident=$1) AS activations,"
        f" (SELECT count(*) FROM {prefix}plan_callout WHERE incident=$1) AS callouts,"
        f" (SELECT count(*) FROM {prefix}task WHERE incident=$1) AS tasks",
        incident,
    )[0]
    return {k: int(v) for k, v in row.items()}


def test_plans_start_in_a_sandbox_only_with_the_replays_opt_in(planned: str) -> None:
    """The same declaration: a drill's context (what the API gives people working in it)
    starts nothing, the replay's opt-in starts the copied plan, the real world always."""
    manager = system_context()
    drill = run(
        create_exercise(manager, ExerciseCreate(name="预案沙箱测试", kind=ExerciseKind.DRILL))
    )
    try:
        schema = drill.schema_name
        people = Context(REPLAY_ACTOR, WallClock(), schema)
        assert not people.plans_run
        plain = _declare(people, planned)
        assert _started(schema, plain) == {"activations": 0, "callouts": 0, "tasks": 0}
        opted = Context(REPLAY_ACTOR, WallClock(), schema, plans_run=True)
        in_sandbox = _started(schema, _declare(opted, planned))
    finally:
        run(delete_exercise(manager, drill.id))
    # the role, and the community's paired units pledging people (the synthetic pairings)
    assert in_sandbox["activations"] == 1 and in_sandbox["tasks"] == len(TASKS)
    assert in_sandbox["callouts"] >= 1
    real = _declare(system_context(), planned)
    assert system_context().plans_run
    assert _started(None, real) == in_sandbox


# ---------------------------------------------------------------- the `preparedness` key

PLANS = BASE.replace("events:", "preparedness:\n  activate: true\nevents:", 1)


def test_files_without_the_key_run_no_plans_and_the_shipped_five_do_not_turn_it_on() -> None:
    assert not sc.parse_scenario(BASE, REFERENCE).plans_run
    off = BASE.replace("events:", "preparedness: {activate: false}\nevents:", 1)
    assert not sc.parse_scenario(off, REFERENCE).plans_run
    on = sc.parse_scenario(PLANS, REFERENCE)
    assert on.plans_run and on.preparedness == sc.Preparedness(activate=True)


def test_the_key_reads_every_field() -> None:
    text = BASE.replace(
        "events:",
        "preparedness:\n  activate: true\n  no_answer_share: 0.25\n  decline_share: 0.5\n"
        "  answer_delay: {around: 4m, distribution: triangular, spread: 2m}\n"
        "  eta: {around: 30m, distribution: normal, spread: 5m}\n  households: 3\n"
        "  household_size: {around: 2, distribution: uniform, spread: 1}\nevents:",
        1,
    )
    rule = sc.parse_scenario(text, REFERENCE).preparedness
    assert rule == sc.Preparedness(
        activate=True,
        no_answer_share=0.25,
        decline_share=0.5,
        answer_delay=sc.Around(240.0, sc.Spread("triangular", 120.0)),
        eta=sc.Around(1800.0, sc.Spread("normal", 300.0)),
        households=3,
        household_size=sc.Around(2.0, sc.Spread("uniform", 1.0)),
    )


@pytest.mark.parametrize(
    ("block", "path", "words"),
    [
        ("preparedness: {no_answer_share: 0.1}", "preparedness.activate", "missing required"),
        ("preparedness: {activate: yes please}", "preparedness.activate", "true or false"),
        ("preparedness: {activate: true, share: 1}", "preparedness.share", "unknown key"),
        (
            "preparedness: {activate: true, no_answer_share: 1.5}",
            "preparedness.no_answer_share",
            "between 0.0 and 1.0",
        ),
        (
            "preparedness: {activate: true, no_answer_share: 0.6, decline_share: 0.5}",
            "preparedness.decline_share",
            "add up to 1.1",
        ),
        (
            "preparedness: {activate: true, answer_delay: {around: soon, distribution: normal, "
            "spread: 1m}}",
            "preparedness.answer_delay.around",
            "bad duration",
        ),
        (
            "preparedness: {activate: true, eta: {around: 5m, distribution: poisson, spread: 1m}}",
            "preparedness.eta.distribution",
            "unknown distribution",
        ),
        ("preparedness: {activate: true, households: 501}", "preparedness.households", "500"),
        (
            "preparedness: {activate: true, household_size: {around: 25, distribution: uniform, "
            "spread: 1}}",
            "preparedness.household_size.around",
            "between 1",
        ),
    ],
)
def test_a_bad_key_is_refused_naming_its_line(block: str, path: str, words: str) -> None:
    text = BASE.replace("events:", f"{block}\nevents:", 1)
    line = text.splitlines().index(block) + 1
    with pytest.raises(sc.ScenarioError) as refused:
        sc.parse_scenario(text, REFERENCE)
    assert any(
        p.line == line and p.path == path and words in p.message for p in refused.value.problems
    ), refused.value.problems


def test_a_bound_on_a_plans_figure_needs_plans_that_run() -> None:
    bound = 'expect:\n  callouts.sent: ">= 1"\n'
    assert sc.parse_scenario(PLANS + bound, REFERENCE).expect[0].figure == "callouts.sent"
    with pytest.raises(sc.ScenarioError) as refused:
        sc.parse_scenario(BASE + bound, REFERENCE)
    (problem,) = refused.value.problems
    assert problem.path == "expect.callouts.sent" and "preparedness.activate" in problem.message
    assert problem.line == (BASE + bound).splitlines().index('  callouts.sent: ">= 1"') + 1


# ---------------------------------------------------------------- the simulated people


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**31),
    number=st.integers(min_value=1, max_value=500),
    no_answer=st.floats(min_value=0, max_value=1),
    decline=st.floats(min_value=0, max_value=1),
)
def test_an_answer_is_its_seed_and_numbers_only_and_keeps_the_shares(
    seed: int, number: int, no_answer: float, decline: float
) -> None:
    decline = min(decline, 1 - no_answer)
    rule = sc.Preparedness(activate=True, no_answer_share=no_answer, decline_share=decline)
    answer = plan_answer(rule, seed, number, 99, START)
    assert answer == plan_answer(rule, seed, number, 99, START)  # no other state in it
    assert answer.key == f"K{number}"
    if answer.answer is None:
        assert answer.answer_at is None and no_answer > 0
        return
    assert answer.answer_at is not None and answer.answer_at >= START + timedelta(minutes=1)
    assert (answer.answer_at - START).total_seconds() % 60 == 0  # whole minutes
    if answer.answer == "declined":
        assert answer.reason in DECLINE_REASONS and answer.eta_minutes is None and decline > 0
    else:
        assert answer.answer == "acknowledged" and answer.eta_minutes and answer.eta_minutes >= 1


def test_the_shares_at_their_ends() -> None:
    never = sc.Preparedness(activate=True, no_answer_share=1.0)
    declines = sc.Preparedness(activate=True, decline_share=1.0)
    comes = sc.Preparedness(activate=True)
    for n in range(1, 40):
        assert plan_answer(never, 3, n, n, START).answer is None
        assert plan_answer(declines, 3, n, n, START).answer == "declined"
        assert plan_answer(comes, 3, n, n, START).answer == "acknowledged"


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**31), households=st.integers(0, 40))
def test_households_are_whole_people_drawn_from_the_seed_and_task(
    seed: int, households: int
) -> None:
    rule = sc.Preparedness(activate=True, households=households)
    sizes = household_sizes(rule, seed, "T3")
    assert sizes == household_sizes(rule, seed, "T3") and len(sizes) == households
    assert all(isinstance(n, int) and 1 <= n <= 5 for n in sizes)  # 3 ± 2, at least one


# ---------------------------------------------------------------- the report's figures


def _row(state: str, minutes: float | None) -> dict[str, Any]:
    answered = None if minutes is None else START + timedelta(minutes=minutes)
    return {"state": state, "sent_at": START, "answered_at": answered, "escalated_from": None}


def test_callout_figures_on_a_small_fixture() -> None:
    rows = [
        _row("acknowledged", 3),
        _row("acknowledged", 9),
        _row("acknowledged", 4.5),
        _row("declined", 2),
        _row("sent", None),  # never answered: still sent at the end
        _row("no_answer", 10),  # marked so (the API's no-answer)
        {**_row("sent", None), "escalated_from": 7},  # the deputy, after the declined one
    ]
    assert callout_figures(rows) == {
        "callouts": {"sent": 7, "acknowledged": 3, "declined": 1, "no_answer": 3},
        # ranks of 3, 4.5, 9: the median 4.5; p90 linear between 4.5 and 9 at 0.8
        "callout_ack_minutes": {"p50": 4.5, "p90": 8.1},
        "escalations": 1,
    }
    assert callout_figures([_row("declined", 1)])["callout_ack_minutes"] == {
        "p50": None,
        "p90": None,
    }
    assert callout_figures([])["callouts"] == {
        "sent": 0,
        "acknowledged": 0,
        "declined": 0,
        "no_answer": 0,
    }


def test_shelter_peaks_each_and_all_at_once() -> None:
    scenario = sc.parse_scenario(PLANS, REFERENCE)
    state = ReplayState(scenario)
    note_occupancy(state, 1, "S1", "甲安置点", 10)
    note_occupancy(state, 2, "S2", "乙安置点", 5)
    note_occupancy(state, 1, "S1", "甲安置点", 30)  # 35 in both
    note_occupancy(state, 1, "S1", "甲安置点", 12)  # some left: the peaks stay
    note_occupancy(state, 2, "S2", "乙安置点", 20)  # 32 in both
    assert state.peak == {1: 30, 2: 20}
    assert state.peak_overall == 35
    assert state.shelter_names == {1: "甲安置点", 2: "乙安置点"}
