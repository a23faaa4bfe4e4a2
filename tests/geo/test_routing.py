"""Travel matrices and routes: correctness against networkx, closures, incremental replans."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.network import Closure, RoadNetwork, RoadState, Vehicle, vehicle_allowed
from geo.routing import (
    Route,
    Router,
    path_seconds,
    position_near,
    position_on,
    route_uses_closed_edge,
)


def _seconds(d: dict[str, float], vehicle: Vehicle) -> float:
    return d["length_m"] / (min(d["speed_kmh"], vehicle.speed_kmh) / 3.6)


@st.composite
def small_graphs(draw: st.DrawFn) -> nx.DiGraph:
    n = draw(st.integers(min_value=2, max_value=12))
    g = nx.DiGraph()
    for i in range(n):
        g.add_node(i, lat=39.9 + 0.001 * (i % 4), lon=116.4 + 0.001 * (i // 4))
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1]),
            max_size=3 * n,
            unique=True,
        )
    )
    for u, v in pairs:
        g.add_edge(
            u,
            v,
            length_m=draw(st.floats(min_value=1.0, max_value=500.0)),
            road_class="collector",
            speed_kmh=draw(st.sampled_from([10.0, 15.0, 30.0, 40.0])),
            oneway=True,
            max_vehicle=draw(st.sampled_from([None, None, None, "car", 2.5])),
        )
    return g


@settings(max_examples=150, deadline=None)
@given(small_graphs(), st.data())
def test_matrix_matches_networkx_dijkstra(g: nx.DiGraph, data: st.DataObject) -> None:
    net = RoadNetwork(g)
    vehicle = Vehicle()
    state = RoadState(net)
    edges = sorted(g.edges)
    if edges:
        closed = data.draw(st.lists(st.sampled_from(edges), max_size=3, unique=True))
        for u, v in closed:
            state = state.with_closure(Closure.edge(u, v))
    closed_pairs = {
        (int(net.node_ids[net.edge_u[i]]), int(net.node_ids[net.edge_v[i]]))
        for i in np.flatnonzero(state.closed_edges)
    }
    ref = nx.DiGraph()
    ref.add_nodes_from(g.nodes)
    for u, v, d in g.edges(data=True):
        if (u, v) not in closed_pairs and vehicle_allowed(d["max_vehicle"], vehicle):
            ref.add_edge(u, v, w=_seconds(d, vehicle))
    nodes = sorted(g.nodes)
    matrix = Router(net).travel_matrix(state, nodes, nodes, vehicle=vehicle)
    for i, s in enumerate(nodes):
        lengths = nx.single_source_dijkstra_path_length(ref, s, weight="w")
        for j, t in enumerate(nodes):
            want = lengths.get(t, math.inf)
            got = matrix.times_s[i, j]
            assert got == pytest.approx(want, rel=1e-9, abs=1e-5)
            route = matrix.route(s, t)
            if math.isinf(want):
                assert route is None
            else:
                assert route is not None and route.nodes[0] == s and route.nodes[-1] == t
                assert not route_uses_closed_edge(state, route)
                assert sum(
                    ref.edges[a, b]["w"] for a, b in zip(route.nodes, route.nodes[1:], strict=False)
                ) == pytest.approx(want, abs=1e-5)
    # Bulk paths (all pairs walked together) are exactly the single routes.
    pairs = [(s, t) for s in nodes for t in nodes]
    for (s, t), (path, length) in zip(pairs, matrix.paths(pairs), strict=True):
        route = matrix.route(s, t)
        assert (path, length) == (((), 0.0) if route is None else (route.nodes, route.length_m))
    assert matrix.paths(pairs[::-1]) == matrix.paths(pairs)[::-1]  # cached on the trees
    assert matrix.routes(pairs) == {(s, t): matrix.route(s, t) for s, t in pairs}


def test_every_community_and_depot_is_reachable(
    router: Router,
    base_state: RoadState,
    depot_nodes: dict[str, int],
    community_nodes: dict[str, int],
) -> None:
    places = sorted(set(depot_nodes.values()) | set(community_nodes.values()))
    matrix = router.travel_matrix(base_state, sorted(set(depot_nodes.values())), places)
    assert np.isfinite(matrix.times_s).all()
    assert matrix.times_s.max() < 3600  # the district is crossed in well under an hour


def test_cut_off_community_is_unreachable(
    router: Router,
    base_state: RoadState,
    depot_nodes: dict[str, int],
    community_nodes: dict[str, int],
) -> None:
    dongcheng = base_state.network
    target = community_nodes["110101001001"]
    lat, lon = dongcheng.latlon(target)
    state = base_state.with_closure(Closure.circle(lat, lon, 250.0))
    depots = sorted(set(depot_nodes.values()))
    matrix = router.travel_matrix(state, depots, [target, community_nodes["110101016001"]])
    assert np.isinf(matrix.times_s[:, 0]).all()
    assert np.isfinite(matrix.times_s[:, 1]).all()
    assert all(matrix.route(d, target) is None for d in depots)


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=39.88, max_value=39.96),
            st.floats(min_value=116.39, max_value=116.44),
            st.floats(min_value=20.0, max_value=400.0),
        ),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
)
def test_incremental_replans_match_a_fresh_router(
    dongcheng: RoadNetwork,
    depot_nodes: dict[str, int],
    community_nodes: dict[str, int],
    circles: list[tuple[float, float, float]],
    reopen_first: bool,
) -> None:
    depots = sorted(set(depot_nodes.values()))
    targets = sorted(set(community_nodes.values()))
    router = Router(dongcheng)
    state = RoadState(dongcheng)
    router.travel_matrix(state, depots, targets)
    reused = 0
    for lat, lon, radius in circles:
        state = state.with_closure(Closure.circle(lat, lon, radius))
        incremental = router.travel_matrix(state, depots, targets)
        reused += router.last_stats.reused
        fresh = Router(dongcheng).travel_matrix(state, depots, targets)
        np.testing.assert_array_equal(incremental.times_s, fresh.times_s)
        for d in depots[:3]:
            for t in targets[::40]:
                route = incremental.route(d, t)
                assert route is None or not route_uses_closed_edge(state, route)
                fresh_route = fresh.route(d, t)
                assert (route is None) == (fresh_route is None)
    if reopen_first:
        # Reopening may only reuse trees of a version whose closures are all still in force.
        state = state.reopen(sorted(state.closures)[0])
        reopened = router.travel_matrix(state, depots, targets)
        fresh = Router(dongcheng).travel_matrix(state, depots, targets)
        np.testing.assert_array_equal(reopened.times_s, fresh.times_s)


def test_small_closure_reuses_trees(
    dongcheng: RoadNetwork, depot_nodes: dict[str, int], community_nodes: dict[str, int]
) -> None:
    depots = sorted(set(depot_nodes.values()))
    targets = sorted(set(community_nodes.values()))
    router = Router(dongcheng)
    state = RoadState(dongcheng)
    router.travel_matrix(state, depots, targets)
    assert router.last_stats.computed == len(depots)
    router.travel_matrix(state, depots, targets)
    assert router.last_stats.cached == len(depots)
    # A short hutong lane: few trees use it, none on the way to a community.
    lane = next(
        (u, v)
        for u, v, d in sorted(dongcheng.graph.edges(data=True))
        if d["road_class"] == "hutong" and not d["oneway"] and u not in targets and v not in targets
    )
    router.travel_matrix(state.with_closure(Closure.edge(*lane)), depots, targets)
    assert router.last_stats.reused == len(depots)
    assert router.last_stats.computed == 0


def test_route_feature_and_limit(
    router: Router,
    base_state: RoadState,
    depot_nodes: dict[str, int],
    community_nodes: dict[str, int],
) -> None:
    source, target = depot_nodes["D110101001"], community_nodes["110101017001"]
    route = router.route(base_state, source, target)
    assert route is not None and route.length_m > 1000
    feature = route.feature(base_state.network, depot="D110101001")
    assert feature["geometry"]["type"] == "LineString"
    assert len(feature["geometry"]["coordinates"]) == len(route.nodes)
    lon, lat = feature["geometry"]["coordinates"][0]
    assert (lat, lon) == base_state.network.latlon(source)
    assert feature["properties"]["time_s"] == round(route.time_s, 1)
    limited = router.travel_matrix(base_state, [source], [target], limit_s=route.time_s / 2)
    assert math.isinf(limited.times_s[0, 0])
    with pytest.raises(KeyError):
        limited.time(source, source)


def test_bulk_paths_match_single_routes_on_long_dongcheng_routes(
    dongcheng: RoadNetwork, depot_nodes: dict[str, int], community_nodes: dict[str, int]
) -> None:
    # District-wide routes run tens of tree levels deep: the bulk walk checks for
    # its end only every few levels and must still stop each route at its source.
    depots = sorted(set(depot_nodes.values()))
    targets = sorted(set(community_nodes.values()))[::7]
    state = RoadState(dongcheng).with_closure(Closure.circle(39.9245, 116.4270, 200.0))
    matrix = Router(dongcheng).travel_matrix(state, depots, targets)
    pairs = [(s, t) for s in depots for t in targets]
    bulk = matrix.paths(pairs)
    assert max(len(path) for path, _ in bulk) > 30
    for (s, t), (path, length) in zip(pairs, bulk, strict=True):
        route = matrix.route(s, t)
        assert (path, length) == (((), 0.0) if route is None else (route.nodes, route.length_m))


def test_bulk_paths_match_single_routes_on_horizon_limited_trees(
    dongcheng: RoadNetwork, depot_nodes: dict[str, int], community_nodes: dict[str, int]
) -> None:
    # A 4-minute horizon leaves every tree compact (a small part of the district),
    # and a 60-minute one dense: bulk walks read both layouts the same way.
    depots = sorted(set(depot_nodes.values()))
    targets = sorted(set(community_nodes.values()))
    for horizon_s, dense in ((240.0, False), (3600.0, True)):
        matrix = Router(dongcheng).travel_matrix(
            RoadState(dongcheng), depots, targets, limit_s=horizon_s
        )
        trees = matrix._trees.values()
        assert all(tree.dense == dense for tree in trees)
        pairs = [(s, t) for s in depots for t in targets]
        bulk = matrix.paths(pairs)
        assert sum(1 for path, _ in bulk if path) > len(depots)
        assert any(not path for path, _ in bulk) != dense
        for (s, t), (path, length) in zip(pairs, bulk, strict=True):
            route = matrix.route(s, t)
            assert (path, length) == (((), 0.0) if route is None else (route.nodes, route.length_m))


def _across_the_district(
    dongcheng: RoadNetwork,
    depot_nodes: dict[str, int],
    community_nodes: dict[str, int],
    vehicle: Vehicle,
) -> Route:
    """The fastest route from the district reserve to a community far from it."""
    source, target = depot_nodes["D110101000"], sorted(community_nodes.values())[40]
    route = Router(dongcheng).route(RoadState(dongcheng), source, target, vehicle=vehicle)
    assert route is not None and len(route.nodes) > 10
    return route


def test_path_seconds_is_the_searched_time_and_counts_closed_roads(
    dongcheng: RoadNetwork, depot_nodes: dict[str, int], community_nodes: dict[str, int]
) -> None:
    # A rerouted delivery's time is read along the nodes it drives, closed roads behind
    # it included; for a fastest route that is the very float the search gave.
    vehicle = Vehicle(speed_kmh=18.0)
    route = _across_the_district(dongcheng, depot_nodes, community_nodes, vehicle)
    assert path_seconds(dongcheng, route.nodes, vehicle=vehicle) == route.time_s
    middle = dongcheng.latlon(route.nodes[len(route.nodes) // 2])
    closed = RoadState(dongcheng).with_closure(Closure.circle(*middle, 20.0))
    assert route_uses_closed_edge(closed, route)
    assert path_seconds(dongcheng, route.nodes, vehicle=vehicle) == route.time_s
    assert path_seconds(dongcheng, route.nodes, vehicle=Vehicle(speed_kmh=9.0)) > route.time_s


def _metres_along(network: RoadNetwork, nodes: Sequence[int]) -> list[float]:
    """Metres from a route's start to each of its nodes, summed edge by edge."""
    lengths, n, index = network.edge_lengths_by_key, network.n_nodes, network.index
    upto = [0.0]
    for a, b in itertools.pairwise(nodes):
        upto.append(upto[-1] + lengths[index[a] * n + index[b]])
    return upto


