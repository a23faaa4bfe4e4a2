"""`dispatch replay`: every shipped scenario replays with exit 0, deterministically, and the
optimal planner is at least as good as nearest-depot; failed bounds and malformed files
give a non-zero exit (malformed ones before any sandbox exists); the reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dispatch.cli import app
from dispatch.exercises.scenario import load_scenario
from tests.dispatch.exercises.test_scenario import BASE, MALFORMED, REFERENCE
from tests.support import run, sql, system_context

ROOT = Path(__file__).resolve().parents[3]
ALL_SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
# the files that run community plans replay the copied world's plans (`dispatch demo`'s):
# `test_replay_plans.py` replays them there; the rest replay on any world, here
SCENARIOS = [p for p in ALL_SCENARIOS if not load_scenario(p, REFERENCE).plans_run]
runner = CliRunner()
# each shipped file's history hash under each policy, as it was before community plans could
# run in replay (an extension no file of these turns on): a change to the engine that moves
# one of them changes what those files replay, and must say so here
PINNED = {
    "rainstorm_pingfang": {
        "optimal": "f3ef2a55f9e1bb32fe522dd02d7a293c9a5292ee22b9638ec30dd98bb28b0806",
        "nearest": "581e826f45c29ab958773630f41f457da604688baaad6e9991898988c6af5fe2",
    },
    "cold_wave_heating": {
        "optimal": "da4e9346f091de63101bdf654ab9d718cd56e633450b7ef184e752064a6241ac",
        "nearest": "662a9b5635666666d918dabceba32b17c313965933cd7f1012717d26f922e0bb",
    },
    "hutong_fire": {
        "optimal": "4857298c7306aaff8dfd60d3a44ae19e75d60dcc935f90f2e91f48da3b5d825b",
        "nearest": "92f084ba2bf0bb3a7c47eda028efb1d460c0abf125e165ffaf72fb051905ebf6",
    },
    "heatwave_door_checks": {
        "optimal": "cfb14688a151ff0e7ebdf1e688937c07ffc1461297377dc06595ac4798e48543",
        "nearest": "bca2d9b33e2798661dbe8b2b7d95d2c84f2e3840e3ef4f6ece6d52414cd0c012",
    },
    "health_controls_homes": {
        "optimal": "fc22096ba8864e6604e7fdff494416295141c8b038afc9306b587b3e17c888a4",
        "nearest": "7cb2cbcedfc531c459986bb4ff1bfadd9d2a1cdbe148b1590251a6e275ec7c86",
    },
}


def replay(*args: str) -> Any:
    return runner.invoke(app, ["replay", *args], catch_exceptions=False)


def _exercises() -> int:
    return int(sql("SELECT count(*) AS n FROM public.exercise")[0]["n"])


def _shift_real_ids(tag: str) -> None:
    """A real incident and request: later sandboxes copy them, so their ids start higher.
    A history that named database ids would change; the hash must not."""
    from dispatch.incidents.schemas import (
        IncidentCreate,
        IncidentStatus,
        IncidentType,
        Level,
        Priority,
        RequestCreate,
    )
    from dispatch.incidents.service import advance_incident, create_request, declare_incident

    async def go() -> None:
        ctx = system_context()
        incident = await declare_incident(
            ctx,
            IncidentCreate(
                type=IncidentType.FIRE,
                level=Level.IV,
                title="测试：真实事件（移动编号）",
                communities=["110101001001"],
            ),
        )
        await create_request(
            ctx,
            incident.id,
            RequestCreate(
                community="110101001001", item="WATER", quantity=3, priority=Priority.HIGH
            ),
        )
        await advance_incident(ctx, incident.id, IncidentStatus.RESPONDING)
        await advance_incident(ctx, incident.id, IncidentStatus.STOOD_DOWN)

    run(go())


def test_five_scenarios_are_shipped() -> None:
    assert len(SCENARIOS) >= 5
    assert set(PINNED) <= {p.stem for p in SCENARIOS}  # a pinned file runs no plans


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_replays_deterministically_and_optimal_is_no_worse(
    path: Path, tmp_path: Path
) -> None:
    alone, both = tmp_path / "alone.json", tmp_path / "both.json"
    result = replay(str(path), "--json", str(alone))  # the file's planner: optimal
    assert result.exit_code == 0, result.output
    assert "expect bound(s) hold" in result.output
    _shift_real_ids(path.stem)
    result = replay(str(path), "--compare", "optimal", "nearest", "--json", str(both))
    assert result.exit_code == 0, result.output
    first = json.loads(alone.read_text())
    second = {r["policy"]: r for r in json.loads(both.read_text())["compare"]}
    assert first["policy"] == "optimal"
    assert first["history_sha256"] == second["optimal"]["history_sha256"]
    fleet = ("vehicles_used", "trips", "vehicle_km", "utilisation", "waiting_minutes")
    for figure in ("fill_rate", "delivered_units", "delivery_minutes", "plans", "unmet", *fleet):
        assert first[figure] == second["optimal"][figure], figure
    optimal, nearest = second["optimal"], second["nearest"]
    assert optimal["history_sha256"] != nearest["history_sha256"]
    if path.stem in PINNED:
        assert {p: second[p]["history_sha256"] for p in PINNED[path.stem]} == PINNED[path.stem]
    # no plan runs in a file that does not turn it on: its report has no plans' figures
    assert not {"callouts", "callout_ack_minutes", "shelter_peak_occupancy"} & set(optimal)
    assert all(b["ok"] for b in optimal["expect"]), optimal["expect"]
    assert optimal["fill_rate"] >= nearest["fill_rate"]
    # The allocation minimises travel and handling per unit as if every line had a vehicle
    # of its own: it sends from nearer depots, so the fleet drives less. The queue for a
    # depot's vehicles is not in its objective, so on the fleet the optimal planner's mean
    # minutes per unit may lose to nearest-depot's (rainstorm_pingfang: 88.7 against 82.5;
    # see the README's table); that is no longer asserted.
    assert optimal["vehicle_km"] <= nearest["vehicle_km"]
    assert 1 <= optimal["vehicles_used"] <= optimal["trips"]
    assert optimal["vehicle_km"] > 0 and 0 < optimal["utilisation"] <= 1
    # the scenario really exercises what the issue asks: closures or depot loss, priorities,
    # people, and the numbers add up
    kinds = {t["kind"] for t in optimal["timeline"]}
    minutes = [t["minutes"] for t in optimal["timeline"]]
    assert minutes == sorted(minutes)  # one agenda in time order
    assert kinds & {"close_road", "depot_out"} and "staffed" in kinds
    assert len({u for u in optimal["fill_rate_by_priority"]}) >= 2
    assert optimal["tasks"] >= 2 and optimal["tasks_staffed"] >= 2
    assert optimal["delivered_units"] == sum(r["delivered"] or 0 for r in optimal["routes"])
    assert optimal["requested_units"] - optimal["delivered_units"] == sum(
        u["quantity"] for u in optimal["unmet"]
    )
    assert all(u["reason"] for u in optimal["unmet"])


def test_a_failed_bound_exits_non_zero_and_says_which(tmp_path: Path) -> None:
    file = tmp_path / "bound.yaml"
    file.write_text(BASE + 'expect:\n  plans: "== 99"\n  requests: "== 1"\n', encoding="utf-8")
    result = replay(str(file))
    assert result.exit_code == 1, result.output
    assert "expect failed (optimal): plans == 99" in result.output
    assert "requests == 1" not in result.output.split("expect failed")[-1]


@pytest.mark.parametrize(
    ("text", "line", "path", "words"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_is_refused_by_replay_before_any_sandbox(
    tmp_path: Path, text: str, line: int, path: str, words: str
) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(text, encoding="utf-8")
    before = _exercises()
    result = replay(str(file), "--live", "--speed", "1000")
    assert result.exit_code == 2, result.output
    assert f"line {line}, {path}: " in result.output and words in result.output
    assert _exercises() == before  # refused before the clock started: no sandbox made


def test_reports_json_and_self_contained_html(tmp_path: Path) -> None:
    path = next(p for p in SCENARIOS if "fire" in p.name)
    html, out = tmp_path / "r.html", tmp_path / "r.json"
    before = _exercises()
    result = replay(str(path), "--json", str(out), "--html", str(html))
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    for key in (
        "scenario",
        "seed",
        "history_sha256",
        "requests",
        "requested_units",
        "delivered_units",
        "fill_rate",
        "fill_rate_by_priority",
        "unmet",
        "first_delivery_minutes",
        "delivery_minutes",
        "tasks",
        "tasks_staffed",
        "people_hours",
        "plans",
        "wall_seconds",
        "vehicles_used",
        "trips",
        "vehicle_km",
        "utilisation",
        "waiting_minutes",
    ):
        assert key in report, key
    assert set(report["delivery_minutes"]) >= {"p50", "p90", "max"}
    assert report["unmet"] and {"community", "item", "quantity", "reason"} <= set(
        report["unmet"][0]
    )
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and 'lang="zh-CN"' in page
    for external in ("http://", "https://", "src=", "<link", "@import", "url("):
        assert external not in page, external
    assert page.count('<polygon class="boundary"') >= 1
    assert page.count('<polyline class="route') == len(report["routes"]) > 0
    assert page.count('<rect class="depot') == 18
    assert "未满足的请求及原因" in page and "unmet requests" in page and "时间线" in page
    # the sandbox is gone afterwards (no --keep), and listed as deleted
    assert _exercises() == before + 1
    last = sql("SELECT status, schema_name FROM public.exercise ORDER BY id DESC LIMIT 1")[0]
    assert last["status"] == "deleted"
    left = sql(
        "SELECT count(*) AS n FROM information_schema.schemata WHERE schema_name=$1",
        last["schema_name"],
    )
    assert left[0]["n"] == 0


def test_replay_on_a_database_not_yet_loaded_says_what_to_run() -> None:
    """A newcomer's empty database: a clear refusal (exit 2), not a traceback half-way."""
    import os
    import subprocess
    import sys

    from dispatch.db import create_database, drop_database

    server = os.environ["DISPATCH_TEST_SERVER_URL"]
    name = f"dispatch_empty_{os.getpid()}"
    url = run(create_database(server, name, drop_first=True))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "dispatch.cli", "replay", str(SCENARIOS[0])],
            env={**os.environ, "DATABASE_URL": url},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        run(drop_database(server, name))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "dispatch migrate" in done.stdout and "Traceback" not in done.stdout + done.stderr
