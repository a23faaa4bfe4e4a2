"""Community plans in replay, on the world `dispatch demo` makes (its illustrative plans
and shelters; a sandbox copies the real world's plans): `scenarios/rainstorm_plans.yaml`
replays deterministically (the same seed, the same hash and figures; another seed, another
hash), its bounds hold, its call-outs and shelter registrations are the sandbox's own rows
(through the services, never over capacity), and a file without `preparedness` starts no
plan there. Run as a user runs it, on a database of its own (its plans would start on
other tests' incidents)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from dispatch.db import create_database, drop_database

ROOT = Path(__file__).resolve().parents[3]
FILE = ROOT / "scenarios" / "rainstorm_plans.yaml"
NAME = f"{os.environ.get('DISPATCH_TEST_DB', 'dispatch_test')}_plans"
PLANS_FIGURES = (
    "plans_activated",
    "communities_without_plan",
    "callouts",
    "callout_ack_minutes",
    "escalations",
    "households_sheltered",
    "people_sheltered",
    "shelter_peak_occupancy",
)
SAME = ("fill_rate", "delivered_units", "delivery_minutes", "tasks", "tasks_staffed", "plans")


@pytest.fixture(scope="module")
def demo_world() -> Iterator[dict[str, str]]:
    """A database `dispatch demo --no-serve` loaded: the environment to run the CLI in."""
    server = os.environ["DISPATCH_TEST_SERVER_URL"]
    url = asyncio.run(create_database(server, NAME, drop_first=True))
    env = {**os.environ, "DATABASE_URL": url, "DISPATCH_DEMO_DRILL": ""}
    try:
        done = _cli(env, "demo", "--no-serve")
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        yield env
    finally:
        asyncio.run(drop_database(server, NAME))


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dispatch.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def _replay(env: dict[str, str], out: Path, *args: str, file: Path = FILE) -> dict[str, Any]:
    done = _cli(env, "replay", str(file), "--json", str(out), *args)
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    return dict(json.loads(out.read_text()))


async def _fetch(url: str, statement: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn=url)
    try:
        return [dict(r) for r in await conn.fetch(statement)]
    finally:
        await conn.close()


def _sandbox_rows(env: dict[str, str], schema: str) -> dict[str, list[dict[str, Any]]]:
    url = env["DATABASE_URL"]
    return {
        "callouts": asyncio.run(
            _fetch(
                url,
                f"SELECT state, answered_by, eta_minutes, reason, escalated_from "
                f"FROM {schema}.plan_callout",
            )
        ),
        "registrations": asyncio.run(
            _fetch(url, f"SELECT shelter_id, people FROM {schema}.shelter_registration")
        ),
        "shelters": asyncio.run(
            _fetch(url, f"SELECT id, name, capacity, occupancy FROM {schema}.shelter")
        ),
    }


def _check_rows(report: dict[str, Any], rows: dict[str, list[dict[str, Any]]]) -> None:
    """The report's figures are the sandbox's rows, written by the services."""
    states = [c["state"] for c in rows["callouts"]]
    counts = report["callouts"]
    assert len(states) == counts["sent"]
    # ten first calls (three roles per plan, one more paired unit), then the escalations
    first = [c for c in rows["callouts"] if c["escalated_from"] is None]
    assert len(first) == 10 and len(states) - len(first) == report["escalations"] >= 1
    assert states.count("acknowledged") == counts["acknowledged"]
    assert states.count("declined") == counts["declined"]
    # never answered: still sent at the end, or closed as no answer by the sweep
    assert states.count("sent") + states.count("no_answer") == counts["no_answer"]
    # answered by their simulated recipients (a no-answer is the sweep's)
    answered = [c for c in rows["callouts"] if c["state"] in ("acknowledged", "declined")]
    assert answered and all(c["answered_by"] == "replay" for c in answered)
    assert all(c["reason"] for c in answered if c["state"] == "declined")
    assert all(c["eta_minutes"] >= 1 for c in answered if c["state"] == "acknowledged")
    registered = rows["registrations"]
    assert len(registered) == report["households_sheltered"]
    assert sum(r["people"] for r in registered) == report["people_sheltered"]
    assert all(s["occupancy"] <= s["capacity"] for s in rows["shelters"])
    used = {r["shelter_id"] for r in registered}
    assert len(used) >= 2  # the plans' shelters, and the nearest one for the overflow
    peaks = report["shelter_peak_occupancy"]
    occupancy = {
        s["name"]: s["occupancy"] for s in rows["shelters"] if s["name"] in peaks["shelters"]
    }
    # nobody left: the end is each shelter's peak, and all of theirs at once
    assert peaks["shelters"] == occupancy and peaks["overall"] == sum(occupancy.values())
    assert {s["name"] for s in rows["shelters"] if s["id"] in used} <= set(peaks["shelters"])


def test_the_plans_file_replays_deterministically_and_its_bounds_hold(
    demo_world: dict[str, str], tmp_path: Path
) -> None:
    both = _replay(demo_world, tmp_path / "both.json", "--compare", "optimal", "nearest")
    by_policy = {r["policy"]: r for r in both["compare"]}
    optimal, nearest = by_policy["optimal"], by_policy["nearest"]
    assert all(b["ok"] for b in optimal["expect"]), optimal["expect"]
    assert optimal["history_sha256"] != nearest["history_sha256"]
    assert optimal["fill_rate"] >= nearest["fill_rate"]
    assert optimal["vehicle_km"] <= nearest["vehicle_km"]
    page = tmp_path / "again.html"
    again = _replay(demo_world, tmp_path / "again.json", "--keep", "--html", str(page))
    assert again["history_sha256"] == optimal["history_sha256"]
    for name in (*PLANS_FIGURES, *SAME):
        assert again[name] == optimal[name], name
    _check_rows(again, _sandbox_rows(demo_world, f"ex_{again['exercise']}"))
    html = page.read_text(encoding="utf-8")
    assert "社区应急预案" in html and "召集通知数" in html and "call-outs sent" in html
    assert all(name in html for name in again["shelter_peak_occupancy"]["shelters"])
    kinds = [t["kind"] for t in optimal["timeline"]]
    assert kinds.count("activated") == 3 and kinds.count("callout") == 10
    assert kinds.count("escalated") == optimal["escalations"]
    assert "no_plan" not in kinds and optimal["communities_without_plan"] == []
    moved = [t for t in optimal["timeline"] if t["kind"] == "intake" and len(t["data"]) == 4]
    assert moved, "no household went on to the nearest open shelter"
    other = _replay(demo_world, tmp_path / "other.json", "--seed", "12")
    assert other["seed"] == 12
    assert other["history_sha256"] != optimal["history_sha256"]
    first_calls = [r["callouts"]["sent"] - r["escalations"] for r in (other, optimal)]
    assert first_calls[0] == first_calls[1]  # the same plans


QUIET = """\
format: dispatch-scenario/1
name: 无预案选项的暴雨 · A rainstorm without the preparedness key
start: 2026-07-31T17:00:00+08:00
duration: 2h
world:
  on_duty:
    - {community: 金鱼池社区, people: 3, skills: [lifting]}
