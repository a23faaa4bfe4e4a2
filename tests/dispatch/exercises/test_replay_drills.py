"""Live drills in a real server: every scenario played at once (`POST .../play`) while real
requests (reads and writes) are served; the real operational tables are byte-for-byte what
they were, less exactly the rows the real world was meant to get; the drills' events reach
that server's live feed in their own world only; deleting the exercises drops every schema."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from dispatch.accounts.policy import Role
from dispatch.exercises.replay import reference
from dispatch.exercises.scenario import load_scenario
from dispatch.exercises.service import NOT_COPIED
from tests.support import (
    SERVER_PROCESSES,
    client,
    create_user,
    run,
    running_server,
    sql,
    system_context,
)

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = sorted(p.name for p in (ROOT / "scenarios").glob("*.yaml"))
# the drills played at once: the files that run community plans are left out, since on
# this world (the test database: no plan) their plans' bounds cannot hold and they would
# add a sixth sandbox copied at once (the lock table of a 2-core machine's PostgreSQL is
# small: `out of shared memory` was seen); test_replay_plans.py replays them on the demo's
PLAYED = [
    name
    for name in SCENARIOS
    if not load_scenario(ROOT / "scenarios" / name, reference()).plans_run
]
READS = (
    "/api/incidents",
    "/api/stock/",
    "/api/stock/totals?by=depot",
    "/api/depots",
    "/api/duty/on-duty",
    "/api/exercises",
)


def operational_tables() -> list[str]:
    rows = sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
    return [r["tablename"] for r in rows if r["tablename"] not in NOT_COPIED]


def dump() -> dict[str, list[str]]:
    """Every operational table's rows as JSON text, sorted: what "unchanged" is checked on."""
    out = {}
    for table in operational_tables():
        rows = sql(f'SELECT row_to_json(t)::text AS r FROM public."{table}" t')
        out[table] = sorted(r["r"] for r in rows)
    return out


def without(tables: dict[str, list[str]], incidents: set[int]) -> dict[str, list[str]]:
    """The rows the real world was meant to get taken out: the exercises' management audit
    rows, and what the test's own real mutations (incidents and their requests) wrote."""
    requests = {
        json.loads(r)["id"]
        for r in tables.get("supply_request", [])
        if json.loads(r)["incident"] in incidents
    }

    def expected(table: str, row: dict[str, Any]) -> bool:
        if table == "audit_entry":
            entity, entity_id = row["entity"], row["entity_id"]
            return (
                row["action"].startswith("exercises.")
                or (entity == "incident" and int(entity_id) in incidents)
                or (entity == "supply_request" and int(entity_id) in requests)
            )
        if table == "incident":
            return row["id"] in incidents
        if table in ("incident_community", "supply_request"):
            return row["incident"] in incidents
        return False

    return {
        table: [r for r in rows if not expected(table, json.loads(r))]
        for table, rows in tables.items()
    }


def listen(
    base_url: str, user: str, exercise: int | None, done: threading.Event
) -> list[dict[str, Any]]:
    """What a subscriber of /api/live hears (in a drill's world, or the real one) until
    `done`, or until it has heard a drill plan its requests."""
    heard: list[dict[str, Any]] = []
    headers = {"X-Exercise": str(exercise)} if exercise is not None else {}
    deadline = time.monotonic() + 120

    def enough() -> bool:
        kinds = {e["kind"] for e in heard}
        return done.is_set() or (exercise is not None and "plan.approved" in kinds)

    with client(base_url, user) as http:
        while time.monotonic() < deadline and not enough():
            try:
                with http.stream(
                    "GET", "/api/live", headers=headers, timeout=httpx.Timeout(5, read=2)
                ) as stream:
                    for line in stream.iter_lines():
                        if line.startswith("data:"):
                            heard.append(json.loads(line[5:]))
                        if time.monotonic() > deadline or enough():
                            break
            except httpx.ReadTimeout:
                continue
    return heard


@pytest.fixture(scope="module")
def trainer() -> str:
    return create_user(Role.TRAINER)


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


