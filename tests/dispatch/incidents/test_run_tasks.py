"""Approving a plan with runs gives one delivery task per vehicle run, through a real
server: its stops in driving order with what to unload, its crew on it, its vehicle out;
each stop completed once receives exactly that stop's transfers (a resend with the same
Idempotency-Key is answered, not done again); a shortfall needs its reason; a volunteer
not on the crew is refused."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from dispatch.accounts.policy import Role
from tests.dispatch.incidents.helpers import (
    community_of,
    crewed_van,
    incident,
    person,
    request,
    retire_van,
    stock,
)
from tests.support import client, create_user, sql, unique


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


@pytest.fixture
def van_of(server: str, commander: str) -> Iterator[Callable[[str], dict[str, Any]]]:
    """A crewed van at a street's depot, retired after the test."""
    made: list[dict[str, Any]] = []

    def make(street: str) -> dict[str, Any]:
        with client(server, commander) as http:
            made.append(crewed_van(http, street))
        return made[-1]

    yield make
    with client(server, commander) as http:
        for van in made:
            retire_van(http, van)


def _planned(http: httpx.Client, street: str) -> tuple[int, dict[str, Any]]:
    """Two communities of the street ask for extinguishers, one also for disinfectant (items
    no other test stocks, so the street's own depot sends them); the plan for it."""
    first, second = community_of(street, 0), community_of(street, 1)
    stock(f"D{street}", "EXTINGUISHER", 1000)
    stock(f"D{street}", "DISINFECTANT", 1000)
    made = incident([first, second])
    request(made, first, "EXTINGUISHER", 30)
    request(made, first, "DISINFECTANT", 10)
    request(made, second, "EXTINGUISHER", 20)
    plan = http.post(f"/api/incidents/{made}/plans", json={})
    assert plan.status_code == 201, plan.text
    return made, plan.json()


def _our_runs(plan: dict[str, Any], depot: str) -> list[dict[str, Any]]:
    entry = next((r for r in plan["runs"] if r["depot"] == depot), None)
    assert entry is not None, f"the plan sent nothing from {depot}: {plan['runs']}"
    return [run for run in entry["runs"] if run["trips"]]


def _run_tasks(http: httpx.Client, made: int) -> list[dict[str, Any]]:
    tasks = http.get("/api/tasks", params={"incident": made}).json()
    return [t for t in tasks if t["vehicle"] is not None]


def _on_the_way(http: httpx.Client, task: dict[str, Any]) -> dict[str, Any]:
    for step in ("accept", "start"):
        moved = http.post(f"/api/tasks/{task['id']}/{step}", json={"version": task["version"]})
        assert moved.status_code == 200, moved.text
        task = moved.json()
    return task


def _received(made: int) -> dict[int, int]:
    """How many times each transfer of the incident was received (its audited receipts)."""
    rows = sql(
        "SELECT t.id, count(a.id)::int AS n FROM stock_transfer t LEFT JOIN audit_entry a "
        "ON a.entity = 'stock_transfer' AND a.entity_id = t.id::text "
        "AND a.action = 'stock.transfer.receive' WHERE t.incident_id = $1 GROUP BY t.id",
        made,
    )
    return {r["id"]: r["n"] for r in rows}


