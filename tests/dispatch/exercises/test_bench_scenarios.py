"""`dispatch bench replay`'s generated scenarios: every seed gives a valid scenario.

Seeds 7, 9 and 41 used to crash at 2,000 events (a depot to take out when all were out).
The checker `dispatch scenario check` runs is called in-process on the node tree a file of
the scenario composes to (`scenario_node`; the text itself goes through the command once).
Checking 50 x 2,000 events field by field would take most of a minute, so: every seed's
2,000-event day is generated and its timeline checked by the checker, its first 200 events
(the same random stream: the same events) go through the whole checker, and so do the
full days of the seeds that crashed.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from typer.testing import CliRunner

from dispatch.exercises.bench import generated_scenario, scenario_node, scenario_yaml
from dispatch.exercises.scenario import (
    DepotBack,
    DepotOut,
    Event,
    Policy,
    Scenario,
    ScenarioChecker,
    load_reference,
)

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = load_reference(ROOT / "geo" / "data" / "dongcheng")


def _plain(events: tuple[Event, ...]) -> list[Event]:
    return [replace(e, line=0, index=0) for e in events]


def _checked(scenario: Scenario) -> Scenario:
    """The scenario as the checker reads it back; fails with the first problems."""
    checker = ScenarioChecker(REFERENCE)
    checked = checker.scenario(scenario_node(scenario), scenario.source)
    assert not checker.problems, (scenario.seed, checker.problems[:3])
    assert checked is not None
    return checked


def test_every_seed_gives_a_valid_scenario() -> None:
    for seed in range(1, 51):
        day = generated_scenario(2000, seed)
        assert len(day.events) >= 2000
        checker = ScenarioChecker(REFERENCE)
        checker.check_timeline(list(day.events), day.duration, Policy())
        assert not checker.problems, (seed, checker.problems[:3])
        # a depot goes out only while in, and comes back only while out (generation order)
        out: set[str] = set()
        for event in sorted(day.events, key=lambda e: e.index):
            if isinstance(event, DepotOut):
                assert event.depot not in out, seed
                out.add(event.depot)
            elif isinstance(event, DepotBack):
                assert event.depot in out, seed
                out.remove(event.depot)
        start = generated_scenario(200, seed)
        assert _plain(_checked(start).events) == _plain(start.events), seed
        assert {(e.index, e.action, e.at) for e in start.events} <= {
            (e.index, e.action, e.at) for e in day.events
        }


def test_the_seeds_that_crashed_pass_the_whole_checker() -> None:
    for seed in (7, 9):  # the two (41 crashed the same way)
        day = generated_scenario(2000, seed)
        assert _plain(_checked(day).events) == _plain(day.events), seed


def test_generated_file_passes_scenario_check(tmp_path: Path) -> None:
    """The written file (the node tree as text) through the command itself."""
    from dispatch.cli import app

    path = tmp_path / "bench-7.yaml"
    path.write_text(scenario_yaml(generated_scenario(120, 7)), encoding="utf-8")
    result = CliRunner().invoke(app, ["scenario", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "120 events" in result.output and "seed 7" in result.output