@pytest.fixture(scope="module")
def drills(server: str, trainer: str) -> Iterator[list[dict[str, Any]]]:
    made = []
    with client(server, trainer) as http:
        for name in PLAYED:
            response = http.post("/api/exercises", json={"name": f"演练 {name}", "kind": "drill"})
            assert response.status_code == 201, response.text
            made.append({**response.json(), "file": name})
    yield made


def test_scenarios_are_listed(server: str, trainer: str) -> None:
    with client(server, trainer) as http:
        listed = http.get("/api/scenarios").json()
        assert http.get("/api/scenarios", headers={"Authorization": "Bearer x"}).status_code == 401
    assert [s["name"] for s in listed] == SCENARIOS
    for s in listed:
        assert s["title"] and s["description"] and s["events"] > 10
        assert s["duration"] and s["duration_minutes"] > 0 and s["expect"]


def test_play_refuses_bad_input(server: str, trainer: str, drills: list[dict[str, Any]]) -> None:
    exercise = drills[0]["id"]
    with client(server, trainer) as http:
        bad_name = http.post(f"/api/exercises/{exercise}/play", json={"scenario": "../x.yaml"})
        assert bad_name.status_code in (400, 422) and "scenario" in bad_name.text
        missing = http.post(f"/api/exercises/{exercise}/play", json={"scenario": "nope.yaml"})
        assert missing.status_code == 404 and missing.json()["field"] == "scenario"
        assert (
            http.post("/api/exercises/999999/play", json={"scenario": SCENARIOS[0]}).status_code
            == 404
        )
        assert http.get(f"/api/exercises/{exercise}/play").json()["status"] == "idle"
    viewer = create_user(Role.VIEWER)
    with client(server, viewer) as http:
        refused = http.post(f"/api/exercises/{exercise}/play", json={"scenario": SCENARIOS[0]})
        assert refused.status_code == 403


def test_drills_leave_the_real_world_untouched(
    server: str, trainer: str, commander: str, drills: list[dict[str, Any]]
) -> None:
    before = dump()
    first = drills[0]
    heard: dict[str, list[dict[str, Any]]] = {}
    done = threading.Event()
    listeners = [
        threading.Thread(
            target=lambda: heard.__setitem__("drill", listen(server, trainer, first["id"], done))
        ),
        threading.Thread(
            target=lambda: heard.__setitem__("real", listen(server, trainer, None, done))
        ),
    ]
    for thread in listeners:
        thread.start()
    time.sleep(1.0)  # subscribed before the drills start
    real_incidents: set[int] = set()
    with client(server, trainer) as http, client(server, commander) as boss:
        for drill in drills:
            started = http.post(
                f"/api/exercises/{drill['id']}/play",
                json={"scenario": drill["file"], "speed": 200000, "policy": "optimal"},
            )
            assert started.status_code == 202, started.text
            assert started.json()["status"] == "running"
        again = http.post(f"/api/exercises/{first['id']}/play", json={"scenario": first["file"]})
        assert again.status_code == 409
        deadline = time.monotonic() + 150
        states: dict[int, dict[str, Any]] = {}
        with ThreadPoolExecutor(4) as pool:
            while time.monotonic() < deadline:
                # real reads, concurrently, and a real change now and then
                codes = list(pool.map(lambda path: boss.get(path).status_code, READS))
                assert codes == [200] * len(READS), codes
                if len(real_incidents) < 4:
                    made = boss.post(
                        "/api/incidents",
                        json={
                            "type": "fire",
                            "level": "IV",
                            "title": f"真实事件 {len(real_incidents)}",
                            "communities": ["110101006006"],
                        },
                    )
                    assert made.status_code == 201, made.text
                    real_incidents.add(made.json()["id"])
                    asked = boss.post(
                        f"/api/incidents/{made.json()['id']}/requests",
                        json={"community": "110101006006", "item": "WATER", "quantity": 5},
                    )
                    assert asked.status_code == 201, asked.text
                states = {
                    d["id"]: http.get(f"/api/exercises/{d['id']}/play").json() for d in drills
                }
                if all(s["status"] != "running" for s in states.values()):
                    break
                time.sleep(0.3)
    for drill in drills:
        state = states[drill["id"]]
        assert state["status"] == "finished", (state["scenario"], state.get("error"))
        assert state["progress"] == 1.0 and state["events_done"] == state["events_total"]
        assert state["report"]["scenario"] == state["title"]
        assert all(b["ok"] for b in state["report"]["expect"]), state["report"]["expect"]
    done.set()
    for thread in listeners:
        thread.join()
    after = dump()
    assert set(after) == set(before)
    assert without(after, real_incidents) == without(before, real_incidents)
    # the real mutations did land (so the comparison could see a change)
    assert after["incident"] != before["incident"]
    plays = sql(
        "SELECT count(*) AS n FROM public.audit_entry WHERE action='exercises.play' "
        "AND entity_id = ANY($1::varchar[])",
        [str(d["id"]) for d in drills],
    )
    assert plays[0]["n"] == len(drills)
    # events: the drill's subscriber heard the drill; the real one heard only the real world
    drill_events, real_events = heard["drill"], heard["real"]
    assert drill_events and {e["exercise"] for e in drill_events} == {first["schema_name"]}
    assert {"request.created", "plan.proposed", "plan.approved"} <= {
        e["kind"] for e in drill_events
    }
    assert real_events and all(e["exercise"] is None for e in real_events)
    # deleting the exercises drops their schemas
    with client(server, trainer) as http:
        for drill in drills:
            assert http.delete(f"/api/exercises/{drill['id']}").status_code == 200
    schemas = sql(
        "SELECT schema_name FROM information_schema.schemata WHERE schema_name = ANY($1)",
        [d["schema_name"] for d in drills],
    )
    assert schemas == []


