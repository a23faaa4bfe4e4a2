"""A closure reroutes a delivery run, through a real server: a road closed on a leg the run
still has ahead re-sequences its remaining stops from where the vehicle is and gives them new
ETAs, audited and logged on the task; a closure nowhere near it leaves the run as it was."""

from __future__ import annotations

import contextlib
import functools
import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dispatch.accounts.policy import Role
from geo.fleet_records import KIND_SPEED_KMH
from geo.network import RoadNetwork, RoadState, Snapper, Vehicle, load_dongcheng_network
from geo.routing import Route, Router
from tests.dispatch.incidents.helpers import (
    community_of,
    crewed_van,
    incident,
    request,
    retire_van,
    stock,
)
from tests.support import client, create_user, sql

STREET = "110101015"
VAN = Vehicle("van", KIND_SPEED_KMH["van"])


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


@pytest.fixture
def van(server: str, commander: str) -> Iterator[dict[str, Any]]:
    with client(server, commander) as http:
        made = crewed_van(http, STREET)
    yield made
    with client(server, commander) as http:
        retire_van(http, made)


@functools.cache
def _network() -> RoadNetwork:
    return load_dongcheng_network()  # the server's active network (none uploaded)


def _node(table: str, code: str) -> int:
    net = _network()
    (row,) = sql(f"SELECT lat, lon FROM {table} WHERE code=$1", code)
    return Snapper(net, net.usable_nodes(Vehicle("tricycle"))).nearest_node(row["lat"], row["lon"])


def _legs(task: dict[str, Any]) -> list[Route]:
    """The run's legs as the van drives them on open roads: depot, its stops, depot."""
    nodes = [_node("depot", f"D{STREET}")]
    nodes += [_node("community", s["community"]) for s in task["stops"]]
    nodes.append(nodes[0])
    router, state = Router(_network()), RoadState(_network())
    routes = [router.route(state, a, b, vehicle=VAN) for a, b in itertools.pairwise(nodes)]
    return [r for r in routes if r is not None]


@contextlib.contextmanager
def _reopened(http: httpx.Client) -> Iterator[list[int]]:
    """Closures made inside are reopened after: later tests plan on open roads."""
    made: list[int] = []
    try:
        yield made
    finally:
        for closure in made:
            http.post(f"/api/closures/{closure}/reopen")


def _run_task(server: str, commander: str, van: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Three communities of the street ask for flashlights (an item no other test stocks);
    the approved plan's run on the van (its depot sends them)."""
    communities = [community_of(STREET, k) for k in range(3)]
    stock(f"D{STREET}", "FLASHLIGHT", 1000)
    made = incident(communities)
    for k, c in enumerate(communities):
        request(made, c, "FLASHLIGHT", 10 + 5 * k)
    with client(server, commander) as http:
        plan = http.post(f"/api/incidents/{made}/plans", json={})
        assert plan.status_code == 201, plan.text
        approved = http.post(f"/api/plans/{plan.json()['id']}/approve", json={})
        assert approved.status_code == 200, approved.text
        tasks = http.get("/api/tasks", params={"incident": made}).json()
    (task,) = [t for t in tasks if t["vehicle"] and t["vehicle"]["code"] == van["code"]]
    assert len(task["stops"]) >= 2, task["stops"]
    return made, task


def test_a_closure_on_a_run_leg_resequences_its_remaining_stops(
    server: str, commander: str, van: dict[str, Any]
) -> None:
    made, task = _run_task(server, commander, van)
    legs = _legs(task)
    assert max(len(r.nodes) for r in legs) > 3, "no leg long enough to close a road on"
    with client(server, commander) as http, _reopened(http) as closures:
        # a road far from every leg: the run is left as it was
        used = {n for leg in legs for n in leg.nodes}
        net = _network()
        far = next(
            (int(u), int(v))
            for u, v in zip(net.edge_u, net.edge_v, strict=True)
            if int(net.node_ids[u]) not in used and int(net.node_ids[v]) not in used
        )
        far = (int(net.node_ids[far[0]]), int(net.node_ids[far[1]]))
        closed = http.post(f"/api/incidents/{made}/closures", json={"edge": list(far)})
        assert closed.status_code == 201, closed.text
        closures.append(closed.json()["id"])
        assert task["id"] not in closed.json()["rerouted_tasks"]
        same = http.get(f"/api/tasks/{task['id']}").json()
        assert [(s["id"], s["eta_at"]) for s in same["stops"]] == [
            (s["id"], s["eta_at"]) for s in task["stops"]
        ]

        # a road in the middle of the run's longest leg ahead: rerouted round it
        leg = max(legs, key=lambda r: len(r.nodes))
        mid = len(leg.nodes) // 2
        edge = [leg.nodes[mid], leg.nodes[mid + 1]]
        closed = http.post(f"/api/incidents/{made}/closures", json={"edge": edge})
        assert closed.status_code == 201, closed.text
        closures.append(closed.json()["id"])
        assert task["id"] in closed.json()["rerouted_tasks"]
        after = http.get(f"/api/tasks/{task['id']}").json()
    old = {s["id"]: s for s in task["stops"]}
    new = after["stops"]
    assert sorted(s["id"] for s in new) == sorted(old)  # the same stops, each once
    assert [s["seq"] for s in new] == list(range(1, len(new) + 1))
    assert all(s["trip"] == old[s["id"]]["trip"] for s in new)  # each trip keeps its load
    reachable = [s for s in new if s["unreachable"] is None]
    assert all(s["unreachable"] == "road_closed" for s in new if s not in reachable)
    etas = [s["eta_at"] for s in reachable]
    assert etas == sorted(etas)
    changed = [
        s for s in new if (s["seq"], s["eta_at"]) != (old[s["id"]]["seq"], old[s["id"]]["eta_at"])
    ]
    assert changed, "the closure changed neither the order nor an ETA"
    assert after["version"] > task["version"]
    audited = sql(
        "SELECT after FROM audit_entry WHERE action='tasks.reroute_run' AND entity='task' "
        "AND entity_id=$1",
        str(task["id"]),
    )
    assert len(audited) == 1
    logged = sql("SELECT note FROM task_progress WHERE task=$1 AND event='rerouted'", task["id"])
    assert len(logged) == 1 and "re-sequenced" in logged[0]["note"]
