"""Batch comparisons started through the API (the drill page's), run in the background by
the server process that took them: progress as runs finish, the same figures as the
command line's `dispatch replay --runs --compare`, one batch at a time, stop, scope."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from dispatch.accounts.policy import Role
from dispatch.exercises.batch import run_batch, summary
from dispatch.exercises.replay import scenarios_dir
from tests.support import client, create_user, sql

URL = "/api/exercise-batches"
FILE = "hutong_fire.yaml"  # the shortest of the shipped scenarios


@pytest.fixture(scope="module")
def trainer() -> str:
    return create_user(Role.TRAINER)


def _until_ended(http: httpx.Client, batch: int, seconds: float = 600) -> list[dict[str, Any]]:
    """The batch's views as polled, until it is no longer running. The bound guards against
    a hang, it measures nothing: a stop lets the run under way finish, and one run (a worker
    process started, a sandbox copied, the replay) took 4 minutes once beside the suite's
    browser tests."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        view = http.get(f"{URL}/{batch}").json()
        seen.append(view)
        if view["status"] != "running":
            return seen
        time.sleep(0.5)
    raise AssertionError(f"batch {batch} still running after {seconds} s: {seen[-1]}")


def test_a_trainer_runs_a_paired_batch_in_the_background(server: str, trainer: str) -> None:
    with client(server, trainer) as http:
        started = http.post(URL, json={"scenario": FILE, "runs": 2, "seed": 5, "jobs": 2})
        assert started.status_code == 202, started.text
        batch = started.json()
        assert (batch["status"], batch["done"], batch["total"]) == ("running", 0, 4)
        assert batch["policies"] == ["optimal", "nearest"] and batch["title"]
        again = http.post(URL, json={"scenario": FILE, "runs": 1})
        assert again.status_code == 409 and again.json()["code"] == "batch.running"
        assert again.json()["params"]["batch"] == batch["id"]
        seen = _until_ended(http, batch["id"])
        report = http.get(f"{URL}/{batch['id']}/report")
        listed = http.get(URL).json()
    done = seen[-1]
    assert done["status"] == "done", done
    assert done["done"] == 4 and done["finished_at"] is not None
    progress = [v["done"] for v in seen]
    assert progress == sorted(progress)  # it only moves forward
    # the same figures as the command line computes for the same seeds
    here = summary(
        run_batch(scenarios_dir() / FILE, runs=2, policies=["optimal", "nearest"], first_seed=5),
        ["optimal", "nearest"],
    )
    assert done["summary"]["seeds"] == [5, 6]
    theirs, ours = done["summary"]["figures"], json.loads(json.dumps(here["figures"]))
    differ = {n: (theirs.get(n), ours[n]) for n in ours if theirs.get(n) != ours[n]}
    assert not differ, differ
    assert report.status_code == 200 and "<svg" in report.text and "95%" in report.text
    assert listed[0]["id"] == batch["id"]
    trail = sql(
        "SELECT action FROM audit_entry WHERE entity='exercise_batch' AND entity_id=$1",
        str(batch["id"]),
    )
    assert [r["action"] for r in trail] == ["exercises.batch_start"]


def test_a_batch_asked_to_stop_drops_the_runs_not_started(server: str, trainer: str) -> None:
    with client(server, trainer) as http:
        started = http.post(URL, json={"scenario": FILE, "runs": 6, "jobs": 1})
        assert started.status_code == 202, started.text
        batch = started.json()["id"]
        assert http.get(f"{URL}/{batch}/report").json()["code"] == "batch.not_done"
        stopping = http.delete(f"{URL}/{batch}")
        assert stopping.status_code == 200 and stopping.json()["stop_requested"]
        ended = _until_ended(http, batch)[-1]
        twice = http.delete(f"{URL}/{batch}")
    assert ended["status"] == "stopped" and ended["done"] < 12, ended
    assert ended["summary"] is None
    assert twice.status_code == 409 and twice.json()["code"] == "batch.not_running"


def test_who_may_not_manage_drills_cannot_start_or_read_batches(server: str) -> None:
    leader = create_user(Role.STREET_LEADER, street="110101001")
    with client(server, leader) as http:
        assert http.post(URL, json={"scenario": FILE}).status_code == 403
        assert http.get(URL).status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scenario": "../secrets.yaml"}, "scenario"),
        ({"scenario": "nothing_here.yaml"}, "scenario"),
        ({"scenario": FILE, "runs": 0}, "runs"),
        ({"scenario": FILE, "runs": 101}, "runs"),
        ({"scenario": FILE, "jobs": 3}, "jobs"),
        ({"scenario": FILE, "policies": ["optimal", "optimal"]}, "policies"),
        ({"scenario": FILE, "policies": ["fastest"]}, "policies"),
    ],
)
def test_a_bad_batch_is_refused_naming_the_field(
    server: str, trainer: str, body: dict[str, Any], field: str
) -> None:
    with client(server, trainer) as http:
        refused = http.post(URL, json=body)
    assert refused.status_code in (400, 404, 422), refused.text
    assert field in refused.text