def test_demo_serves_with_a_live_drill(trainer: str) -> None:
    """DISPATCH_DEMO_DRILL (what `dispatch demo` sets): the server plays the scenario into
    the exercise 演示演练, looping, in its own process."""
    from dispatch.exercises.service import delete_exercise

    env = {"DISPATCH_DEMO_DRILL": "hutong_fire.yaml", "DISPATCH_DEMO_DRILL_SPEED": "100000"}
    # two workers: both start up with the demo drill set, one of them plays it, and either
    # answers for it
    with running_server(env, workers=2) as base_url, client(base_url, trainer) as http:
        active = http.get("/api/exercises", params={"status": "active"}).json()
        demo = [e for e in active if e["name"] == "演示演练"]
        assert len(demo) == 1
        deadline, state = time.monotonic() + 60, {}
        while time.monotonic() < deadline:
            state = http.get(f"/api/exercises/{demo[0]['id']}/play").json()
            if state["loops"] >= 1:
                break
            time.sleep(0.5)
        assert state["scenario"] == "hutong_fire.yaml" and state["loop"] is True
        assert state["loops"] >= 1 and state["status"] == "running", state
        assert all(b["ok"] for b in state["report"]["expect"])
        answers = {http.get(f"/api/exercises/{demo[0]['id']}/play").json()["status"]}
        answers |= {http.get(f"/api/exercises/{demo[0]['id']}/play").json()["status"]}
        assert answers == {"running"}, answers
    plays = sql(
        "SELECT count(*) AS n FROM public.audit_entry WHERE action = 'exercises.play' "
        "AND entity_id = $1",
        str(demo[0]["id"]),
    )
    assert plays[0]["n"] == 1  # started once, by one worker
    run(delete_exercise(system_context(), demo[0]["id"]))


def _playing(http: httpx.Client, exercise: int) -> dict[str, Any]:
    """The play's state once its drill clock has started (the sandbox copied, a step done)."""
    deadline = time.monotonic() + 60
    state = http.get(f"/api/exercises/{exercise}/play").json()
    while state["sim_time"] is None and time.monotonic() < deadline:
        time.sleep(0.2)
        state = http.get(f"/api/exercises/{exercise}/play").json()
    assert state["status"] == "running" and state["sim_time"] is not None, state
    return state


