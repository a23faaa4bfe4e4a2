"""Checks and repairs of engine trips: priority order, replay on the matrices, re-insertion.

Works on the integer :class:`~geo.fleet_engines.EngineInput`, so every engine's
trips go through the same rules: :func:`priority_order` makes the order
respect priorities, :func:`drive` replays a vehicle's trips and drops what
breaks a rule (capacity, need-by, shift, trip limit), and
:func:`insert_unserved` puts dropped or unassigned parts back wherever they
fit at the least extra travel without breaking the order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from geo.fleet_engines import EngineInput

__all__ = ["Drive", "drive", "insert_unserved", "priority_order", "run_travel"]

_NEAREST_VEHICLES = 24  # re-insertion looks at the vehicles whose depots are closest


def priority_order(trips: Sequence[Sequence[int]], priority: Sequence[int]) -> list[list[int]]:
    """Trips reordered so that no part is visited after one of lower priority.

    Each trip's parts are sorted most critical first (stable: the engine's
    order within a priority stays); trips are ordered by their most and then
    least critical part; a trip whose priorities interleave with another's is
    cut at the boundary, and pieces of one trip that end up next to each other
    are joined again. Every resulting trip is part of an engine trip, so it
    still fits the vehicle.

    Examples
    --------
    >>> priority_order([[0, 1], [2]], priority=[2, 0, 1])  # [critical, normal], [high]
    [[0], [2], [1]]
    >>> priority_order([[0, 1], [2]], priority=[0, 2, 0])
    [[1, 0], [2]]
    """
    ordered = [sorted(t, key=lambda p: -priority[p]) for t in trips if t]
    ordered.sort(key=lambda t: (-priority[t[0]], -priority[t[-1]]))
    pieces: list[tuple[int, int, int]] = []  # (priority, trip, part)
    for ti, trip in enumerate(ordered):
        pieces.extend((priority[p], ti, p) for p in trip)
    pieces.sort(key=lambda x: -x[0])  # stable: trip order kept within a priority
    out: list[list[int]] = []
    last_trip = -1
    for _, ti, p in pieces:
        if ti == last_trip:
            out[-1].append(p)
        else:
            out.append([p])
            last_trip = ti
    return out


@dataclass
class Drive:
    """A vehicle's trips as driven: per trip (depart, [(part, arrive, leave)], back, legs)."""

    trips: list[tuple[int, list[tuple[int, int, int]], int, list[tuple[int, int]]]] = field(
        default_factory=list
    )
    dropped: dict[int, str] = field(default_factory=dict)

    @property
    def parts(self) -> list[list[int]]:
        return [[p for p, _, _ in visits] for _, visits, _, _ in self.trips]


def drive(model: EngineInput, k: int, trips: Sequence[Sequence[int]]) -> Drive:
    """Replay vehicle ``k``'s trips in order, dropping each part that would break a rule.

    A part is dropped (``over_capacity``) when it would overload its trip,
    when the vehicle could not get back to its depot by the end of its shift
    after it, or when its trip is beyond the vehicle's trip limit; and
    (``after_need_by``) when the vehicle would arrive after its need-by.
    """
    ev = model.vehicles[k]
    times, big, depot = model.times[ev.kind], model.big, ev.location
    clock, out = ev.start_s, Drive()
    for n, trip in enumerate(trips):
        if n >= ev.max_trips:
            out.dropped.update((p, "over_capacity") for p in trip)
            continue
        kept, load = [], (0, 0)
        for p in trip:
            d = model.parts[p].demand
            if load[0] + d[0] > ev.capacity[0] or load[1] + d[1] > ev.capacity[1]:
                out.dropped[p] = "over_capacity"
            else:
                load = (load[0] + d[0], load[1] + d[1])
                kept.append(p)
        visits, legs, pos, t = [], [], depot, clock
        for p in kept:
            part = model.parts[p]
            leg, back = int(times[pos, part.location]), int(times[part.location, depot])
            arrive = t + leg
            if leg >= big or back >= big or arrive + part.service_s + back > ev.end_s:
                out.dropped[p] = "over_capacity"
            elif arrive > part.latest_s:
                out.dropped[p] = "after_need_by"
            else:
                legs.append((pos, part.location))
                visits.append((p, arrive, arrive + part.service_s))
                pos, t = part.location, arrive + part.service_s
        if visits:
            legs.append((pos, depot))
            back_at = t + int(times[pos, depot])
            out.trips.append((clock, visits, back_at, legs))
            clock = back_at
    return out


