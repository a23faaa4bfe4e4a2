"""Replay drives the fleet (issue 18, point 5): a scenario's `world.fleet` gives a depot
exactly its vehicles; loads for a depot whose one vehicle is out wait for it to come back,
and its later trips wait their turn; a file without `world.fleet` still parses (the demo's
default fleet per depot) and replays."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dispatch.cli import app
from dispatch.exercises.replay.fleet import fleet_lines
from dispatch.exercises.scenario import FleetLine, ScenarioError, parse_scenario
from dispatch.fleet.demo import DEMO_SEED, demo_kinds
from tests.dispatch.exercises.test_scenario import BASE, REFERENCE

runner = CliRunner()

# the district reserve out, and the street depot's sandbags 50 above its reserve standard
# (a level III incident sends only what is above it): only 交道口's depot can send, on its
# one tricycle (300 kg: 12 sandbags a trip), while the second request comes in
ONE_TRICYCLE = """\
format: dispatch-scenario/1
name: One tricycle
description: 多福巷 sandbags from 交道口's depot on its one tricycle
start: 2024-07-30T18:00:00+08:00
duration: 8h
world:
  stock:
    - {depot: D110101001, item: SANDBAG, quantity: 1050}
  depots_out: [D110101000]
  fleet:
    - {depot: D110101001, kind: tricycle, count: 1}
events:
  - at: 0m
    incident:
      key: R1
      type: rainstorm
      level: III
      title: 暴雨
      communities: [110101001001]
  - at: 10m
    request:
      incident: R1
      community: 多福巷社区
      item: SANDBAG
      quantity: 30
      priority: critical
  - at: 20m
    request:
      incident: R1
      community: 多福巷社区
      item: SANDBAG
      quantity: 20
      priority: high
"""


def _replay(path: Path, out: Path) -> dict[str, Any]:
    result = runner.invoke(app, ["replay", str(path), "--json", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def test_world_fleet_parses_and_a_file_without_it_gets_the_demo_fleet() -> None:
    scenario = parse_scenario(ONE_TRICYCLE, REFERENCE)
    assert scenario.world.fleet == (FleetLine("D110101001", "tricycle", 1),)
    plain = parse_scenario(BASE, REFERENCE)
    assert plain.world.fleet is None
    depots = [("D110101001", "street_reserve"), ("D110101000", "district_reserve")]
    rng = random.Random(DEMO_SEED)
    expected = [
        FleetLine(code, lane.value) for code, kind in depots for lane in demo_kinds(kind, rng)
    ]
    assert fleet_lines(plain, depots) == expected
    # a depot the file names has its vehicles only; the others keep the default
    mine = fleet_lines(scenario, depots)
    assert [line for line in mine if line.depot == "D110101001"] == list(scenario.world.fleet)
    assert [line for line in mine if line.depot == "D110101000"] == expected[-5:]


@pytest.mark.parametrize(
    ("line", "path", "words"),
    [
        ("    - {depot: D110101001, kind: bus}", "world.fleet[0].kind", "unknown kind"),
        ("    - {depot: D999, kind: van}", "world.fleet[0].depot", "unknown depot"),
        ("    - {depot: D110101001, kind: van, count: -1}", "world.fleet[0].count", ">= 0"),
        ("    - {depot: D110101001, kind: van, payload_kg: 0}", "world.fleet[0].payload_kg", ""),
    ],
)
def test_a_bad_fleet_line_is_refused_naming_its_field(line: str, path: str, words: str) -> None:
    text = ONE_TRICYCLE.replace("    - {depot: D110101001, kind: tricycle, count: 1}", line)
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, REFERENCE, "case.yaml")
    problems = caught.value.problems
    assert any(p.path == path and words in p.message for p in problems), problems


def test_loads_wait_for_the_one_vehicle_and_its_trips_repeat(tmp_path: Path) -> None:
    path = tmp_path / "one_tricycle.yaml"
    path.write_text(ONE_TRICYCLE, encoding="utf-8")
    report = _replay(path, tmp_path / "one.json")
    assert report["fill_rate"] == 1.0 and report["delivered_units"] == 50
    assert report["vehicles_used"] == 1
    assert report["trips"] > 1  # 50 sandbags are 1,250 kg: five trips of a 300 kg tricycle
    assert report["waiting_minutes"] > 0
    assert 0 < report["utilisation"] <= 1 and report["vehicle_km"] > 0
    kinds = [t["kind"] for t in report["timeline"]]
    # the second request waits while the tricycle is out, and leaves once it is back
    waited = kinds.index("wait")
    assert kinds.index("vehicle_back") > waited
    assert kinds.index("approve", waited) > kinds.index("vehicle_back")
    runs = [t["data"] for t in report["timeline"] if t["kind"] == "run"]
    assert {r[0] for r in runs} == {"R001-TC1"} and len(runs) == 2
    # the vehicle is never on two runs at once: each run leaves after the last one is back
    backs = [t["minutes"] for t in report["timeline"] if t["kind"] == "vehicle_back"]
    starts = [t["minutes"] for t in report["timeline"] if t["kind"] == "run"]
    assert starts[1] >= backs[0]
    again = _replay(path, tmp_path / "again.json")
    assert again["history_sha256"] == report["history_sha256"]


def test_a_file_without_world_fleet_replays_on_the_default_fleet(tmp_path: Path) -> None:
    path = tmp_path / "base.yaml"
    path.write_text(BASE, encoding="utf-8")
    report = _replay(path, tmp_path / "base.json")
    fleet = next(t["data"][0] for t in report["timeline"] if t["kind"] == "fleet")
    assert {code.split("-")[0] for code, *_ in fleet} >= {"R000", "R001"}  # every depot's
    assert report["delivered_units"] > 0 and report["vehicles_used"] >= 1
