"""The road network in force, with one owner: the roads as they are now (the active network,
every closure still in force, every depot out), one router and snapper per network per
process (built off the event loop when it is not ready), and the reroute of a vehicle on its
way when a road ahead closes.

Incidents (closures, suggestions), planning and people's matching depend on this module;
it depends on places (the network as stored) and `geo`, never on a domain service.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import asyncpg

from dispatch.db import Context
from dispatch.places.service import active_road_network
from geo.network import Closure, RoadNetwork, RoadState, Snapper, Vehicle
from geo.routing import Route, Router, position_near, position_on, route_uses_closed_edge

log = logging.getLogger("dispatch.roads")

__all__ = [
    "VAN",
    "closure_of",
    "position_of",
    "reroute",
    "road_state",
    "route_json",
    "router_for",
    "router_ready",
    "snapper_for",
]

VAN = Vehicle()  # what delivers supplies: planning's and the reroutes' profile
_ROUTERS: dict[str, tuple[Router, dict[Vehicle, Snapper]]] = {}


def _entry(network: RoadNetwork) -> tuple[Router, dict[Vehicle, Snapper]]:
    """The network's router and its snappers so far, the cache holding one network.

    Keyed by content id but checked by identity: a network read again from the database
    (after another was loaded in between) is a new object that the old router cannot serve.
    """
    found = _ROUTERS.get(network.graph_id)
    if found is None or found[0].network is not network:
        found = (Router(network), {})
        _ROUTERS.clear()
        _ROUTERS[network.graph_id] = found
    return found


def snapper_for(network: RoadNetwork, vehicle: Vehicle = VAN) -> Snapper:
    """Snaps a point to the nearest junction this way of travel can use, per network."""
    _, snappers = _entry(network)
    if vehicle not in snappers:
        snappers[vehicle] = Snapper(network, network.usable_nodes(vehicle))
    return snappers[vehicle]


def router_for(network: RoadNetwork, vehicle: Vehicle = VAN) -> tuple[Router, Snapper]:
    """One router (with its compiled graphs and cached trees) per network per process, and
    the snapper of the way of travel (a van's unless told)."""
    return _entry(network)[0], snapper_for(network, vehicle)


def _ready(network: RoadNetwork, vehicle: Vehicle) -> bool:
    found = _ROUTERS.get(network.graph_id)
    return found is not None and found[0].network is network and vehicle in found[1]


async def router_ready(network: RoadNetwork, vehicle: Vehicle = VAN) -> tuple[Router, Snapper]:
    """`router_for`, building what is missing in a worker thread: compiling the graphs of
    a district takes long enough to stall every other request on the event loop."""
    if _ready(network, vehicle):
        return router_for(network, vehicle)
    return await asyncio.to_thread(router_for, network, vehicle)


def closure_of(row: asyncpg.Record) -> Closure:
    if row["kind"] == "edge":
        return Closure.edge(int(row["u"]), int(row["v"]))
    return Closure.circle(float(row["lat"]), float(row["lon"]), float(row["radius_m"]))


async def road_state(ctx: Context, conn: asyncpg.Connection) -> RoadState:
    """Roads as they are now: every closure still in force, every depot out."""
    network = await active_road_network(ctx)
    closures = await conn.fetch("SELECT * FROM road_closure WHERE opened_at IS NULL ORDER BY id")
    outages = await conn.fetch("SELECT depot FROM depot_outage WHERE back_at IS NULL")
    return RoadState(
        network,
        frozenset(closure_of(r) for r in closures),
        frozenset(r["depot"] for r in outages),
    )


def route_json(
    network: RoadNetwork, nodes: Sequence[int], length_m: float, time_s: float
) -> dict[str, Any]:
    """A route as stored on a plan line and a task: its nodes, a [lon, lat] line, length, time."""
    coords = [
        [float(network.lon[network.index[n]]), float(network.lat[network.index[n]])] for n in nodes
    ]
    return {"nodes": list(nodes), "coordinates": coords, "length_m": length_m, "time_s": time_s}


def position_of(
    network: RoadNetwork,
    route: dict[str, Any],
    travelled_s: float,
    seen: tuple[float, float] | None = None,
) -> tuple[int, float]:
    """Where a vehicle ``travelled_s`` seconds into a stored route can next turn: the
    index of the next junction it reaches and the metres to it. Seen at a GPS fix
    ``seen`` (lat, lon), it is where the fix puts it; else it is taken to have covered
    that share of the route's time, evenly along its length, as the command map shows
    it. The service (rerouting) and the replay (its arrivals) both ask this."""
    nodes = [int(n) for n in route.get("nodes", [])]
    if seen is not None:
        at, done_m, _ = position_near(network, nodes, *seen)
        return at, done_m
    time_s = float(route.get("time_s", 0))
    share = travelled_s / time_s if time_s > 0 and travelled_s > 0 else 0.0
    return position_on(network, nodes, share)


def reroute(
    state: RoadState,
    route: dict[str, Any],
    travelled_s: float = 0.0,
    seen: tuple[float, float] | None = None,
) -> dict[str, Any] | None:
    """A new route for a delivery whose road ahead crosses a closure (None when unchanged
    or cut off: a cut-off delivery keeps its route and the field reports what they find).

    ``travelled_s`` is how long the vehicle has been on its way. It is taken to have
    covered that share of the route, evenly along its length (as the command map shows
    it), and to turn off at the next junction it reaches: the stretch behind it stays
    in the route and a closure there changes nothing. A fresh GPS fix ``seen`` (lat,
    lon) says where it is instead.
    """
    network = state.network
    nodes: list[int] = [int(n) for n in route.get("nodes", [])]
    if len(nodes) < 2:
        return None
    if any(n not in network.index for n in nodes):
        # the roads were loaded again since the route was drawn: its junctions are not on
        # today's network, so it cannot be judged; it is kept, as a cut-off one is
        log.warning("a route over %d junctions is not on the loaded road network", len(nodes))
        return None
    length_m, time_s = float(route.get("length_m", 0)), float(route.get("time_s", 0))
    at, done_m = position_of(network, route, travelled_s, seen)
    done_s = time_s * done_m / length_m if length_m > 0 else 0.0
    ahead = Route(tuple(nodes[at:]), length_m - done_m, time_s - done_s)
    if len(ahead.nodes) < 2 or not route_uses_closed_edge(state, ahead):
        return None
    router, _ = router_for(network)
    new = router.route(state, nodes[at], nodes[-1])
    if new is None:
        return None
    return route_json(
        network, [*nodes[:at], *new.nodes], done_m + new.length_m, done_s + new.time_s
    )
