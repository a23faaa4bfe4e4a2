"""The road graph: loaders, the synthetic generators, snapping and closures."""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.coords import distance_m
from geo.network import (
    DONGCHENG_EDGES_CSV,
    DONGCHENG_NODES_CSV,
    Closure,
    RoadNetwork,
    RoadState,
    Snapper,
    Vehicle,
    grid_network,
    load_boundary,
    load_graphml,
    load_osmnx_csv,
    point_in_polygon,
    points_in_polygon,
    save_graphml,
    save_osmnx_csv,
    vehicle_allowed,
    write_dongcheng_network,
)
from tests.geo.conftest import read_rows


def _same_graph(a: nx.DiGraph, b: nx.DiGraph) -> None:
    assert sorted(a.nodes) == sorted(b.nodes)
    for n in a.nodes:
        assert a.nodes[n]["lat"] == pytest.approx(b.nodes[n]["lat"], abs=1e-7)
        assert a.nodes[n]["lon"] == pytest.approx(b.nodes[n]["lon"], abs=1e-7)
    assert sorted(a.edges) == sorted(b.edges)
    for u, v, d in a.edges(data=True):
        other = b.edges[u, v]
        assert other["length_m"] == pytest.approx(d["length_m"], abs=0.05)
        for key in ("road_class", "speed_kmh", "oneway", "max_vehicle"):
            assert other[key] == d[key], (u, v, key)


def test_regenerating_reproduces_the_shipped_files(tmp_path: Path) -> None:
    nodes, edges = tmp_path / "nodes.csv", tmp_path / "edges.csv"
    write_dongcheng_network(nodes, edges)
    assert nodes.read_bytes() == DONGCHENG_NODES_CSV.read_bytes()
    assert edges.read_bytes() == DONGCHENG_EDGES_CSV.read_bytes()


def test_synthetic_network_shape(dongcheng: RoadNetwork) -> None:
    g = dongcheng.graph
    assert 2000 <= g.number_of_nodes() <= 5000
    classes = {d["road_class"] for *_, d in g.edges(data=True)}
    assert classes == {"arterial", "collector", "hutong"}
    hutong = [d for *_, d in g.edges(data=True) if d["road_class"] == "hutong"]
    assert any(d["oneway"] for d in hutong)
    assert any(d["max_vehicle"] == "car" for d in hutong)
    assert all(
        d["max_vehicle"] is None for *_, d in g.edges(data=True) if d["road_class"] != "hutong"
    )
    van = Vehicle()
    usable = nx.DiGraph(
        (u, v) for u, v, d in g.edges(data=True) if vehicle_allowed(d["max_vehicle"], van)
    )
    assert usable.number_of_nodes() == g.number_of_nodes()
    assert nx.is_strongly_connected(usable)
    assert "SYNTHETIC" in (Path(__file__).parents[2] / "geo" / "network.py").read_text()


def test_every_place_snaps_close(snapper: Snapper) -> None:
    for name in ("communities.csv", "depots.csv"):
        for row in read_rows(name):
            node, dist = snapper.nearest(float(row["lat"]), float(row["lon"]))
            assert dist < 250, (row["code"], dist)
            lat, lon = snapper.network.latlon(node)
            assert distance_m((lat, lon), (float(row["lat"]), float(row["lon"]))) < 250


def test_csv_round_trip(dongcheng: RoadNetwork, tmp_path: Path) -> None:
    save_osmnx_csv(dongcheng.graph, tmp_path / "n.csv", tmp_path / "e.csv")
    again = load_osmnx_csv(tmp_path / "n.csv", tmp_path / "e.csv")
    _same_graph(dongcheng.graph, again)
    assert RoadNetwork(again).graph_id == dongcheng.graph_id


def _osmnx_like_multigraph() -> nx.MultiDiGraph:
    """What OSMnx saves: string attributes, y/x, parallel edges, list-valued tags."""
    g = nx.MultiDiGraph(crs="epsg:4326")
    g.add_node(101, y="39.9000000", x="116.4000000", street_count="3")
    g.add_node(102, y="39.9010000", x="116.4000000", street_count="3")
    g.add_node(103, y="39.9010000", x="116.4012000", street_count="2")
    g.add_edge(101, 102, key=0, length="111.2", highway="primary", oneway="False", maxspeed="50")
    g.add_edge(102, 101, key=0, length="111.2", highway="primary", oneway="False", maxspeed="50")
    # A slow parallel lane: the loader keeps the faster of the two.
    g.add_edge(101, 102, key=1, length="150.0", highway="living_street", oneway="True")
    g.add_edge(
        102,
        103,
        key=0,
        length="102.5",
        highway="['residential', 'service']",
        oneway="True",
        maxspeed="['20', '30']",
        maxwidth="2.0",
    )
    g.add_edge(103, 101, key=0, length="160.0", highway="footway", oneway="True")
    return g


