"""The road network as stored: the shipped synthetic one, a user's GraphML, and the cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

from dispatch.accounts.policy import Actor, Role
from dispatch.clock import WallClock
from dispatch.db import Context
from dispatch.errors import Forbidden
from dispatch.places.service import (
    SYNTHETIC_NAME,
    active_road_network,
    load_reference,
    load_roads,
)
from dispatch.settings import get_settings
from geo.network import grid_network, load_dongcheng_network, load_osmnx_csv, save_graphml
from tests.support import client, create_user, run, sql, system_context


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


def _restore_synthetic() -> None:
    folder = get_settings().reference_dir
    graph = load_osmnx_csv(folder / "roads_nodes.csv", folder / "roads_edges.csv")
    run(load_roads(system_context(), graph, SYNTHETIC_NAME, "restore", True))


def test_reference_load_brings_the_synthetic_network(server: str, commander: str) -> None:
    with client(server, commander) as http:
        roads = http.get("/api/roads").json()
    shipped = load_dongcheng_network()
    assert roads["synthetic"] is True
    assert (roads["nodes"], roads["edges"]) == (shipped.n_nodes, shipped.n_edges)
    assert roads["graph_id"] == shipped.graph_id
    stored = run(active_road_network(system_context()))
    assert stored.graph_id == shipped.graph_id  # what routing uses is what was shipped


def test_a_users_graphml_replaces_it_and_a_reload_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "city.graphml"
    save_graphml(grid_network(400, seed=3), path)
    before = int(
        sql("SELECT count(*) AS n FROM audit_entry WHERE action='places.load_roads'")[0]["n"]
    )
    env = os.environ.copy()
    out = subprocess.run(
        [sys.executable, "-m", "dispatch.cli", "load-roads", str(path), "--name", "grid"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        assert out.returncode == 0, out.stdout + out.stderr
        assert "loaded and active" in out.stdout
        active = sql("SELECT name, synthetic, nodes FROM road_network WHERE active")[0]
        assert (active["name"], active["synthetic"], active["nodes"]) == ("grid", False, 400)
        again = subprocess.run(
            [sys.executable, "-m", "dispatch.cli", "load-roads", str(path), "--name", "grid"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "0 changes" in again.stdout
        after = int(
            sql("SELECT count(*) AS n FROM audit_entry WHERE action='places.load_roads'")[0]["n"]
        )
        assert after == before + 1
        report = run(load_reference(system_context(), get_settings().reference_dir))
        assert report.unchanged["road_network"] == 1  # a real network is never replaced
        assert sql("SELECT name FROM road_network WHERE active")[0]["name"] == "grid"
        assert run(active_road_network(system_context())).n_nodes == 400
    finally:
        _restore_synthetic()
    assert run(active_road_network(system_context())).graph_id == load_dongcheng_network().graph_id


def test_only_commanders_load_roads() -> None:
    leader = Actor(user_id=None, username="l", role=Role.STREET_LEADER, street="110101001")
    with pytest.raises(Forbidden):
        run(load_roads(Context(leader, WallClock()), nx.DiGraph(), "x", "x", False))


def test_empty_network_is_refused() -> None:
    from dispatch.errors import InvalidInput

    with pytest.raises(InvalidInput):
        run(load_roads(system_context(), nx.DiGraph(), "empty", "x", False))


def test_requests_arriving_together_get_one_network_object() -> None:
    # Five drills starting at once each read the graph on a cold cache; they must end up
    # with the same object, or a router made for one refuses another's road state.
    import asyncio

    from dispatch.places import networks as service

    async def together() -> list[object]:
        service._NETWORKS.clear()
        return list(
            await asyncio.gather(*(active_road_network(system_context()) for _ in range(5)))
        )

    networks = run(together())
    assert all(network is networks[0] for network in networks)
    assert run(active_road_network(system_context())) is networks[0]