events:
  - at: 0m
    incident: {key: R1, type: rainstorm, level: III, title: 暴雨, communities: [金鱼池社区]}
  - at: 10m
    task: {incident: R1, community: 金鱼池社区, kind: guard, people: 2, minutes: 30}
"""


def test_without_the_key_no_plan_starts_even_where_plans_answer(
    demo_world: dict[str, str], tmp_path: Path
) -> None:
    file = tmp_path / "quiet.yaml"
    file.write_text(QUIET, encoding="utf-8")
    page = tmp_path / "quiet.html"
    report = _replay(demo_world, tmp_path / "quiet.json", "--keep", "--html", str(page), file=file)
    assert not set(PLANS_FIGURES) & set(report)
    html = page.read_text(encoding="utf-8")
    assert "社区应急预案" not in html and "召集通知数" not in html
    assert report["tasks"] == 1
    assert not {"activated", "callout", "intake"} & {t["kind"] for t in report["timeline"]}
    schema = f"ex_{report['exercise']}"
    url = demo_world["DATABASE_URL"]
    counts = asyncio.run(
        _fetch(
            url,
            f"SELECT (SELECT count(*) FROM {schema}.plan_activation) AS a, "
            f"(SELECT count(*) FROM {schema}.plan_callout) AS c, "
            f"(SELECT count(*) FROM {schema}.community_plan WHERE status='approved') AS p",
        )
    )[0]
    assert counts["p"] >= 169  # the copied plans are there; none started
    assert counts["a"] == 0 and counts["c"] == 0


RAISED = """\
format: dispatch-scenario/1
name: 火情升级 · A fire raised to level III
start: 2026-07-31T17:00:00+08:00
duration: 2h
seed: 5
preparedness:
  activate: true
world:
  on_duty:
    - {community: 金鱼池社区, people: 4, skills: [lifting]}
events:
  - at: 0m
    incident: {key: F1, type: fire, level: IV, title: 火情, communities: [金鱼池社区]}
  - at: 30m
    raise_level: {incident: F1, level: III}
  - at: 40m
    raise_level: {incident: F1, level: IV}
"""


def test_raising_the_level_in_replay_starts_the_plans_of_the_graver_level(
    demo_world: dict[str, str], tmp_path: Path
) -> None:
    """The demo's plans answer fires from level III: a level-IV fire starts none, raising it
    to III starts its community's plan then (once), and lowering it is refused."""
    file = tmp_path / "raised.yaml"
    file.write_text(RAISED, encoding="utf-8")
    report = _replay(demo_world, tmp_path / "raised.json", "--keep", file=file)
    names = [t["kind"] for t in report["timeline"]]
    assert names.index("no_plan") < names.index("raise_level") < names.index("activated")
    assert names.count("activated") == 1 and report["plans_activated"] == 1
    assert names.count("callout") >= 1
    # lowering it is refused (a late answer to a call-out already closed may be too)
    refusals = [t["data"] for t in report["timeline"] if t["kind"] == "refused"]
    lowered = [r for r in refusals if r[0] == "raise_level"]
    assert lowered == [["raise_level", 2, "Conflict", "level"]]
    schema = f"ex_{report['exercise']}"
    rows = asyncio.run(
        _fetch(
            demo_world["DATABASE_URL"],
            f"SELECT (SELECT count(*) FROM {schema}.plan_activation) AS a, "
            f"(SELECT level FROM {schema}.incident) AS level",
        )
    )[0]
    assert rows == {"a": 1, "level": "III"}
    again = _replay(demo_world, tmp_path / "again.json", file=file)
    assert again["history_sha256"] == report["history_sha256"]
