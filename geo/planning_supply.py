"""Supply bookkeeping for a plan (stock as arrays, lots in FEFO order, what is sent) and
the exact min-cost-flow call with its per-router cache of solved blocks.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow

from geo.planning_model import DepotRecord, PlanOptions, ReserveFloor, StockLine
from geo.routing import Router

__all__ = [
    "SolveCache",
    "Supply",
    "build_supply",
    "cache_for",
    "flat_at",
    "min_cost_max_flow",
    "ranges",
    "scatter",
]


@dataclass
class Supply:
    """Stock as arrays over (depot index, item index), lots in FEFO order, and what is sent.

    ``lot_*`` list every usable lot sorted by key (``depot * n_items + item``)
    and then first-expiry-first-out, so one key's lots are a contiguous run
    starting at unit ``key_base[key]`` of the cumulative lot layout.
    """

    items: list[str]
    on_hand: NDArray[np.int64]  # (depots, items)
    floor: NDArray[np.int64]  # (depots, items), 0 where no floor applies
    usable: NDArray[np.bool_]  # (depots,)
    lot_names: list[str]
    lot_end: NDArray[np.int64]  # cumulative units at the end of each lot
    key_base: NDArray[np.int64]  # (depots * items,) unit where the key's first lot starts
    sent: NDArray[np.int64] = field(init=False)

    def __post_init__(self) -> None:
        self.sent = np.zeros_like(self.on_hand)

    def available(self) -> NDArray[np.int64]:
        """What may still be sent: on hand, minus the floor, minus what is planned."""
        free = np.maximum(self.on_hand - self.floor, 0) - self.sent
        return np.where(self.usable[:, None], np.maximum(free, 0), 0)

    def held(self) -> NDArray[np.int64]:
        """Units still on hand but kept back by the floor."""
        left = np.minimum(self.on_hand - self.sent, self.floor)
        return np.where(self.usable[:, None], left, 0)

    def stocked(self) -> NDArray[np.bool_]:
        """Usable depots that hold the item at all (floor-held stock included)."""
        return self.usable[:, None] & (self.on_hand > 0)


def build_supply(
    depots: Sequence[DepotRecord],
    stock: Sequence[StockLine],
    floors: Sequence[ReserveFloor],
    items: list[str],
    options: PlanOptions,
    depots_out: frozenset[str],
) -> Supply:
    index = {d.code: i for i, d in enumerate(depots)}
    item_index = {item: a for a, item in enumerate(items)}
    m, n = len(depots), len(items)
    # (key, FEFO order, input position, quantity): plain tuples sort in C, and the
    # position keeps equal lots in input order.
    lines: list[tuple[int, bool, date, str, int, int]] = []
    now = options.now
    for k, (depot, item, lot, quantity, expires) in enumerate(stock):
        i = index.get(depot)
        a = item_index.get(item)
        if i is None or a is None or quantity <= 0:
            continue
        if now is not None and expires is not None and expires < now:
            continue  # expired: never issued, not counted as stock
        lines.append((i * n + a, expires is None, expires or date.max, lot, k, quantity))
    lines.sort()
    keys = np.array([x[0] for x in lines], dtype=np.int64)
    qty = np.array([x[5] for x in lines], dtype=np.int64)
    on_hand = np.zeros(m * n, dtype=np.int64)
    np.add.at(on_hand, keys, qty)
    lot_end = np.cumsum(qty)
    key_base = np.zeros(m * n, dtype=np.int64)
    if lines:
        first = np.searchsorted(keys, np.arange(m * n), side="left")
        key_base = np.concatenate([[0], lot_end])[first]
    floor = np.zeros((m, n), dtype=np.int64)
    for f in floors:
        i = index.get(f.depot)
        a = item_index.get(f.item)
        if i is None or a is None or depots[i].is_district_reserve or options.emergency:
            continue
        floor[i, a] = max(0, f.minimum)
    usable = np.array([not (d.out or d.code in depots_out) for d in depots], dtype=bool)
    return Supply(
        items,
        on_hand.reshape(m, n),
        floor,
        usable.reshape(m),
        [x[3] for x in lines],
        lot_end,
        key_base,
    )


class SolveCache:
    """The last solved min-cost-flow block of each (item, priority), for replans.

    A hit needs the whole block to be identical (arcs, capacities, costs and
    supply, compared element by element), so it returns exactly what solving
    it again would: a replan re-solves only the levels whose inputs changed,
    and its plan is the same as a cold one. Safe to share between threads.
    """

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        self._blocks: dict[tuple[str, str], tuple[NDArray[np.int64], ...]] = {}
        self._lock = threading.Lock()

    def get(
        self, slot: tuple[str, str], arrays: tuple[NDArray[np.int64], ...]
    ) -> NDArray[np.int64] | None:
        with self._lock:
            known = self._blocks.get(slot)
            if known is not None and all(
                a.shape == b.shape and np.array_equal(a, b)
                for a, b in zip(known, arrays, strict=False)
            ):
                self.hits += 1
                return known[-1]
            self.misses += 1
            return None

    def clear(self) -> None:
        """Forget every solved block (the next plan solves every level again)."""
        with self._lock:
            self._blocks.clear()

    def put(
        self, slot: tuple[str, str], arrays: tuple[NDArray[np.int64], ...], flows: NDArray[np.int64]
    ) -> None:
        flows.setflags(write=False)
        with self._lock:
            self._blocks[slot] = (*arrays, flows)


# One cache per Router: a caller that keeps its router for replans (so that
# unaffected shortest-path trees are reused) gets its unchanged levels reused
# too, and a fresh router starts cold.
_ROUTER_CACHES: weakref.WeakKeyDictionary[Router, SolveCache] = weakref.WeakKeyDictionary()
_ROUTER_CACHES_LOCK = threading.Lock()


def cache_for(router: Router) -> SolveCache:
    with _ROUTER_CACHES_LOCK:
        cache = _ROUTER_CACHES.get(router)
        if cache is None:
            cache = _ROUTER_CACHES[router] = SolveCache()
        return cache


def min_cost_max_flow(
    tails: NDArray[np.int64],
    heads: NDArray[np.int64],
    caps: NDArray[np.int64],
    costs: NDArray[np.int64],
    supplies: NDArray[np.int64],
    *,
    cache: SolveCache | None = None,
    slot: tuple[str, str] = ("", ""),
) -> NDArray[np.int64]:
    """Flow on every arc of a max flow at min cost from the supply nodes to the demand nodes.

    Node ``i`` has supply ``supplies[i]`` (negative: demand). The totals need
    not balance: OR-Tools sends the most the arcs allow, at least cost.
    ``SimpleMinCostFlow`` is deterministic: the same arrays give the same flows.
    """
    arrays = (tails, heads, caps, costs, supplies)
    if cache is not None:
        hit = cache.get(slot, arrays)
        if hit is not None:
            return hit
    solver = min_cost_flow.SimpleMinCostFlow()
    solver.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    solver.set_nodes_supplies(np.arange(supplies.size), supplies)
    status = solver.solve_max_flow_with_min_cost()
    if status != solver.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    flows = np.asarray(solver.flows(np.arange(len(tails))), dtype=np.int64)
    if cache is not None:
        cache.put(slot, arrays, flows)
    return flows


def flat_at(matrix: NDArray[Any], rows: NDArray[np.int64], cols: NDArray[np.int64]) -> NDArray[Any]:
    """``matrix[rows, cols]`` (index arrays broadcast) as one flat gather, which numpy
    does far faster than a two-dimensional one."""
    return matrix.ravel()[rows * matrix.shape[1] + cols]


def ranges(starts: NDArray[np.int64], ends: NDArray[np.int64]) -> NDArray[np.int64]:
    """``starts[0]:ends[0]``, ``starts[1]:ends[1]``, ... end to end, in one array."""
    counts = ends - starts
    offset = np.cumsum(counts) - counts
    return np.repeat(starts - offset, counts) + np.arange(int(counts.sum()))


def scatter(shape: tuple[int, int], at: NDArray[np.int64], values: NDArray[Any], fill: Any) -> Any:
    """A grid of ``shape`` filled with ``fill``, ``values`` at the flat positions ``at``."""
    grid = np.full(shape[0] * shape[1], fill, dtype=values.dtype)
    grid[at] = values
    return grid.reshape(shape)