def test_position_on_a_route_is_the_next_junction_reached(
    dongcheng: RoadNetwork, depot_nodes: dict[str, int], community_nodes: dict[str, int]
) -> None:
    route = _across_the_district(dongcheng, depot_nodes, community_nodes, Vehicle())
    nodes = route.nodes
    assert position_on(dongcheng, nodes, 0.0) == (0, 0.0)
    assert position_on(dongcheng, nodes, -1.0) == (0, 0.0)
    assert position_on(dongcheng, nodes, 1e-9)[0] == 1  # on the first road: its end next
    last, metres = position_on(dongcheng, nodes, 1.0)
    assert last == len(nodes) - 1 and metres == pytest.approx(route.length_m)
    assert position_on(dongcheng, nodes, 5.0)[0] == len(nodes) - 1
    at, done = position_on(dongcheng, nodes, 0.5)
    upto = _metres_along(dongcheng, nodes)
    # the next junction is the first one at or past half the length
    assert upto[at - 1] < route.length_m / 2 <= upto[at] == done
    shares = [position_on(dongcheng, nodes, f / 20)[0] for f in range(21)]
    assert shares == sorted(shares)


def test_position_near_a_fix_is_the_next_junction_of_the_nearest_road(
    dongcheng: RoadNetwork, depot_nodes: dict[str, int], community_nodes: dict[str, int]
) -> None:
    """A GPS fix on a route: at a junction, that junction; part-way along a road, its far
    end; a fix off to the side says how far off it is."""
    route = _across_the_district(dongcheng, depot_nodes, community_nodes, Vehicle())
    nodes = route.nodes
    upto = _metres_along(dongcheng, nodes)
    for k in (0, len(nodes) // 3, len(nodes) - 1):
        at, metres, off = position_near(dongcheng, nodes, *dongcheng.latlon(nodes[k]))
        assert (at, off) == (k, pytest.approx(0.0, abs=1e-6))
        assert metres == pytest.approx(upto[k])
    k = len(nodes) // 2
    (lat_a, lon_a), (lat_b, lon_b) = dongcheng.latlon(nodes[k]), dongcheng.latlon(nodes[k + 1])
    between = ((lat_a + lat_b) / 2, (lon_a + lon_b) / 2)
    at, metres, off = position_near(dongcheng, nodes, *between)
    assert at == k + 1 and metres == pytest.approx(upto[k + 1]) and off < 1.0
    north = max(dongcheng.latlon(node)[0] for node in nodes)
    aside = (north + 2_500 / 111_000, between[1])  # 2.5 km north of the route's top
    assert position_near(dongcheng, nodes, *aside)[2] > 2_400
    assert position_near(dongcheng, nodes[:1], *between)[0] == 0


@settings(max_examples=100, deadline=None)
@given(share=st.floats(0.0, 1.0))
def test_a_fix_where_the_timed_position_puts_the_vehicle_agrees_with_it(
    dongcheng: RoadNetwork,
    depot_nodes: dict[str, int],
    community_nodes: dict[str, int],
    share: float,
) -> None:
    """Seen at the junction the time-based reckoning says it reaches next, the vehicle is
    placed at that same junction: the two ways of saying where it is agree."""
    route = _across_the_district(dongcheng, depot_nodes, community_nodes, Vehicle())
    at, metres = position_on(dongcheng, route.nodes, share)
    near, near_metres, off = position_near(
        dongcheng, route.nodes, *dongcheng.latlon(route.nodes[at])
    )
    assert off == pytest.approx(0.0, abs=1e-6)
    # the earliest equally near road: a route never passes the same junction twice
    assert (near, near_metres) == (at, pytest.approx(metres))
