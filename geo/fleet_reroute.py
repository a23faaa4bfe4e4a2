"""A run rerouted round a closure: from where the vehicle is, its remaining stops re-sequenced.

A run in progress (issue 18, point 3) has a vehicle somewhere on the way and stops still to
serve, each in a trip. When roads close, :func:`crosses_closure` says whether any leg still
ahead (as it would be driven on the roads before the closure) runs on a newly closed edge;
:func:`reroute_run` then orders the remaining stops again on the roads after it and times
them from where the vehicle is.

Rules kept, so a reroute never breaks what the plan guaranteed:

* *Trips keep their stops.* The goods of the trip under way are on board and each later
  trip is loaded for its stops, so a stop never moves to another trip: every trip's load is
  the one the plan checked against the vehicle's weight and volume.
* *Priorities.* Within a trip, stops are served most critical first (a stop never after a
  stop of lower priority); trips keep their order, as the plan made them.
* *Only open roads.* Times come from the travel matrix of the roads after the closure, for
  the vehicle's own kind (the lanes it fits), so no leg uses a closed edge.
* *Unreachable stops get a reason* (``road_closed``): one the vehicle can no longer reach
  from where it is (or from its depot, for a later trip), or can no longer leave for its
  depot. They stay at the end of the run for the dispatcher, untimed.

Within a trip the order is exact (fewest travel seconds to the depot, priority classes in
order) by dynamic programming over subsets up to :data:`EXACT_STOPS` stops, and nearest
first (within each priority class) beyond that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from geo.fleet_records import KIND_SPEED_KMH
from geo.network import RoadState
from geo.paths import route_uses_closed_edge
from geo.routing import Router
from geo.vehicles import Vehicle

__all__ = [
    "EXACT_STOPS",
    "REROUTE_REASONS",
    "LeftStop",
    "Rerouted",
    "RunLeft",
    "TimedStop",
    "crosses_closure",
    "reroute_run",
]

EXACT_STOPS = 9  # stops of one trip ordered exactly (2^9 x 9 states); nearest first beyond
REROUTE_REASONS = ("road_closed",)


@dataclass(frozen=True)
class LeftStop:
    """A stop still to serve: its node, its trip (1, 2, ...), handling time and priority
    (higher = more critical)."""

    id: str
    node: int
    trip: int
    handling_s: float
    priority: int = 0


@dataclass(frozen=True)
class RunLeft:
    """What is left of a run: the vehicle's kind and depot, where it is (``at_node``, free to
    leave ``at_s`` seconds from now) on trip ``trip``, and its remaining stops in the
    current order (trips in order)."""

    kind: str
    depot: int
    at_node: int
    at_s: float
    trip: int
    stops: tuple[LeftStop, ...]

    @property
    def profile(self) -> Vehicle:
        return Vehicle(self.kind, KIND_SPEED_KMH[self.kind])


@dataclass(frozen=True)
class TimedStop:
    id: str
    trip: int
    arrival_s: float
    departure_s: float


@dataclass(frozen=True)
class Rerouted:
    """The new order: served stops with their times (seconds from now), then the stops
    left unreachable with their reason; ``travel_s`` to the end of the run at the depot."""

    stops: tuple[TimedStop, ...]
    unreachable: tuple[tuple[str, str], ...]
    travel_s: float

    @property
    def order(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.stops) + tuple(u for u, _ in self.unreachable)


def _legs(run: RunLeft) -> list[tuple[int, int]]:
    """The legs still ahead in the current order: from where it is, through every trip."""
    legs, pos, trip = [], run.at_node, run.trip
    for s in run.stops:
        if s.trip != trip:
            legs.append((pos, run.depot))
            pos, trip = run.depot, s.trip
        legs.append((pos, s.node))
        pos = s.node
    legs.append((pos, run.depot))
    return [(a, b) for a, b in legs if a != b]


def crosses_closure(
    before: RoadState, after: RoadState, run: RunLeft, router: Router | None = None
) -> bool:
    """Whether a leg still ahead, driven as it would be on the roads ``before``, runs on an
    edge closed ``after`` (or has no road left at all)."""
    legs = _legs(run)
    if not legs:
        return False
    router = router or Router(before.network)
    sources = list(dict.fromkeys(a for a, _ in legs))
    targets = list(dict.fromkeys(b for _, b in legs))
    matrix = router.travel_matrix(before, sources, targets, vehicle=run.profile)
    for route in matrix.routes(legs).values():
        if route is None or route_uses_closed_edge(after, route):
            return True
    return False


def _exact_order(
    t: NDArray[np.float64], start: int, end: int, members: Sequence[int], prio: Sequence[int]
) -> list[int]:
    """Cheapest order of ``members`` from ``start`` to ``end`` on ``t``, most critical first."""
    n = len(members)
    full = (1 << n) - 1
    inf = math.inf
    cost = [[inf] * n for _ in range(1 << n)]
    back = [[-1] * n for _ in range(1 << n)]
    top = max(prio[m] for m in members)
    for i, m in enumerate(members):
        if prio[m] == top:
            cost[1 << i][i] = t[start, m]
    for mask in range(1, full + 1):
        left = [j for j in range(n) if not mask >> j & 1]
        if not left:
            continue
        best = max(prio[members[j]] for j in left)  # only the most critical left may follow
        nxt = [j for j in left if prio[members[j]] == best]
        for i in range(n):
            c = cost[mask][i]
            if c == inf:
                continue
            for j in nxt:
                cj = c + t[members[i], members[j]]
                if cj < cost[mask | 1 << j][j]:
                    cost[mask | 1 << j][j] = cj
                    back[mask | 1 << j][j] = i
    last = min(range(n), key=lambda i: (cost[full][i] + t[members[i], end], i))
    order, mask = [], full
    while last >= 0:
        order.append(members[last])
        last, mask = back[mask][last], mask & ~(1 << last)
    return order[::-1]


def _nearest_order(
    t: NDArray[np.float64], start: int, members: Sequence[int], prio: Sequence[int]
) -> list[int]:
    """Nearest first within each priority class, most critical class first."""
    order, pos = [], start
    for p in sorted({prio[m] for m in members}, reverse=True):
        left = [m for m in members if prio[m] == p]
        while left:
            m = min(left, key=lambda x: (t[pos, x], x))
            left.remove(m)
            order.append(m)
            pos = m
    return order


def _matrix(after: RoadState, run: RunLeft, router: Router) -> tuple[NDArray[np.float64], int, int]:
    """Seconds among [where it is, depot, stops...] on the roads after the closure."""
    nodes = list(dict.fromkeys([run.at_node, run.depot, *(s.node for s in run.stops)]))
    times = router.travel_matrix(after, nodes, nodes, vehicle=run.profile).times_s
    at = {n: i for i, n in enumerate(nodes)}
    index = [at[run.at_node], at[run.depot], *(at[s.node] for s in run.stops)]
    t = np.asarray(times)[np.ix_(index, index)]
    return t, 0, 1


def reroute_run(after: RoadState, run: RunLeft, router: Router | None = None) -> Rerouted:
    """The remaining stops re-sequenced on the roads ``after`` and timed from where it is."""
    router = router or Router(after.network)
    t, here, depot = _matrix(after, run, router)
    prio = [0, 0, *(s.priority for s in run.stops)]
    trips = list(dict.fromkeys(s.trip for s in run.stops))
    timed: list[TimedStop] = []
    lost: list[tuple[str, str]] = []
    pos, clock, travel = here, run.at_s, 0.0
    for trip in trips:
        if trip != run.trip and pos != depot:
            travel, clock, pos = travel + t[pos, depot], clock + t[pos, depot], depot
        members = [2 + i for i, s in enumerate(run.stops) if s.trip == trip]
        ok = [m for m in members if np.isfinite(t[pos, m]) and np.isfinite(t[m, depot])]
        lost.extend((run.stops[m - 2].id, "road_closed") for m in members if m not in ok)
        if not ok or not math.isfinite(travel + t[pos, depot]):
            lost.extend((run.stops[m - 2].id, "road_closed") for m in ok)
            continue
        if len(ok) <= EXACT_STOPS:
            order = _exact_order(t, pos, depot, ok, prio)
        else:
            order = _nearest_order(t, pos, ok, prio)
        for m in order:
            if not np.isfinite(t[pos, m]):  # one-way roads: reachable alone, not after another
                lost.append((run.stops[m - 2].id, "road_closed"))
                continue
            stop = run.stops[m - 2]
            clock, travel = clock + t[pos, m], travel + t[pos, m]
            timed.append(TimedStop(stop.id, stop.trip, clock, clock + stop.handling_s))
            clock += stop.handling_s
            pos = m
        travel, clock, pos = travel + t[pos, depot], clock + t[pos, depot], depot
    return Rerouted(tuple(timed), tuple(lost), float(travel))
