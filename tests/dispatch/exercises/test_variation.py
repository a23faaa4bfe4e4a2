"""Seeded variation: a seed draws one concrete, valid run of a file that declares how it
varies; a file without `variation` is its own only run; the draws are the same in every
process; the batch's statistics; and a batch of paired runs through the CLI."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dispatch.cli import app
from dispatch.exercises.scenario import (
    Call,
    CheckIn,
    CloseRoad,
    Incident,
    OpenRoad,
    Request,
    ScenarioError,
    StandDown,
    drawn,
    load_scenario,
    parse_scenario,
)
from dispatch.exercises.statistics import compare, summarise
from tests.dispatch.exercises.test_scenario import REFERENCE

ROOT = Path(__file__).resolve().parents[3]
VARIED = ROOT / "tests" / "dispatch" / "exercises" / "data" / "varied.yaml"
PLAIN = ROOT / "scenarios" / "hutong_fire.yaml"  # the same file without `variation`
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def _varied():  # type: ignore[no-untyped-def]
    return load_scenario(VARIED, REFERENCE)


def test_a_file_without_variation_is_its_own_only_run() -> None:
    for path in SCENARIOS:
        scenario = load_scenario(path, REFERENCE)
        assert scenario.variation is None
        assert drawn(scenario) is scenario  # so its history hash is the one it had
        assert drawn(scenario, 11).events == scenario.events


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**31))
def test_every_draw_is_a_valid_run_of_the_file(seed: int) -> None:
    scenario = _varied()
    run = drawn(scenario, seed)
    assert run.seed == seed and drawn(scenario, seed) == run  # one seed, one run
    assert all(0 <= e.at.total_seconds() <= run.duration.total_seconds() for e in run.events)
    assert [e.at for e in run.events] == sorted(e.at for e in run.events)
    original = {e.index: e for e in scenario.events}
    declared = {e.key: e.at for e in run.events if isinstance(e, Incident)}
    stood_down = {e.incident: e.at for e in run.events if isinstance(e, StandDown)}
    for event in run.events:
        before = original[event.index]
        if isinstance(event, Incident | StandDown):
            assert event.at == before.at  # they frame the run
        incident = getattr(event, "incident", None)
        if incident is not None and not isinstance(event, StandDown):
            assert declared[incident] <= event.at <= stood_down.get(incident, run.duration)
        if isinstance(event, Request):
            assert event.quantity >= 1
            assert isinstance(before, Request)
            if before.need_by is not None:
                assert event.need_by is not None
                assert event.need_by - event.at == before.need_by - before.at
        if isinstance(event, CheckIn):
            assert 1 <= event.people <= original[event.index].people  # type: ignore[union-attr]
    for close in (e for e in run.events if isinstance(e, CloseRoad)):
        opened = [e for e in run.events if isinstance(e, OpenRoad) and e.closure == close.closure]
        assert all(o.at >= close.at for o in opened)
    # the file's parts that do not vary are as written
    assert run.name == scenario.name and run.policy == scenario.policy
    assert len(run.world.on_duty) <= len(scenario.world.on_duty)


def test_seeds_draw_different_runs_and_kinds_draw_apart() -> None:
    scenario = _varied()
    runs = {tuple((e.index, e.at) for e in drawn(scenario, s).events) for s in range(20)}
    assert len(runs) == 20
    # taking the quantities' variation away leaves the times' draws as they were
    fixed = dataclasses.replace(
        scenario, variation=dataclasses.replace(scenario.variation, quantities=None)
    )
    for seed in range(5):
        assert [e.at for e in drawn(fixed, seed).events] == [
            e.at for e in drawn(scenario, seed).events
        ]
        asked = [e.quantity for e in drawn(fixed, seed).events if isinstance(e, Request)]
        plain = [e.quantity for e in scenario.events if isinstance(e, Request)]
        assert sorted(asked) == sorted(plain)


def test_the_draws_are_the_same_in_another_process() -> None:
    code = (
        "from pathlib import Path; from dispatch.exercises.scenario import *; "
        "from tests.dispatch.exercises.test_scenario import REFERENCE; "
        f"s = drawn(load_scenario(Path({str(VARIED)!r}), REFERENCE), 42); "
        "print([(e.index, int(e.at.total_seconds()), getattr(e, 'quantity', 0)) "
        "for e in s.events])"
    )
    there = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    here = [
        (e.index, int(e.at.total_seconds()), getattr(e, "quantity", 0))
        for e in drawn(_varied(), 42).events
    ]
    assert there.stdout.strip() == str(here)


@pytest.mark.parametrize(
    ("block", "path", "says"),
    [
        (
            "event_times: {distribution: cauchy, spread: 5m}",
            "variation.event_times.distribution",
            "unknown distribution",
        ),
        (
            "event_times: {distribution: normal, spread: often}",
            "variation.event_times.spread",
            "bad duration",
        ),
        (
            "quantities: {distribution: uniform, spread: 2}",
            "variation.quantities.spread",
            "between 0 and 1",
        ),
        ("no_show: 1.5", "variation.no_show", "between 0 and 1"),
        (
            "closures: {begin: {distribution: uniform, spread: 5m}}",
            "variation.closures.begin",
            "unknown key",
        ),
        ("weather: {distribution: uniform, spread: 5m}", "variation.weather", "unknown key"),
    ],
)
def test_a_bad_variation_is_refused_naming_its_key(block: str, path: str, says: str) -> None:
    text = PLAIN.read_text(encoding="utf-8").replace(
        "seed: 3\n", f"seed: 3\nvariation:\n  {block}\n", 1
    )
    with pytest.raises(ScenarioError) as refused:
        parse_scenario(text, REFERENCE, "bad.yaml")
    assert any(p.path == path and says in p.message for p in refused.value.problems), [
        str(p) for p in refused.value.problems
    ]


def test_calls_ask_for_varied_quantities_too() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "rainstorm_pingfang.yaml", REFERENCE)
    calls = [e for e in scenario.events if isinstance(e, Call) and e.request is not None]
    if not calls:
        pytest.skip("the rainstorm has no call asking for supplies")
    text = (ROOT / "scenarios" / "rainstorm_pingfang.yaml").read_text(encoding="utf-8")
    varied = parse_scenario(
        text.replace(
            "\nevents:",
            "\nvariation:\n  quantities: {distribution: uniform, spread: 0.5}\nevents:",
            1,
        ),
        REFERENCE,
    )
    asked = {
        e.index: e.request.quantity  # type: ignore[union-attr]
        for s in range(10)
        for e in drawn(varied, s).events
        if isinstance(e, Call) and e.request is not None
    }
    assert asked and all(q >= 1 for q in asked.values())


def test_intervals_and_the_sign_test() -> None:
    one = summarise([5.0])
    assert (one.n, one.mean, one.low, one.high) == (1, 5.0, None, None)
    assert summarise([None, None]).mean is None
    wide, narrow = summarise([1, 9, 2, 8, 5]), summarise([4.9, 5.1, 5.0, 5.0, 5.0])
    assert wide.low is not None and narrow.low is not None
    assert wide.high - wide.low > narrow.high - narrow.low  # type: ignore[operator]
    better = compare([10.0] * 12, [9.0] * 11 + [10.0])
    assert (better.above, better.below, better.ties) == (0, 11, 1)
    assert better.p_value is not None and better.p_value < 0.001
    assert compare([1.0, 2.0], [1.0, 2.0]).p_value is None  # all tied: nothing to test


def test_a_batch_of_paired_runs_from_the_cli(tmp_path: Path) -> None:
    out, page = tmp_path / "batch.json", tmp_path / "batch.html"
    result = CliRunner().invoke(
        app,
        [
            *("replay", str(VARIED), "--runs", "3", "--compare", "optimal", "nearest"),
            *("--jobs", "2", "--json", str(out), "--html", str(page)),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    body = json.loads(out.read_text(encoding="utf-8"))
    runs = body["runs"]
    assert [(r["seed"], r["policy"]) for r in runs] == [
        (s, p) for s in (3, 4, 5) for p in ("optimal", "nearest")
    ]
    assert len({r["requested_units"] for r in runs if r["policy"] == "optimal"}) > 1  # it varies
    for seed in (3, 4, 5):  # paired: both policies faced the same draw
        pair = [r for r in runs if r["seed"] == seed]
        assert pair[0]["requested_units"] == pair[1]["requested_units"]
    fill = body["batch"]["figures"]["fill_rate"]
    assert fill["optimal"]["n"] == 3 and fill["difference"]["difference"]["n"] == 3
    held = body["batch"]["bounds_held"]
    assert set(held) == {
        "fill_rate >= 0.8",
        "fill_rate_by_priority.critical == 1",
        "first_delivery_minutes <= 40",
        "tasks_staffed == 4",
    }
    assert all(0 <= n <= 3 for counts in held.values() for n in counts.values())
    html = page.read_text(encoding="utf-8")
    assert "<svg" in html and "符号检验" in html and "paired by seed" in html
    assert "预期界限" in html and "tasks_staffed == 4" in html
    # a seed replayed alone is the batch's run of that seed
    single = tmp_path / "one.json"
    again = CliRunner().invoke(
        app, ["replay", str(VARIED), "--seed", "4", "--policy", "optimal", "--json", str(single)]
    )
    assert again.exit_code == 0, again.output
    alone = json.loads(single.read_text(encoding="utf-8"))
    assert alone["history_sha256"] == next(
        r["history_sha256"] for r in runs if r["seed"] == 4 and r["policy"] == "optimal"
    )
