"""`call` events (12345 calls) in scenario files: what the checker accepts (a community, or
an address matched as the hotline matches it; a synthetic phone; an implied request) and
what it refuses, each naming its line and key path; and a tiny replay with calls, which
reports the three rates deterministically (the same `history_sha256` twice)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dispatch.cli import app
from dispatch.exercises.replay.calls import RATINGS, draws
from dispatch.exercises.scenario import Call, parse_scenario
from tests.dispatch.exercises.test_scenario import REFERENCE, refused

runner = CliRunner()

# a short file with three calls: by community name with a request (line 15), by address
# alone (line 25), by an address naming only a street (line 32)
CALLS = """\
format: dispatch-scenario/1
name: 暴雨来电
seed: 5
start: 2024-07-30T18:00:00+08:00
duration: 5h
events:
  - at: 0m
    incident:
      key: R1
      type: rainstorm
      level: III
      title: 暴雨
      communities: [110101003002, 110101003008]
  - at: 10m
    call:
      caller: 王女士
      phone: "100 1234 5678"
      community: 福祥社区
      category: emergency_supplies
      urgency: critical
      content: 院里积水没过脚踝，水还在往屋里灌，需要沙袋
      incident: R1
      request: {item: SANDBAG, quantity: 40}
  - at: 20m
    call:
      caller: 李先生
      address: 交道口街道菊儿社区菊儿胡同12号
      category: utilities
      urgency: urgent
      content: 楼道停电，电梯停了，家里有老人
  - at: 30m
    call:
      caller: 赵大爷
      address: 交道口街道某胡同
      category: road
      urgency: critical
      content: 胡同口积水太深，车过不去
expect:
  hotline.tickets: "== 3"
  hotline:
    response_rate: ">= 0"
"""


def change(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def test_calls_are_read_with_their_places() -> None:
    scenario = parse_scenario(CALLS, REFERENCE)
    calls = [e for e in scenario.events if isinstance(e, Call)]
    assert [(c.community, c.street, c.matched) for c in calls] == [
        ("110101003002", "110101003", False),
        ("110101003008", "110101003", True),  # 菊儿社区 from the address
        (None, "110101003", True),  # the street alone
    ]
    first = calls[0]
    assert first.phone == "10012345678" and first.incident == "R1"
    assert first.request is not None and first.request.priority == "critical"  # the urgency's
    assert {b.figure for b in scenario.expect} == {"hotline.tickets", "hotline.response_rate"}


BAD_CALLS = [
    ("category", "category: emergency_supplies", "category: food", 19, "category", "category"),
    ("urgency", "urgency: critical", "urgency: soon", 20, "urgency", "urgency"),
    ("phone", 'phone: "100 1234 5678"', 'phone: "13812345678"', 17, "phone", "synthetic"),
    ("caller", "caller: 王女士", 'caller: ""', 16, "caller", "empty"),
    ("content", "需要沙袋", "需要沙袋" + "水" * 2000, 21, "content", "at most 2000"),
    ("community", "community: 福祥社区", "community: 福祥", 18, "community", "unknown community"),
    ("item", "item: SANDBAG", "item: SANDBAGS", 23, "request.item", "unknown item"),
    ("quantity", "quantity: 40}", "quantity: 0}", 23, "request.quantity", "positive"),
    (
        "priority",
        "quantity: 40}",
        "quantity: 40, priority: asap}",
        23,
        "request.priority",
        "priority",
    ),
    (
        "unknown key",
        "urgency: urgent",
        "urgency: urgent\n      mood: angry",
        30,
        "mood",
        "unknown key",
    ),
    (
        "address",
        "address: 交道口街道菊儿社区菊儿胡同12号",
        "address: 北京某地12号",
        27,
        "address",
        "names no community",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "words"),
    [case[1:] for case in BAD_CALLS],
    ids=[case[0] for case in BAD_CALLS],
)
def test_bad_call_fields_name_line_and_key(
    old: str, new: str, line: int, key: str, words: str
) -> None:
    problems = refused(change(CALLS, old, new)).problems
    index = 1 if line < 24 else 2
    found = [p for p in problems if p.path == f"events[{index}].call.{key}"]
    assert found, [str(p) for p in problems]
    assert found[0].line == line and words in found[0].message, str(found[0])
    assert str(found[0]).startswith(f"line {line}, events[{index}].call.{key}: ")


def test_a_call_needs_a_place_and_a_request_needs_its_incident_and_community() -> None:
    placeless = refused(change(CALLS, "      community: 福祥社区\n", "")).problems
    assert [(p.line, p.path) for p in placeless] == [(16, "events[1].call")]
    assert "community" in placeless[0].message and "address" in placeless[0].message
    no_incident = refused(change(CALLS, "      incident: R1\n", "")).problems
    assert [p.path for p in no_incident] == ["events[1].call.incident"]
    street_only = change(
        CALLS,
        "content: 胡同口积水太深，车过不去",
        "content: 积水\n      incident: R1\n      request: {item: SANDBAG, quantity: 5}",
    )
    problems = refused(street_only).problems
    assert [p.path for p in problems] == ["events[3].call.request"]
    assert "交道口街道" in problems[0].message
    undeclared = refused(
        change(CALLS, "incident: R1\n      request", "incident: R9\n      request")
    )
    assert [p.path for p in undeclared.problems] == ["events[1].call.incident"]


def test_the_draws_are_the_seeds_and_the_calls_own() -> None:
    """A call's course depends on the seed and its number only, the same in every process."""
    assert draws(5, 1).random() == draws(5, 1).random()
    assert draws(5, 1).random() != draws(5, 2).random() != draws(6, 1).random()
    assert all(a < b for a, b in RATINGS.values())


def test_a_replay_with_calls_reports_the_three_rates_deterministically(tmp_path: Path) -> None:
    file = tmp_path / "calls.yaml"
    file.write_text(CALLS, encoding="utf-8")
    reports = []
    for run in ("a", "b"):
        out, html = tmp_path / f"{run}.json", tmp_path / f"{run}.html"
        result = runner.invoke(app, ["replay", str(file), "--json", str(out), "--html", str(html)])
        assert result.exit_code == 0, result.output
        assert "hotline.response_rate" in result.output
        reports.append(json.loads(out.read_text()))
    first, second = reports
    assert first["history_sha256"] == second["history_sha256"]
    assert first["hotline"] == second["hotline"]
    hotline = first["hotline"]
    assert hotline["tickets"] == 3
    for rate in ("response_rate", "resolution_rate", "satisfaction_rate"):
        assert hotline[rate] is not None and 0 <= hotline[rate] <= 1, rate
    assert hotline["rated"] >= 1 and hotline["response_decided"] == 3
    kinds = [(t["kind"], t["data"][:2]) for t in first["timeline"]]
    assert ("call", ["C1", "110101003002"]) in kinds and ("call", ["C3", "110101003"]) in kinds
    # the call's request is a request of the run, made from its ticket
    assert first["requests"] == 1
    assert any(t["kind"] == "request" and t["data"][-1] == "C1" for t in first["timeline"])
    steps = [t["data"][1] for t in first["timeline"] if t["kind"] == "ticket"]
    assert {"assign", "start", "reply", "close"} <= set(steps)
    assert all(b["ok"] for b in first["expect"]), first["expect"]
    page = (tmp_path / "a.html").read_text()
    assert "响应率" in page and "满意率" in page and "交道口街道" in page and "12345来电" in page