def test_approval_makes_one_task_per_run_and_each_stop_receives_its_transfers_once(
    server: str, commander: str, van_of: Callable[[str], dict[str, Any]]
) -> None:
    street = "110101013"
    van = van_of(street)
    with client(server, commander) as http:
        made, plan = _planned(http, street)
        runs = _our_runs(plan, f"D{street}")
        assert [r["vehicle"] for r in runs] == [van["code"]]  # one van, one run
        approved = http.post(f"/api/plans/{plan['id']}/approve", json={})
        assert approved.status_code == 200, approved.text
        (task,) = [t for t in _run_tasks(http, made) if t["vehicle"]["code"] == van["code"]]

        # the stops are the run's, in its order, with the plan's lines as their load
        planned = [s["community"] for t in runs[0]["trips"] for s in t["stops"]]
        assert len(planned) >= 2  # 355 kg for two communities: one van, one trip
        assert [s["community"] for s in task["stops"]] == planned
        assert [s["seq"] for s in task["stops"]] == list(range(1, len(planned) + 1))
        etas = [s["eta_at"] for s in task["stops"]]
        assert etas == sorted(etas)
        loads: Counter[tuple[str, str]] = Counter()
        for stop in task["stops"]:
            assert stop["community_name"] and stop["status"] == "pending"
            for line in stop["lines"]:
                assert line["item_name"] and line["lots"] and line["status"] == "dispatched"
                assert sum(lot["quantity"] for lot in line["lots"]) == line["quantity"]
                loads[(stop["community"], line["item"])] += line["quantity"]
        ours = [x for x in plan["lines"] if x["depot"] == f"D{street}"]
        assert loads == Counter({(x["community"], x["item"]): x["quantity"] for x in ours})
        assert task["transfer"] is None and task["status"] == "assigned"
        assert sorted(task["assignees"]) == sorted(van["crew"])  # the van's crew is on it
        status = http.get(f"/api/fleet/vehicles/{van['id']}").json()["status"]
        assert status == "out"
        retired = http.delete(f"/api/fleet/vehicles/{van['id']}")
        assert retired.status_code == 409 and retired.json()["code"] == "fleet.on_run", retired.text
        assert retired.json()["params"]["task"] == task["id"]

        task = _on_the_way(http, task)
        before = _received(made)
        for stop in task["stops"]:
            key = {"Idempotency-Key": unique("stop")}
            body = {"version": task["version"], "receiver": "社区主任 王某"}
            url = f"/api/tasks/{task['id']}/stops/{stop['id']}/complete"
            first = http.post(url, json=body, headers=key)
            assert first.status_code == 200, first.text
            again = http.post(url, json=body, headers=key)  # the tablet resends it
            assert again.status_code == 200 and again.json() == first.json()
            task = first.json()
            done = next(s for s in task["stops"] if s["id"] == stop["id"])
            assert done["status"] == "done" and done["receiver"] == "社区主任 王某"
            assert all(x["status"] == "received" for x in done["lines"])
            assert all(x["received"] == x["quantity"] for x in done["lines"])
            after = _received(made)
            mine = {x["transfer"] for x in stop["lines"]}
            assert {t: after[t] - before[t] for t in after} == {t: int(t in mine) for t in after}
            before = after
        assert task["status"] == "done"
        assert task["delivered_qty"] == sum(x["quantity"] for x in ours)
        assert http.get(f"/api/fleet/vehicles/{van['id']}").json()["status"] == "available"
        stale = http.post(
            f"/api/tasks/{task['id']}/stops/{task['stops'][0]['id']}/complete",
            json={"version": task["version"], "receiver": "又一次"},
        )
        assert stale.status_code == 409
        requests = http.get(f"/api/incidents/{made}/requests").json()
        summary = http.get(f"/api/incidents/{made}/summary").json()
    assert summary["first_delivery_minutes"] is not None  # the stops count as deliveries
    served = {x["request"] for x in ours}
    assert {r["status"] for r in requests if r["id"] in served} == {"fulfilled"}


