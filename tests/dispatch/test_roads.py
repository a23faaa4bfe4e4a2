"""The road network in force has one router cache (`dispatch.roads`): built off the event
loop, shared by every caller, one snapper per way of travel, replaced with the network."""

from __future__ import annotations

import threading

import pytest

from dispatch import roads
from geo.assignment import WALK_OR_RIDE
from geo.network import RoadNetwork, RoadState, grid_network
from geo.routing import Router


def _network() -> RoadNetwork:
    return RoadNetwork(grid_network(64, seed=7), name="grid")


async def test_a_missing_router_is_built_in_a_worker_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built_on: list[threading.Thread] = []

    class Recording(Router):
        def __init__(self, network: RoadNetwork) -> None:
            built_on.append(threading.current_thread())
            super().__init__(network)

    monkeypatch.setattr(roads, "Router", Recording)
    network = _network()
    router, snapper = await roads.router_ready(network)
    assert built_on and built_on[0] is not threading.main_thread()
    assert roads.router_for(network) == (router, snapper)  # one cache for every caller
    assert await roads.router_ready(network) == (router, snapper)
    assert len(built_on) == 1


async def test_one_router_with_a_snapper_per_way_of_travel() -> None:
    network = _network()
    van_router, van_snapper = await roads.router_ready(network)
    walk_router, walk_snapper = await roads.router_ready(network, WALK_OR_RIDE)
    assert walk_router is van_router
    assert walk_snapper is not van_snapper
    assert roads.snapper_for(network, WALK_OR_RIDE) is walk_snapper


def test_a_network_read_again_gets_its_own_router() -> None:
    first, again = _network(), _network()
    assert first.graph_id == again.graph_id
    router, _ = roads.router_for(first)
    assert router.network is first
    renewed, _ = roads.router_for(again)
    assert renewed is not router and renewed.network is again


def test_a_route_drawn_on_roads_loaded_before_is_kept_not_a_server_error() -> None:
    """Roads loaded again while a delivery is out: its stored route names junctions the
    network no longer has. A closure then keeps the route (as a cut-off one) instead of
    failing the closure with a KeyError."""
    network = _network()
    first, second = network.node_ids[0], network.node_ids[1]
    gone = max(network.index) + 1_000
    route = {"nodes": [int(first), int(second), gone], "length_m": 300.0, "time_s": 60.0}
    state = RoadState(network, closures=frozenset())
    assert roads.reroute(state, route, travelled_s=10.0) is None