def run_travel(model: EngineInput, k: int, trips: Sequence[Sequence[int]]) -> int | None:
    """Travel seconds of vehicle ``k`` driving ``trips``; ``None`` if any rule would break."""
    ev = model.vehicles[k]
    if len(trips) > ev.max_trips:
        return None
    times, big, depot = model.times[ev.kind], model.big, ev.location
    clock, travel = ev.start_s, 0
    for trip in trips:
        kg = sum(model.parts[p].demand[0] for p in trip)
        litres = sum(model.parts[p].demand[1] for p in trip)
        if kg > ev.capacity[0] or litres > ev.capacity[1]:
            return None
        pos = depot
        for p in trip:
            part = model.parts[p]
            leg = int(times[pos, part.location])
            clock += leg
            if leg >= big or clock > part.latest_s:
                return None
            clock += part.service_s
            travel += leg
            pos = part.location
        back = int(times[pos, depot])
        clock += back
        travel += back
        if back >= big or clock > ev.end_s:
            return None
    return travel


def _candidates(
    trips: list[list[int]], p: int, priority: Sequence[int], max_trips: int
) -> list[list[list[int]]]:
    """Every way to insert part ``p`` that keeps priorities non-increasing along the run."""
    q = priority[p]
    flat = [x for t in trips for x in t]
    out = []
    seen = 0
    for j, trip in enumerate(trips):
        for i in range(len(trip) + 1):
            before = flat[seen + i - 1] if seen + i > 0 else None
            after = flat[seen + i] if seen + i < len(flat) else None
            if (before is None or priority[before] >= q) and (
                after is None or priority[after] <= q
            ):
                out.append([*trips[:j], [*trip[:i], p, *trip[i:]], *trips[j + 1 :]])
        seen += len(trip)
    if len(trips) < max_trips:
        seen = 0
        for j in range(len(trips) + 1):
            before = flat[seen - 1] if seen > 0 else None
            after = flat[seen] if seen < len(flat) else None
            if (before is None or priority[before] >= q) and (
                after is None or priority[after] <= q
            ):
                out.append([*trips[:j], [p], *trips[j:]])
            if j < len(trips):
                seen += len(trips[j])
    return out


def _best_insertion(
    model: EngineInput,
    runs: list[list[list[int]]],
    base: list[int],
    p: int,
    priority: Sequence[int],
    vehicles: Sequence[int],
) -> tuple[int, int, list[list[int]]] | None:
    """(extra travel, vehicle, its new trips) of the cheapest feasible insertion of ``p``."""
    best: tuple[int, int, list[list[int]]] | None = None
    for k in vehicles:
        for cand in _candidates(runs[k], p, priority, model.vehicles[k].max_trips):
            cost = run_travel(model, k, cand)
            if cost is not None and (best is None or cost - base[k] < best[0]):
                best = (cost - base[k], k, cand)
    return best


def insert_unserved(
    model: EngineInput, runs: list[list[list[int]]], parts: Sequence[int], priority: Sequence[int]
) -> set[int]:
    """Insert ``parts`` (most critical, then earliest need-by first) where they cost least.

    Changes ``runs`` in place; returns the parts it placed. The
    :data:`_NEAREST_VEHICLES` vehicles with the closest depots are tried
    first, the others only when none of them can take the part.
    """
    placed: set[int] = set()
    if not parts or not model.vehicles:
        return placed
    base = [run_travel(model, k, r) or 0 for k, r in enumerate(runs)]
    depots = np.array([v.location for v in model.vehicles], dtype=np.int64)
    kinds = [v.kind for v in model.vehicles]
    for p in sorted(parts, key=lambda x: (-priority[x], model.parts[x].latest_s)):
        loc = model.parts[p].location
        reach = np.array([model.times[kind][d, loc] for kind, d in zip(kinds, depots, strict=True)])
        order = [int(k) for k in np.argsort(reach, kind="stable") if reach[k] < model.big]
        # The nearest vehicles first; every vehicle that can reach it only if none of them fits.
        best = _best_insertion(model, runs, base, p, priority, order[:_NEAREST_VEHICLES])
        if best is None:
            best = _best_insertion(model, runs, base, p, priority, order[_NEAREST_VEHICLES:])
        if best is not None:
            extra, k, cand = best
            runs[k] = cand
            base[k] += extra
            placed.add(p)
    return placed
