"""A run rerouted round a closure: its remaining stops never use a closed edge, every trip
keeps its stops (so its load), priorities stay in order, and every stop is served or has a
reason (issue 18, point 3)."""

from __future__ import annotations

import functools
import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.fleet_reroute import (
    REROUTE_REASONS,
    LeftStop,
    RunLeft,
    _exact_order,
    crosses_closure,
    reroute_run,
)
from geo.network import Closure, RoadNetwork, RoadState, load_dongcheng_network
from geo.paths import route_uses_closed_edge
from geo.routing import Router

KINDS = ("tricycle", "car", "van", "truck")


@functools.cache
def _network() -> RoadNetwork:
    return load_dongcheng_network()


@st.composite
def reroutes(draw: st.DrawFn) -> tuple[RoadState, RoadState, RunLeft, dict[str, float]]:
    """A run on Dongcheng's roads (kind, depot, position, up to 8 stops in up to 3 trips,
    priorities in order along the run) and 1-3 closures on edges of its legs ahead."""
    net = _network()
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    kind = KINDS[int(rng.integers(4))]
    usable = net.usable_nodes(RunLeft(kind, 0, 0, 0, 1, ()).profile)
    nodes = [int(i) for i in rng.choice(usable, size=10, replace=False)]
    n = draw(st.integers(1, 8))
    trips = sorted(int(x) for x in rng.integers(1, 4, size=n))
    prio = sorted((int(x) for x in rng.integers(0, 3, size=n)), reverse=True)
    stops = tuple(
        LeftStop(f"S{i}", nodes[2 + i], trips[i], float(rng.integers(0, 600)), prio[i])
        for i in range(n)
    )
    kg = {s.id: float(rng.integers(10, 300)) for s in stops}
    run = RunLeft(kind, nodes[0], nodes[1], float(rng.integers(0, 900)), trips[0], stops)
    before = RoadState(net)
    router = Router(net)
    legs = [(run.at_node, stops[0].node), *((a.node, b.node) for a, b in itertools.pairwise(stops))]
    closures = set()
    for a, b in legs[: draw(st.integers(1, 3))]:
        route = router.route(before, a, b, vehicle=run.profile)
        if route is not None and len(route.nodes) > 1:
            k = int(rng.integers(len(route.nodes) - 1))
            closures.add(Closure.edge(route.nodes[k], route.nodes[k + 1]))
    return before, RoadState(net, frozenset(closures)), run, kg


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reroutes())
def test_rerouted_runs_use_no_closed_edge_and_keep_the_rules(
    case: tuple[RoadState, RoadState, RunLeft, dict[str, float]],
) -> None:
    before, after, run, kg = case
    router = Router(after.network)
    if after.closures:
        assert crosses_closure(before, after, run, router)
    new = reroute_run(after, run, router)
    # every stop once: served, or unreachable with a reason
    assert sorted(new.order) == sorted(s.id for s in run.stops)
    assert all(reason in REROUTE_REASONS for _, reason in new.unreachable)
    by_id = {s.id: s for s in run.stops}
    # trips keep their stops (the load on board, or loaded at the depot, is the plan's)
    for trip in {s.trip for s in run.stops}:
        mine = {s.id for s in new.stops if s.trip == trip}
        assert mine <= {s.id for s in run.stops if s.trip == trip}
        assert sum(kg[i] for i in mine) <= sum(kg[s.id] for s in run.stops if s.trip == trip)
    # trips in order, priorities never rising along the run
    assert [s.trip for s in new.stops] == sorted(s.trip for s in new.stops)
    prios = [by_id[s.id].priority for s in new.stops]
    assert prios == sorted(prios, reverse=True)
    # every leg driven on open roads, timed on them
    pos, trip, clock = run.at_node, run.trip, run.at_s
    for s in new.stops:
        if s.trip != trip:
            back = router.route(after, pos, run.depot, vehicle=run.profile)
            assert pos == run.depot or (
                back is not None and not route_uses_closed_edge(after, back)
            )
            clock += back.time_s if pos != run.depot and back else 0.0
            pos, trip = run.depot, s.trip
        node = by_id[s.id].node
        if node != pos:
            leg = router.route(after, pos, node, vehicle=run.profile)
            assert leg is not None and not route_uses_closed_edge(after, leg)
            clock += leg.time_s
        assert abs(s.arrival_s - clock) < 1e-6 * max(1.0, clock)
        clock = s.departure_s
        assert abs(s.departure_s - s.arrival_s - by_id[s.id].handling_s) < 1e-9
        pos = node


def test_the_exact_order_is_the_cheapest_in_priority_order() -> None:
    rng = np.random.default_rng(3)
    for _ in range(30):
        n = int(rng.integers(1, 7))
        t = rng.uniform(10, 100, size=(n + 2, n + 2))
        prio = [0, 0, *(int(x) for x in rng.integers(0, 2, size=n))]
        members = list(range(2, n + 2))
        order = _exact_order(t, 0, 1, members, prio)

        def cost(seq: tuple[int, ...], t: np.ndarray = t) -> float:
            path = [0, *seq, 1]
            return float(sum(t[a, b] for a, b in itertools.pairwise(path)))

        allowed = [
            p
            for p in itertools.permutations(members)
            if [prio[m] for m in p] == sorted((prio[m] for m in p), reverse=True)
        ]
        assert sorted(order) == members
        assert abs(cost(tuple(order)) - min(cost(p) for p in allowed)) < 1e-9


def test_only_a_run_whose_road_ahead_closes_is_rerouted() -> None:
    net = _network()
    a, b = (int(x) for x in net.node_ids[[0, 400]])
    run = RunLeft("van", a, a, 0.0, 1, (LeftStop("A", b, 1, 60.0),))
    before = RoadState(net)
    route = Router(net).route(before, a, b, vehicle=run.profile)
    assert route is not None
    assert not crosses_closure(before, before, run)
    on_it = RoadState(net, frozenset({Closure.edge(route.nodes[1], route.nodes[2])}))
    assert crosses_closure(before, on_it, run)