def test_graphml_written_by_networkx_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "osmnx.graphml"
    nx.write_graphml(_osmnx_like_multigraph(), path)
    g = load_graphml(path)
    assert sorted(g.nodes) == [101, 102, 103]
    assert g.nodes[101] == {"lat": 39.9, "lon": 116.4}
    e = g.edges[101, 102]
    assert e == {
        "length_m": 111.2,
        "road_class": "arterial",
        "speed_kmh": 50.0,
        "oneway": False,
        "max_vehicle": None,
    }
    e = g.edges[102, 103]
    assert (e["road_class"], e["speed_kmh"], e["oneway"], e["max_vehicle"]) == (
        "collector",
        20.0,
        True,
        2.0,
    )
    assert g.edges[103, 101]["max_vehicle"] == "tricycle"
    # And our own writer round-trips through the same loader.
    save_graphml(g, tmp_path / "ours.graphml")
    _same_graph(g, load_graphml(tmp_path / "ours.graphml"))


def test_typed_graphml_round_trip(tmp_path: Path) -> None:
    g = grid_network(36, seed=3)
    save_graphml(g, tmp_path / "typed.graphml")
    _same_graph(g, load_graphml(tmp_path / "typed.graphml"))


def test_grid_network_scale() -> None:
    g = grid_network(2500, seed=1)
    assert 2400 <= g.number_of_nodes() <= 2600
    assert nx.is_strongly_connected(g)
    assert g.number_of_nodes() == RoadNetwork(g).n_nodes


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=39.85, max_value=39.98), st.floats(min_value=116.36, max_value=116.46))
def test_snapper_matches_a_scan(lat: float, lon: float) -> None:
    net = _small_net()
    snap = Snapper(net)
    x, y = net.projection.to_xy(lat, lon)
    scan = int(net.node_ids[int(np.argmin(np.hypot(net.x - x, net.y - y)))])
    node, dist = snap.nearest(lat, lon)
    assert dist == pytest.approx(float(np.min(np.hypot(net.x - x, net.y - y))))
    assert node == scan or math.isclose(
        dist, float(np.hypot(net.x[net.index[scan]] - x, net.y[net.index[scan]] - y))
    )


_SMALL: list[RoadNetwork] = []


def _small_net() -> RoadNetwork:
    if not _SMALL:
        _SMALL.append(RoadNetwork(grid_network(900, seed=5)))
    return _SMALL[0]


def test_point_in_polygon_variants_agree() -> None:
    ring = load_boundary()[0]
    rng = np.random.default_rng(0)
    lats = rng.uniform(39.85, 39.98, 400)
    lons = rng.uniform(116.37, 116.45, 400)
    fast = points_in_polygon(lats, lons, ring)
    slow = [point_in_polygon(a, b, ring) for a, b in zip(lats, lons, strict=True)]
    assert fast.tolist() == slow
    assert 50 < fast.sum() < 350
    for row in read_rows("depots.csv"):
        if row["code"] in {"D110101001", "D110101006"}:  # well inside the district
            assert point_in_polygon(float(row["lat"]), float(row["lon"]), ring)


def test_closures_and_versions(dongcheng: RoadNetwork, base_state: RoadState) -> None:
    u, v = next((u, v) for u, v in sorted(dongcheng.graph.edges) if dongcheng.graph.has_edge(v, u))
    edge = Closure.edge(v, u)
    assert edge == Closure.edge(u, v)
    closed = base_state.with_closure(edge)
    assert closed.version != base_state.version
    mask = closed.closed_edges
    assert mask.sum() == 2
    assert mask[dongcheng.edge_index[(u, v)]] and mask[dongcheng.edge_index[(v, u)]]
    assert closed.reopen(edge).version == base_state.version

    lat, lon = dongcheng.latlon(u)
    circle = Closure.circle(lat, lon, 60.0)
    state = base_state.with_closure(circle).with_closure(edge)
    assert state.version == base_state.with_closure(edge).with_closure(circle).version
    for w in dongcheng.graph.successors(u):
        assert state.closed_edges[dongcheng.edge_index[(u, w)]]
    assert u not in set(state.open_nodes(Vehicle()).tolist())
    # Depots out don't change the roads, so they don't change the version.
    assert state.with_depot_out("D1").version == state.version
    assert state.with_depot_out("D1").with_depot_back("D1") == state

    with pytest.raises(ValueError, match="no road"):
        base_state.with_closure(Closure.edge(-1, -2))