def test_a_short_stop_needs_a_reason_and_only_the_crew_completes_it(
    server: str, commander: str, van_of: Callable[[str], dict[str, Any]]
) -> None:
    street = "110101016"
    van = van_of(street)
    with client(server, commander) as http:
        made, plan = _planned(http, street)
        _our_runs(plan, f"D{street}")
        assert http.post(f"/api/plans/{plan['id']}/approve", json={}).status_code == 200
        (task,) = [t for t in _run_tasks(http, made) if t["vehicle"]["code"] == van["code"]]
    stop = task["stops"][0]
    community = stop["community"]
    driver = create_user(Role.VOLUNTEER, community=community, person=van["crew"][0])
    stranger = create_user(Role.VOLUNTEER, community=community, person=person(street))
    url = f"/api/tasks/{task['id']}/stops/{stop['id']}/complete"
    with client(server, driver) as crew:
        task = _on_the_way(crew, task)
    body = {"version": task["version"], "receiver": "李某"}
    with client(server, stranger) as other:
        refused = other.post(url, json=body)
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "forbidden.not_assignee"
    line = stop["lines"][0]
    short = {**body, "lines": [{"transfer": line["transfer"], "delivered": line["quantity"] - 2}]}
    with client(server, driver) as crew:
        unexplained = crew.post(url, json=short)
        assert unexplained.status_code == 422, unexplained.text
        assert unexplained.json()["field"] == "shortfall_reason"
        assert unexplained.json()["code"] == "run.shortfall_reason"
        assert unexplained.json()["params"]["short"] == 2
        foreign = crew.post(url, json={**body, "lines": [{"transfer": 1, "delivered": 0}]})
        assert foreign.status_code == 422 and foreign.json()["field"] == "lines[0].transfer"
        explained = crew.post(url, json={**short, "shortfall_reason": "两箱破损"})
        assert explained.status_code == 200, explained.text
        version = explained.json()["version"]
        whole = crew.post(f"/api/tasks/{task['id']}/complete", json={"version": version})
        assert whole.status_code == 409 and whole.json()["code"] == "run.complete_by_stops"
    done = next(s for s in explained.json()["stops"] if s["id"] == stop["id"])
    assert done["shortfall_reason"] == "两箱破损"
    got = next(x for x in done["lines"] if x["transfer"] == line["transfer"])
    assert got["received"] == line["quantity"] - 2
    (transfer,) = sql(
        "SELECT status, shortfall_reason FROM stock_transfer WHERE id=$1", line["transfer"]
    )
    assert transfer == {"status": "received", "shortfall_reason": "两箱破损"}
    (asked,) = sql("SELECT status FROM supply_request WHERE id=$1", line["request"])
    assert asked["status"] == "partially_fulfilled"


def test_a_failed_run_returns_the_stock_of_its_stops_not_yet_done(
    server: str, commander: str, van_of: Callable[[str], dict[str, Any]]
) -> None:
    street = "110101013"
    van = van_of(street)
    with client(server, commander) as http:
        made, plan = _planned(http, street)
        _our_runs(plan, f"D{street}")
        on_hand = sql("SELECT sum(qty)::int AS n FROM stock_balance WHERE depot=$1", f"D{street}")
        assert http.post(f"/api/plans/{plan['id']}/approve", json={}).status_code == 200
        tasks = _run_tasks(http, made)
        for task in tasks:
            failed = http.post(
                f"/api/tasks/{task['id']}/fail",
                json={"version": task["version"], "reason": "车辆故障"},
            )
            assert failed.status_code == 200, failed.text
        back = sql("SELECT sum(qty)::int AS n FROM stock_balance WHERE depot=$1", f"D{street}")
        assert back == on_hand  # every stop's stock came back
        assert http.get(f"/api/fleet/vehicles/{van['id']}").json()["status"] == "available"
        requests = http.get(f"/api/incidents/{made}/requests").json()
    ran = {x["request"] for t in tasks for s in t["stops"] for x in s["lines"]}
    assert {r["status"] for r in requests if r["id"] in ran} == {"open"}


def test_standing_down_with_cancel_open_cancels_a_run_and_its_transfers_once(
    server: str, commander: str, van_of: Callable[[str], dict[str, Any]]
) -> None:
    street = "110101013"
    van = van_of(street)
    with client(server, commander) as http:
        made, plan = _planned(http, street)
        _our_runs(plan, f"D{street}")
        assert http.post(f"/api/plans/{plan['id']}/approve", json={}).status_code == 200
        (task,) = [t for t in _run_tasks(http, made) if t["vehicle"]["code"] == van["code"]]
        assert http.post(f"/api/incidents/{made}/respond").status_code == 200
        refused = http.post(f"/api/incidents/{made}/stand-down")
        assert refused.status_code == 409 and refused.json()["code"] == "incident.open_work"
        assert f"task {task['id']}" in refused.json()["detail"]  # the run is under way
        stood = http.post(
            f"/api/incidents/{made}/stand-down", json={"cancel_open": True, "reason": "雨停"}
        )
        assert stood.status_code == 200, stood.text
        assert http.get(f"/api/tasks/{task['id']}").json()["status"] == "cancelled"
        assert http.get(f"/api/fleet/vehicles/{van['id']}").json()["status"] == "available"
    transfers = sql("SELECT status FROM stock_transfer WHERE incident_id=$1", made)
    assert {t["status"] for t in transfers} == {"cancelled"}