def _declare_fire(http: httpx.Client, title: str, exercise: int | None = None) -> dict[str, Any]:
    """A commander's fire incident in the drill's world (or the real one, with no exercise)."""
    headers = {"X-Exercise": str(exercise)} if exercise is not None else {}
    made = http.post(
        "/api/incidents",
        headers=headers,
        json={"type": "fire", "level": "IV", "title": title, "communities": ["110101001001"]},
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def test_a_commander_acts_at_the_drills_time_while_it_plays(
    server: str, trainer: str, commander: str
) -> None:
    """In a playing drill, "now" is the scenario's: a commander's incident sits in the
    drill's history at the drill clock, not at the wall clock of the real world."""
    with client(server, trainer) as http:
        made = http.post("/api/exercises", json={"name": "演练时钟", "kind": "drill"})
        assert made.status_code == 201, made.text
        exercise = made.json()["id"]
        body = {"scenario": "rainstorm_pingfang.yaml", "speed": 60}  # 8 h in 8 minutes
        assert http.post(f"/api/exercises/{exercise}/play", json=body).status_code == 202
        state = _playing(http, exercise)
    with client(server, commander) as boss:
        at = _declare_fire(boss, "演练中指挥员报告的火情", exercise)["declared_at"]
        after = boss.get(f"/api/exercises/{exercise}/play").json()["sim_time"]
        real = _declare_fire(boss, "真实")
    assert state["sim_time"] <= at <= after  # the drill's clock, between two readings of it
    assert at.startswith("2024-07-30"), at  # the scenario's day, not today's
    assert not real["declared_at"].startswith("2024"), real  # the real world keeps real time
    with client(server, trainer) as http:
        stopped = http.delete(f"/api/exercises/{exercise}/play")
        assert stopped.status_code == 200 and stopped.json()["status"] == "stopped", stopped.text
        # deleting a drill while it plays stops the play first (no deadlock on the schema)
        again = http.post(f"/api/exercises/{exercise}/play", json=body)
        assert again.status_code == 202, again.text
        deleted = http.delete(f"/api/exercises/{exercise}")
        assert deleted.status_code == 200, deleted.text
    assert not sql("SELECT 1 FROM pg_namespace WHERE nspname = $1", f"ex_{exercise}")


def test_a_play_is_known_to_every_server_process(trainer: str, commander: str) -> None:
    """Two server processes on one database (two workers, or two machines): a play started
    on one is refused again on the other, shows its progress there, runs the drill on its
    clock there too, and stops when the other asks; deleting the drill anywhere stops it."""
    body = {"scenario": "rainstorm_pingfang.yaml", "speed": 60}
    with (
        running_server() as one,
        running_server() as other,
        client(one, trainer) as on_one,
        client(other, trainer) as on_other,
    ):
        made = on_one.post("/api/exercises", json={"name": "两个进程的演练", "kind": "drill"})
        assert made.status_code == 201, made.text
        exercise = made.json()["id"]
        play = f"/api/exercises/{exercise}/play"
        assert on_other.get(play).json()["status"] == "idle"
        assert on_one.post(play, json=body).status_code == 202
        again = on_other.post(play, json=body)
        assert again.status_code == 409, again.text
        assert "rainstorm_pingfang.yaml" in again.json()["detail"]
        seen = _playing(on_other, exercise)
        assert seen["scenario"] == "rainstorm_pingfang.yaml" and seen["speed"] == 60
        # its world is not reset from under it, from either process
        for http in (on_one, on_other):
            refused = http.post(f"/api/exercises/{exercise}/reset")
            assert refused.status_code == 409, refused.text
            assert "stop the play" in refused.json()["detail"]
        # a commander on the other process acts at the drill's time, not today's
        with client(other, commander) as boss:
            at = _declare_fire(boss, "另一进程上报的火情", exercise)["declared_at"]
        assert seen["sim_time"] <= at <= on_one.get(play).json()["sim_time"], at
        assert at.startswith("2024-07-30"), at
        # the other process stops it: the playing one hears and stops
        stopped = on_other.delete(play)
        assert stopped.status_code == 200 and stopped.json()["status"] == "stopped", stopped.text
        assert on_one.get(play).json()["status"] == "stopped"
        # played again from the other, deleted on the first: the play stops, the schema goes
        assert on_other.post(play, json=body).status_code == 202
        _playing(on_one, exercise)
        deleted = on_one.delete(f"/api/exercises/{exercise}")
        assert deleted.status_code == 200, deleted.text
        assert on_other.get(play).json()["status"] == "stopped"
    assert not sql("SELECT 1 FROM pg_namespace WHERE nspname = $1", f"ex_{exercise}")
    actions = sql(
        "SELECT action FROM public.audit_entry WHERE entity = 'exercise' AND entity_id = $1 "
        "ORDER BY id",
        str(exercise),
    )
    assert [a["action"] for a in actions] == [
        "exercises.create",
        "exercises.play",
        "exercises.reset",
        "exercises.stop",
        "exercises.play",
        "exercises.reset",
        "exercises.delete",
    ]


def test_a_play_whose_process_died_shows_failed_and_may_play_again(trainer: str) -> None:
    """A server killed while it plays a drill writes nothing more: once its lease is over
    another process shows the play failed, serves the drill on the wall clock again, and
    lets it be played anew."""
    env = {"DISPATCH_PLAY_LEASE_SECONDS": "4"}
    body = {"scenario": "rainstorm_pingfang.yaml", "speed": 60}
    with running_server(env) as other, client(other, trainer) as on_other:
        with running_server(env) as doomed, client(doomed, trainer) as on_doomed:
            made = on_doomed.post(
                "/api/exercises", json={"name": "进程中断的演练", "kind": "drill"}
            )
            exercise = made.json()["id"]
            play = f"/api/exercises/{exercise}/play"
            assert on_doomed.post(play, json=body).status_code == 202
            _playing(on_other, exercise)
            SERVER_PROCESSES[doomed].kill()  # no shutdown: its row just stops being written
            SERVER_PROCESSES[doomed].wait(timeout=10)
        assert on_other.post(play, json=body).status_code == 409  # within its lease
        deadline, lost = time.monotonic() + 15, on_other.get(play).json()
        while lost["status"] == "running" and time.monotonic() < deadline:
            time.sleep(0.5)
            lost = on_other.get(play).json()
        assert lost["status"] == "failed" and "stopped before the play ended" in lost["error"]
        # the drill is no longer on the lost play's clock: a commander acts on today's
        with client(other, create_user(Role.COMMANDER)) as boss:
            at = _declare_fire(boss, "中断后", exercise)["declared_at"]
        assert not at.startswith("2024"), at
        assert on_other.post(play, json=body).status_code == 202
        again = _playing(on_other, exercise)
        assert again["status"] == "running" and again["loops"] == 0
        assert on_other.delete(f"/api/exercises/{exercise}").status_code == 200


def test_a_live_replay_from_the_cli_is_a_play_every_server_knows(server: str, trainer: str) -> None:
    """`dispatch replay --live` plays in the CLI's process, yet a server shows its progress,
    refuses to play over it, and stops it: the CLI then says so and keeps the sandbox."""
    import subprocess
    import sys

    scenario = ROOT / "scenarios" / "rainstorm_pingfang.yaml"
    before = {e["id"] for e in sql("SELECT id FROM public.exercise")}
    cli = subprocess.Popen(
        [sys.executable, "-m", "dispatch.cli", "replay", str(scenario), "--live", "--speed", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline, made = time.monotonic() + 60, []
        while not made and time.monotonic() < deadline and cli.poll() is None:
            time.sleep(0.2)
            made = [e["id"] for e in sql("SELECT id FROM public.exercise") if e["id"] not in before]
        assert made, "the CLI made no drill"
        exercise = made[0]
        with client(server, trainer) as http:
            state = _playing(http, exercise)
            assert state["scenario"] == "rainstorm_pingfang.yaml" and state["speed"] == 60
            body = {"scenario": "rainstorm_pingfang.yaml"}
            assert http.post(f"/api/exercises/{exercise}/play", json=body).status_code == 409
            stopped = http.delete(f"/api/exercises/{exercise}/play")
            assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
        # a guard against a hang, not a measure: the play stops at its next step, which on
        # a machine running the suite in two processes beside other work took over 30 s once
        output, _ = cli.communicate(timeout=120)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 1, output
    assert f"stopped from a server; its sandbox is kept: exercise {exercise}" in output
    assert "Traceback" not in output
    with client(server, trainer) as http:
        assert http.delete(f"/api/exercises/{exercise}").status_code == 200
