"""Scenario files: a full valid file, every refusal the issue lists (with its line), and
properties of durations and place names."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from dispatch.exercises.scenario import (
    Approve,
    CloseRoad,
    Incident,
    RaiseLevel,
    Reference,
    Request,
    ScenarioError,
    format_duration,
    load_reference,
    load_scenario,
    parse_duration,
    parse_scenario,
)

ROOT = Path(__file__).resolve().parents[3]
DATA = Path(__file__).resolve().parent / "data"
REFERENCE = load_reference(ROOT / "geo" / "data" / "dongcheng")

# a small valid file; each malformed case changes one line of it (line numbers are 1-based)
BASE = """\
format: dispatch-scenario/1
name: Short rainstorm
start: 2024-07-30T18:00:00+08:00
duration: 6h
events:
  - at: 0m
    incident:
      key: R1
      type: rainstorm
      level: III
      title: 暴雨
      communities: [110101001001]
  - at: 30m
    request:
      incident: R1
      community: 多福巷社区
      item: SANDBAG
      quantity: 200
      priority: critical
  - at: 1h
    depot_out: {depot: D110101001}
"""


def refused(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, REFERENCE, "case.yaml")
    return caught.value


def change(line: int, new: str) -> str:
    lines = BASE.splitlines()
    lines[line - 1] = new
    return "\n".join(lines) + "\n"


def test_base_is_valid() -> None:
    scenario = parse_scenario(BASE, REFERENCE)
    assert scenario.seed == 0
    assert scenario.duration == timedelta(hours=6)
    assert [e.action for e in scenario.events] == ["incident", "request", "depot_out"]


def test_full_example() -> None:
    scenario = load_scenario(DATA / "full.yaml", REFERENCE)
    assert scenario.name == "Evening rainstorm, old city"
    assert scenario.seed == 7
    assert scenario.start.utcoffset() == timedelta(hours=8)
    assert scenario.policy.planner == "nearest"
    assert scenario.policy.replan_every == timedelta(minutes=10)
    assert scenario.policy.auto_approve is False
    assert scenario.policy.handling_minutes == 12.5
    assert scenario.world.depots_out == ("D110101005",)
    assert scenario.world.on_duty[1].community == "110101001002"  # 银闸社区 by name
    assert scenario.world.closed_roads[1].edge == (3, 4)
    assert scenario.world.teams[0].unit == "某市属单位第一党支部"
    offsets = [e.at for e in scenario.events]
    assert offsets == sorted(offsets)
    # equal offsets keep file order: the task (file index 2) before the closure (index 3)
    at_15 = [e for e in scenario.events if e.at == timedelta(minutes=15)]
    assert [e.index for e in at_15] == [2, 3]
    assert isinstance(at_15[1], CloseRoad) and at_15[1].closure.radius_m == 150
    incident = scenario.events[0]
    assert isinstance(incident, Incident)
    assert incident.communities == ("110101001001", "110101001002")
    request = next(e for e in scenario.events if isinstance(e, Request))
    assert (request.community, request.need_by) == ("110101001001", timedelta(hours=2))
    assert any(isinstance(e, Approve) for e in scenario.events)
    assert [str(b) for b in scenario.expect] == [
        "fill_rate >= 0.9",
        "first_delivery_minutes <= 45",
        "tasks_staffed == 1",
        "delivery_minutes.p90 <= 120",
    ]
    assert scenario.expect[0].holds(0.95) and not scenario.expect[0].holds(0.5)


MALFORMED = [
    # (kind, text, line, path, words in the message)
    ("missing key", BASE.replace("name: Short rainstorm\n", ""), 1, "name", "missing"),
    ("bad offset", change(13, "  - at: 30 minutes"), 13, "events[1].at", "bad offset"),
    (
        "unknown community",
        change(16, "      community: 不存在社区"),
        16,
        "events[1].request.community",
        "unknown community",
    ),
    (
        "negative quantity",
        change(18, "      quantity: -5"),
        18,
        "events[1].request.quantity",
        "positive integer",
    ),
    (
        "unknown action",
        change(21, "    depot_flooded: {depot: D110101001}"),
        21,
        "events[2].depot_flooded",
        "unknown action",
    ),
    (
        "two actions in one event",
        change(21, "    depot_out: D110101001\n    depot_back: D110101001"),
        22,
        "events[2].depot_back",
        "exactly one action",
    ),
    ("bad level", change(10, "      level: V"), 10, "events[0].incident.level", "level"),
    ("bad date", change(3, "start: 2024-07-32T18:00:00+08:00"), 3, "start", "bad date"),
    ("unknown item", change(17, "      item: SANDBAGS"), 17, "events[1].request.item", "item"),
    (
        "wrong format tag",
        change(1, "format: dispatch-scenario/2"),
        1,
        "format",
        "dispatch-scenario/1",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "path", "words"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_is_refused_naming_line_and_key(
    text: str, line: int, path: str, words: str
) -> None:
    error = refused(text)
    assert len(error.problems) == 1, error.problems
    problem = error.problems[0]
    assert (problem.line, problem.path) == (line, path)
    assert words in problem.message
    assert str(problem).startswith(f"line {line}, {path}: ")
    assert f"line {line}, {path}" in str(error)


def test_every_problem_is_reported_not_just_the_first() -> None:
    text = change(18, "      quantity: 0").replace("level: III", "level: 3")
    text = text.replace("priority: critical", "priority: urgent")
    error = refused(text)
    assert [(p.line, p.path) for p in error.problems] == [
        (10, "events[0].incident.level"),
        (18, "events[1].request.quantity"),
        (19, "events[1].request.priority"),
    ]


@pytest.mark.parametrize(
    ("edit", "path", "words"),
    [
        (("duration: 6h", "duration: 6 hours"), "duration", "bad duration"),
        (("start: 2024-07-30T18:00:00+08:00", "start: 2024-07-30T18:00:00"), "start", "offset"),
        (("type: rainstorm", "type: tsunami"), "events[0].incident.type", "incident type"),
        (("  - at: 1h\n", "  - at: 7h\n"), "events[2].at", "after the end"),
        (
            ("incident: R1\n      community", "incident: R9\n      community"),
            "events[1].request.incident",
            "no incident",
        ),
        (("depot: D110101001}", "depot: D999}"), "events[2].depot_out.depot", "unknown depot"),
        (("quantity: 200", "quantity: 2.5"), "events[1].request.quantity", "positive integer"),
        (("priority: critical", "priority: urgent"), "events[1].request.priority", "priority"),
        (
            ("format: dispatch-scenario/1\n", "format: dispatch-scenario/1\nseed: x\n"),
            "seed",
            "integer",
        ),
        (("name: Short rainstorm", "name: Short rainstorm\ncolour: red"), "colour", "unknown key"),
    ],
)
def test_other_refusals(edit: tuple[str, str], path: str, words: str) -> None:
    assert edit[0] in BASE
    error = refused(BASE.replace(edit[0], edit[1]))
    assert [p.path for p in error.problems] == [path]
    assert words in error.problems[0].message


def test_task_skills_approve_and_expect_are_checked() -> None:
    text = BASE + (
        "  - at: 2h\n"  # 22
        "    task: {incident: R1, community: 110101001001, kind: door_check, people: 2,\n"
        "           minutes: 60, skills: [juggling]}\n"  # 24
        "  - at: 2h\n"
        "    approve: {plan: first}\n"  # 26
        "  - at: 3h\n"
        "    approve: latest\n"  # 28
        "expect:\n"
        '  fill_rate: "at least 0.9"\n'  # 30
        '  happiness: ">= 1"\n'  # 31
        "  tasks_staffed: 9\n"  # 32: no operator
    )
    error = refused(text)
    by_path = {p.path: p for p in error.problems}
    assert by_path["events[3].task.skills[0]"].line == 24
    assert "skill" in by_path["events[3].task.skills[0]"].message
    assert by_path["events[4].approve.plan"].line == 26
    assert "auto_approve" in by_path["events[5].approve"].message
    assert by_path["expect.fill_rate"].line == 30
    assert by_path["expect.happiness"].line == 31
    assert by_path["expect.tasks_staffed"].line == 32
    assert len(error.problems) == 6


def test_raise_level_names_a_declared_incident_and_a_level() -> None:
    good = parse_scenario(
        BASE + "  - at: 2h\n    raise_level: {incident: R1, level: II}\n", REFERENCE
    )
    raised = good.events[-1]
    assert isinstance(raised, RaiseLevel) and (raised.incident, raised.level) == ("R1", "II")
    text = BASE + (
        "  - at: 2h\n"
        "    raise_level: {incident: R9, level: II}\n"  # 23
        "  - at: 3h\n"
        "    raise_level: {incident: R1, level: V}\n"  # 25
    )
    by_path = {p.path: p for p in refused(text).problems}
    assert "no incident" in by_path["events[3].raise_level.incident"].message
    assert by_path["events[4].raise_level.level"].line == 25
    assert len(by_path) == 2


def test_not_yaml_and_empty_file() -> None:
    error = refused("format: dispatch-scenario/1\nname: [unclosed\n")
    assert error.problems[0].line >= 2 and "YAML" in error.problems[0].message
    assert "empty" in refused("").problems[0].message


@given(
    st.integers(0, 30),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
)
def test_durations_round_trip(d: int, h: int, m: int, s: int) -> None:
    expected = timedelta(days=d, hours=h, minutes=m, seconds=s)
    written = "".join(f"{n}{u}" for n, u in ((d, "d"), (h, "h"), (m, "m"), (s, "s")) if n)
    assert parse_duration(written or "0s") == expected
    assert parse_duration(format_duration(expected)) == expected


@given(st.integers(0, 10_000), st.integers(0, 59))
def test_large_minutes_and_unit_forms(m: int, s: int) -> None:
    assert parse_duration(f"{m}m{s}s") == timedelta(minutes=m, seconds=s)
    assert parse_duration(f"{m}m") == timedelta(minutes=m)


@pytest.mark.parametrize("bad", ["", "m", "1.5h", "30m1h", "-5m", "5 m", "1h 30m", "5"])
def test_bad_durations(bad: str) -> None:
    assert parse_duration(bad) is None


@given(st.sampled_from(sorted(REFERENCE.communities)))
def test_names_and_codes_name_the_same_community(code: str) -> None:
    name = REFERENCE.communities[code]
    if len(REFERENCE.community_names[name]) > 1:
        return  # an ambiguous name is refused, not guessed
    texts = [BASE.replace("community: 多福巷社区", f"community: {ref}") for ref in (code, name)]
    resolved = {
        next(e for e in parse_scenario(t, REFERENCE).events if isinstance(e, Request)).community
        for t in texts
    }
    assert resolved == {code}


def test_reference_knows_dongcheng() -> None:
    assert len(REFERENCE.streets) == 17
    assert len(REFERENCE.communities) >= 168
    assert REFERENCE.street("东华门街道") == "110101001"
    assert REFERENCE.street("110101001") == "110101001"
    assert REFERENCE.street("不存在街道") is None
    assert REFERENCE.community("多福巷社区居委会") == "110101001001"
    extended = REFERENCE.with_skills(["juggling"])
    assert isinstance(extended, Reference) and "juggling" in extended.skills


def test_cli_check() -> None:
    from dispatch.cli import app

    runner = CliRunner()
    ok = runner.invoke(app, ["scenario", "check", str(DATA / "full.yaml")])
    assert ok.exit_code == 0, ok.output
    assert "Evening rainstorm, old city" in ok.output and "12 events" in ok.output
    bad = runner.invoke(app, ["scenario", "check", str(DATA / "bad_quantity.yaml")])
    assert bad.exit_code == 2
    assert "line 9, events[0].receive.quantity" in bad.output
