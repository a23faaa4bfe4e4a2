"""Supply-transfer planning: which depot sends how much of what to whom.

Two policies over the same inputs:

``optimal``
    Per item, priorities strictly first and lexicographically: the critical
    demands are served as fully as possible (maximum flow) at the minimum total
    delivery time (sum over units of travel seconds); then the high demands
    with the supply that is left, then the normal ones. Each level is one exact
    min-cost max-flow (OR-Tools ``SimpleMinCostFlow``) with integer costs
    (travel seconds rounded half up, :func:`cost_of`). Within a level, among
    equal-cost plans the solver's choice is deterministic (inputs are sorted)
    but not tuned for the later levels.
``nearest``
    Each demand in priority order (then input order) takes what it can from
    its nearest reachable depot with stock above the floor, then the next
    nearest, and so on: the usual manual practice, kept as a baseline.

Rules shared by both:

* a depot that is out (record flag or ``RoadState.depots_out``) sends nothing;
* a street depot keeps its reserve floor unless ``emergency``; the district
  reserve may always be emptied;
* lots are issued first-expiry-first-out; lots that expired before ``now``
  are never sent (nor counted as stock); lots without expiry go last;
* ``need_by``: when ``deliver_late`` (the default) late deliveries are still
  made, since in an emergency late supplies beat none, and every late unit is
  reported in ``Plan.late`` with reason ``late``; with ``deliver_late=False`` a
  depot that can't arrive by ``need_by`` is not used for that demand, and
  units that only such depots could have sent are unmet with reason ``late``.

Every unmet unit gets a reason (``no_stock``, ``unreachable``,
``held_by_reserve_floor``, ``late``), what would have been needed, and an
explanation; every transfer says how its depot compares with the next best.
"""

from __future__ import annotations

import gc
import math
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import repeat
from operator import itemgetter
from typing import Any, Literal, NamedTuple, TypeVar

import numpy as np
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow

from geo.network import RoadState, Snapper, Vehicle
from geo.routing import Router

Priority = Literal["critical", "high", "normal"]
Policy = Literal["optimal", "nearest"]
Reason = Literal["no_stock", "unreachable", "held_by_reserve_floor", "late"]
PRIORITIES: tuple[Priority, ...] = ("critical", "high", "normal")
REASONS: tuple[Reason, ...] = ("no_stock", "unreachable", "held_by_reserve_floor", "late")
PRIORITY_RANK: dict[str, int] = {p: i for i, p in enumerate(PRIORITIES)}
_T = TypeVar("_T")


# ---------------------------------------------------------------------------
# Input and output records
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DepotRecord:
    """A depot; give its road ``node`` or its ``lat``/``lon`` (snapped to the network)."""

    code: str
    node: int | None = None
    lat: float | None = None
    lon: float | None = None
    is_district_reserve: bool = False
    out: bool = False


class StockLine(NamedTuple):
    """On-hand quantity of one lot of one item at one depot.

    Input records are named tuples, like the plan's records: a plan reads
    every field of hundreds or thousands of them, and tuples unpack or
    transpose (``zip(*lines)``) in one C-level step.
    """

    depot: str
    item: str
    lot: str
    quantity: int
    expires: date | None = None


@dataclass(frozen=True)
class ReserveFloor:
    """The reserve standard: the minimum a (street) depot must keep of an item."""

    depot: str
    item: str
    minimum: int


class Demand(NamedTuple):
    """A community's request; ``need_by_s`` is seconds from the planning moment.

    A named tuple (see :class:`StockLine`): the planner takes the demands'
    fields as columns, all in one transpose.
    """

    id: str
    community: str
    item: str
    quantity: int
    priority: Priority = "normal"
    need_by_s: float | None = None
    node: int | None = None
    lat: float | None = None
    lon: float | None = None


class _DemandColumns(NamedTuple):
    """The demands' fields as columns, in input order."""

    ids: Sequence[str]
    communities: Sequence[str]
    items: Sequence[str]
    quantities: Sequence[int]
    priorities: Sequence[str]
    need_by: Sequence[float | None]
    nodes: Sequence[int | None]
    lats: Sequence[float | None]
    lons: Sequence[float | None]

    @classmethod
    def of(cls, demands: Sequence[Demand]) -> _DemandColumns:
        if not demands:
            return cls((), (), (), (), (), (), (), (), ())
        return cls(*zip(*demands, strict=True))


@dataclass(frozen=True)
class PlanOptions:
    """How to plan; defaults follow the scenario format's defaults."""

    policy: Policy = "optimal"
    vehicle_speed_kmh: float = 25.0
    handling_minutes: float = 10.0
    emergency: bool = False
    deliver_late: bool = True
    now: date | None = None
    vehicle_kind: str = "van"
    max_travel_s: float | None = None  # search horizon; farther depots count as unreachable

    @property
    def handling_s(self) -> float:
        return self.handling_minutes * 60.0

    @property
    def vehicle(self) -> Vehicle:
        return Vehicle(self.vehicle_kind, self.vehicle_speed_kmh)


class Transfer(NamedTuple):
    """Send ``quantity`` of ``item`` from ``depot`` for ``demand_id``.

    Plan records are named tuples: immutable and hashable like frozen
    dataclasses, but a plan builds thousands of them and a tuple costs a
    third of an object with its own ``__dict__`` (and leaves the garbage
    collector less to walk).
    """

    depot: str
    demand_id: str
    community: str
    item: str
    priority: Priority
    quantity: int
    lots: tuple[tuple[str, int], ...]
    travel_s: float
    eta_s: float
    late: bool
    next_best_depot: str | None  # the fastest other depot that held the item, if any
    next_best_s: float | None  # its travel time
    route: tuple[int, ...] = ()
    route_length_m: float = 0.0

    @property
    def explanation(self) -> str:
        """This depot's time against the next best one's (built on demand: plans are big)."""
        text = f"{self.depot} is {_minutes(self.travel_s)} away"
        if self.next_best_depot is None or self.next_best_s is None:
            return text + "; no other depot with stock can reach it"
        t2 = self.next_best_s
        if t2 >= self.travel_s:
            gap = _minutes(t2 - self.travel_s)
            return text + f"; next best {self.next_best_depot} {_minutes(t2)} (+{gap})"
        return (
            text + f"; faster {self.next_best_depot} ({_minutes(t2)}) had its available stock "
            "assigned to higher-priority demands or to demands where it saves more time"
        )


class UnmetLine(NamedTuple):
    """Units of a demand the plan could not send, and why."""

    demand_id: str
    community: str
    item: str
    priority: Priority
    quantity: int
    reason: Reason
    # The figures behind the reason, a tag first (see _unmet_text): the texts
    # are built on demand, since a replay or a drill reads only the reasons.
    detail: tuple[Any, ...]

    @property
    def needed(self) -> str:
        """What would have been needed to send these units."""
        return _unmet_text(self)[0]

    @property
    def explanation(self) -> str:
        """Why they could not be sent."""
        return _unmet_text(self)[1]


def _unmet_text(line: UnmetLine) -> tuple[str, str]:
    """(needed, explanation) of an unmet line, from its reason's figures."""
    n, item, community = line.quantity, line.item, line.community
    tag, *figures = line.detail
    if tag == "none_held":
        (out_codes,) = figures
        needed = f"{n} {item} at a depot that can reach {community}"
        why = f"no usable depot holds {item}"
        if out_codes:
            why += f" ({', '.join(out_codes)} out of service)"
    elif tag == "unreachable":
        n_stocked, names = figures
        needed = f"an open route from a depot holding {item} (e.g. {names[0]})"
        why = (
            f"{n_stocked} depots hold {item} ({', '.join(names)}) but none can "
            f"reach {community}: roads closed or beyond the planning horizon"
        )
    elif tag == "late":
        fastest, eta, need_by = figures
        needed = f"need_by of at least {_minutes(eta)}"
        why = (
            f"the fastest depot {fastest} would arrive in "
            f"{_minutes(eta)}, after need_by {_minutes(need_by)}"
        )
    elif tag == "floor":
        depot, travel_s, kept, release = figures
        needed = f"an emergency release of {release} {item} from {depot} (or nearby depots)"
        why = (
            f"nearest depot with stock {depot} ({_minutes(travel_s)}) is held by its "
            f"reserve floor ({kept} kept)"
        )
    else:
        (n_candidates,) = figures
        needed = f"{n} more {item} within reach of {community}"
        why = (
            f"all {item} within reach ({n_candidates} depots) is assigned to other "
            "demands of equal or higher priority"
        )
    return needed, f"needs {n} more {item}; " + why


class LateLine(NamedTuple):
    """Units that are sent but arrive after the demand's ``need_by``."""

    demand_id: str
    community: str
    item: str
    quantity: int
    eta_s: float
    need_by_s: float
    reason: Reason
    explanation: str


@dataclass(frozen=True)
class Plan:
    """The result: transfers, what is unmet or late, the objective and timings."""

    policy: Policy
    transfers: tuple[Transfer, ...]
    unmet: tuple[UnmetLine, ...]
    late: tuple[LateLine, ...]
    objective_s: float  # sum over sent units of travel seconds
    objective_cost: int  # the same with the solver's integer costs (see cost_of)
    runtime_s: float
    timings: Mapping[str, float] = field(default_factory=dict)
    # (item, priority) -> (units sent, integer cost) of each lexicographic level
    level_costs: Mapping[tuple[str, str], tuple[int, int]] = field(default_factory=dict)

    @property
    def delivered_units(self) -> int:
        return sum(t.quantity for t in self.transfers)

    @property
    def unmet_units(self) -> int:
        return sum(u.quantity for u in self.unmet)


# Plan records are built in bulk from their columns by tuple.__new__, exactly
# as their constructor builds them but without a Python call per record.
_new_tuple: Callable[[type[Any], Iterable[Any]], Any] = tuple.__new__


def _pick(values: Sequence[_T], at: list[int]) -> list[_T]:
    """``[values[k] for k in at]``, in one C-level call."""
    if len(at) < 2:
        return [values[k] for k in at]
    return list(itemgetter(*at)(values))


def cost_of(seconds: float) -> int:
    """The integer arc cost of a travel time: seconds rounded half up (deterministic)."""
    return math.floor(seconds + 0.5)


# ---------------------------------------------------------------------------
# Supply bookkeeping
# ---------------------------------------------------------------------------


@dataclass
class _Supply:
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


def _build_supply(
    depots: Sequence[DepotRecord],
    stock: Sequence[StockLine],
    floors: Sequence[ReserveFloor],
    items: list[str],
    options: PlanOptions,
    depots_out: frozenset[str],
) -> _Supply:
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
    return _Supply(
        items,
        on_hand.reshape(m, n),
        floor,
        usable.reshape(m),
        [x[3] for x in lines],
        lot_end,
        key_base,
    )


# ---------------------------------------------------------------------------
# The two policies, one priority level of one item at a time
# ---------------------------------------------------------------------------

Allocation = tuple[int, int, int]  # (depot index, demand index, quantity)


class _Arcs:
    """The finite entries of a (depots x columns) travel matrix, as a (columns x k) grid.

    Row ``c`` lists column ``c``'s reachable depots (positions in code order)
    sorted by (integer cost, depot code), the solver's stable processing order
    and the order :func:`_cover_prune` needs; ``k`` is the most any column
    has, and shorter rows are padded with ``valid`` False. A level's arcs are
    then a few whole-grid operations on its demands' rows. With a planning
    horizon few depots reach each place, and ``k`` stays that small.
    """

    def __init__(self, times: NDArray[np.float64], code_order: NDArray[np.int64]) -> None:
        finite = np.isfinite(times[code_order])
        cols, rows = np.nonzero(finite.T)  # by (column, row)
        t = _at(times, code_order[rows], cols)
        costs = np.floor(t + 0.5).astype(np.int64)
        order = np.lexsort((costs, cols))  # stable: equal costs stay in code order
        counts = np.bincount(cols, minlength=times.shape[1])
        width = int(counts.max(initial=0))
        # Each entry's place in its column's row of the grid.
        slot = _ranges(np.zeros_like(counts), counts)
        at = cols[order] * width + slot
        shape = (times.shape[1], width)
        self.rows = _scatter(shape, at, rows[order], 0)
        self.valid = _scatter(shape, at, np.ones(cols.size, dtype=bool), False)
        self.costs = _scatter(shape, at, costs[order], 0)
        self.times = _scatter(shape, at, t[order], np.inf)


def _scatter(shape: tuple[int, int], at: NDArray[np.int64], values: NDArray[Any], fill: Any) -> Any:
    """A grid of ``shape`` filled with ``fill``, ``values`` at the flat positions ``at``."""
    grid = np.full(shape[0] * shape[1], fill, dtype=values.dtype)
    grid[at] = values
    return grid.reshape(shape)


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


def _cache_for(router: Router) -> SolveCache:
    with _ROUTER_CACHES_LOCK:
        cache = _ROUTER_CACHES.get(router)
        if cache is None:
            cache = _ROUTER_CACHES[router] = SolveCache()
        return cache


def _min_cost_max_flow(
    tails: NDArray[np.int64],
    heads: NDArray[np.int64],
    caps: NDArray[np.int64],
    costs: NDArray[np.int64],
    supplies: NDArray[np.int64],
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


def _at(matrix: NDArray[Any], rows: NDArray[np.int64], cols: NDArray[np.int64]) -> NDArray[Any]:
    """``matrix[rows, cols]`` (index arrays broadcast) as one flat gather, which numpy
    does far faster than a two-dimensional one."""
    return matrix.ravel()[rows * matrix.shape[1] + cols]


def _ranges(starts: NDArray[np.int64], ends: NDArray[np.int64]) -> NDArray[np.int64]:
    """``starts[0]:ends[0]``, ``starts[1]:ends[1]``, ... end to end, in one array."""
    counts = ends - starts
    offset = np.cumsum(counts) - counts
    return np.repeat(starts - offset, counts) + np.arange(int(counts.sum()))


def _cover_prune(supply: NDArray[np.int64], bound: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Which arcs an optimal plan needs: per demand, only its cheapest depots until they
    hold ``bound`` units (its block's maximum flow, min(supply, wanted)).

    ``supply`` is a (demands x depots) grid, each row cost-sorted, holding each
    usable arc's depot supply (0 where there is no arc). An arc is dropped when
    the cheaper arcs of its demand already reach depots holding ``bound``
    units. This is exact: if an optimal flow sent a unit of demand ``j`` on a
    dropped arc from depot ``q``, the cheaper depots ``S`` of ``j`` ship at
    most ``bound - 1`` units in all yet hold at least ``bound``, so one of them
    has a unit to spare (and its arc to ``j`` is not saturated, as ``j`` still
    takes a unit from ``q``); moving the unit there keeps the flow and costs
    no more. Repeating gives an optimal flow on the kept arcs alone: same
    maximum flow, same minimum cost.
    """
    before = np.cumsum(supply, axis=1) - supply
    keep: NDArray[np.bool_] = before < bound[:, None]
    return keep


def _one_depot(
    supply: int, wanted: NDArray[np.int64], costs: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Max flow at min cost when one depot serves every arc: cheapest demands first.

    With a single capacity and unit costs per demand, filling demands in
    order of cost (ties in arc order) is optimal: any plan can swap a unit
    from a dearer demand to a cheaper unfilled one without costing more.
    """
    order = np.argsort(costs, kind="stable")
    want = wanted[order]
    take = np.clip(supply - (np.cumsum(want) - want), 0, want)
    out = np.empty_like(take)
    out[order] = take
    return out


def _one_demand(supply: NDArray[np.int64], wanted: int) -> NDArray[np.int64]:
    """Max flow at min cost for a single demand: its arcs (cost-sorted) filled in order."""
    return np.clip(wanted - (np.cumsum(supply) - supply), 0, supply)


def _solve_level_optimal(
    avail: NDArray[np.int64],
    wanted: NDArray[np.int64],
    rows: NDArray[np.int64],
    owner: NDArray[np.int64],
    costs: NDArray[np.int64],
    blocks: Sequence[tuple[int, int, int, int, int]],
    cache: SolveCache | None,
    priority: str,
    items: Sequence[str],
) -> NDArray[np.int64]:
    """Max flow at min cost of each item of one priority level: the flow on each arc.

    ``avail`` is (depots in code order x items); ``wanted`` per demand of the
    level; arcs (depot row, demand position, integer cost) are grouped by item.
    ``blocks`` lists ``(item, demands d0:d1, arcs s0:s1)``. Items never share
    supply, so each is its own exact ``SimpleMinCostFlow`` (separate small
    solves are faster than one joint one); the arcs of all of them are laid
    out in one pass, block after block.
    """
    flows = np.zeros(rows.size, dtype=np.int64)
    m = avail.shape[0]
    todo = []
    # An arc means supply and demand: blocks with none have nothing to plan. The
    # blocks' arc ranges tile the arcs, so per-block reductions run all at once.
    full = [b for b in blocks if b[4] > b[3]]
    if not full:
        return flows
    first_arc = np.array([b[3] for b in full], dtype=np.int64)
    last_arc = np.array([b[4] for b in full], dtype=np.int64) - 1
    one_depot = np.minimum.reduceat(rows, first_arc) == np.maximum.reduceat(rows, first_arc)
    one_demand = owner[first_arc] == owner[last_arc]
    for block, lone_depot, lone_demand in zip(
        full, one_depot.tolist(), one_demand.tolist(), strict=True
    ):
        item, lo, hi, first, last = block
        depots = rows[first:last]
        if lone_depot:
            flows[first:last] = _one_depot(
                int(avail[depots[0], item]), wanted[owner[first:last]], costs[first:last]
            )
        elif lone_demand:
            flows[first:last] = _one_demand(avail[depots, item], int(wanted[owner[first]]))
        else:
            todo.append(block)
    if not todo:
        return flows
    # Every block's arcs at once: nodes 0..m-1 are the depots (supply: what each
    # holds of the item), m.. the block's demands (supply: minus what each wants).
    a, d0, _, s0, s1 = (np.array(x, dtype=np.int64) for x in zip(*todo, strict=True))
    of_block = np.repeat(np.arange(len(todo)), s1 - s0)
    arc = _ranges(s0, s1)
    tails, heads, cost = rows[arc], owner[arc] - d0[of_block] + m, costs[arc]
    caps = np.minimum(_at(avail, tails, a[of_block]), wanted[owner[arc]])
    held = avail.T  # (items, depots)
    base = 0
    for item, lo, hi, first, last in todo:
        end = base + last - first
        supplies = np.concatenate([held[item], -wanted[lo:hi]])
        flows[first:last] = _min_cost_max_flow(
            tails[base:end],
            heads[base:end],
            caps[base:end],
            cost[base:end],
            supplies,
            cache,
            (items[item], priority),
        )
        base = end
    return flows


def _solve_level_nearest(
    supply: Sequence[int],
    wanted: Sequence[int],
    times: NDArray[np.float64],
    allowed: NDArray[np.bool_],
    depot_codes: Sequence[str],
) -> list[Allocation]:
    """Each demand in order from its nearest depots with stock, greedily."""
    left = list(supply)
    out: list[Allocation] = []
    for j, want in enumerate(wanted):
        candidates = sorted(
            (i for i in range(len(left)) if allowed[i, j] and left[i] > 0),
            key=lambda i: (times[i, j], depot_codes[i]),
        )
        for i in candidates:
            if want <= 0:
                break
            take = min(want, left[i])
            left[i] -= take
            want -= take
            out.append((i, j, take))
    return out


# ---------------------------------------------------------------------------
# Explanations
# ---------------------------------------------------------------------------


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


class _Entries:
    """The finite entries of a (depots x columns) matrix, sorted by (column, time, depot).

    Per column, the first entry meeting a condition is the fastest depot
    meeting it, ties to the lower depot index (as an argmin over depots).
    """

    def __init__(self, times: NDArray[np.float64]) -> None:
        c, r = np.nonzero(np.isfinite(times.T))  # by (column, row)
        t = _at(times, r, c)
        order = np.lexsort((t, c))  # stable: equal times stay in row order
        self.rows, self.cols, self.times = r[order], c[order], t[order]
        counts = np.bincount(self.cols, minlength=times.shape[1])
        self.ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def gather(self, cols: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Entry indices of the given columns, and for each its position in ``cols``."""
        start, end = self.ptr[cols], self.ptr[cols + 1]
        return _ranges(start, end), np.repeat(np.arange(len(cols)), end - start)


def _first_where(cond: NDArray[np.bool_], owner: NDArray[np.int64], n: int) -> NDArray[np.int64]:
    """Per group (``owner`` non-decreasing): the first index where ``cond`` holds, else -1."""
    out = np.full(n, -1, dtype=np.int64)
    pos = np.flatnonzero(cond)
    if pos.size:
        group = owner[pos]
        first = np.ones(pos.size, dtype=bool)
        first[1:] = group[1:] != group[:-1]
        out[group[first]] = pos[first]
    return out


def _next_best(
    entries: _Entries,
    dep: NDArray[np.int64],
    item: NDArray[np.int64],
    col: NDArray[np.int64],
    stocked: NDArray[np.bool_],
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Per transfer (depot, item, column): the fastest other stocked depot and its time.

    Ties go to the lower depot index; ``-1`` / ``inf`` when there is none. The
    two fastest stocked depots of each (item, column) are found once.
    """
    out_row = np.full(dep.size, -1, dtype=np.int64)
    out_t = np.full(dep.size, np.inf)
    if dep.size == 0:
        return out_row, out_t
    r, c, t = entries.rows, entries.cols, entries.times
    used, slot = np.unique(item, return_inverse=True)
    slot = np.asarray(slot, dtype=np.int64).ravel()
    # The two best entries of each (item used, column), flat: ((item * columns) + column) * 2.
    n_cols = len(entries.ptr) - 1
    best = np.full(used.size * n_cols * 2, -1, dtype=np.int64)
    # Rank of each stocked entry among its column's stocked entries, all items at once.
    held = _at(stocked, r[None, :], used[:, None])  # (items used, entries)
    counted = np.zeros((used.size, r.size + 1), dtype=np.int32)
    np.cumsum(held, axis=1, out=counted[:, 1:])
    rank = counted[:, 1:] - np.take(counted, entries.ptr[c], axis=1) - 1
    a, e = np.nonzero(held & (rank < 2))
    best[(a * n_cols + c[e]) * 2 + _at(rank, a, e)] = e
    at = (slot * n_cols + col) * 2
    pick = best[at]
    pick = np.where((pick >= 0) & (r[np.maximum(pick, 0)] == dep), best[at + 1], pick)
    found = pick >= 0
    out_row[found] = r[pick[found]]
    out_t[found] = t[pick[found]]
    return out_row, out_t


def _unmet_lines(
    entries: _Entries,
    missing: NDArray[np.int64],
    short: NDArray[np.int64],
    demands: Sequence[Demand],
    solved: _Solved,
    depots: Sequence[DepotRecord],
    options: PlanOptions,
) -> list[UnmetLine]:
    """Reasons for the unmet demands ``missing``, vectorised over (demand, reachable depot)."""
    supply = solved.supply
    k_all = missing.size
    item_of = solved.item[missing]
    holder_mat = supply.stocked()
    held_mat = supply.held()
    idx, owner = entries.gather(solved.col[missing])
    rows, t = entries.rows[idx], entries.times[idx]
    arc_item = item_of[owner]
    reach = _at(holder_mat, rows, arc_item)
    held = _at(held_mat, rows, arc_item)
    need_by = solved.need_by[missing]
    on_time = reach & ~(t + options.handling_s > need_by[owner])
    late_applies = np.logical_and(not options.deliver_late, ~np.isnan(need_by))
    candidates = np.where(late_applies[owner], on_time, reach)
    fastest = _first_where(reach, owner, k_all)
    nearest_held = _first_where(candidates & (held > 0), owner, k_all)
    any_holder: list[bool] = np.asarray(holder_mat.any(axis=0)).tolist()
    has_reach: list[bool] = np.asarray(np.bincount(owner[reach], minlength=k_all) > 0).tolist()
    has_on_time: list[bool] = np.asarray(np.bincount(owner[on_time], minlength=k_all) > 0).tolist()
    n_candidates: list[int] = np.bincount(owner[candidates], minlength=k_all).tolist()
    released = np.zeros(k_all, dtype=np.int64)
    np.add.at(released, owner[candidates], held[candidates])
    releasable: list[int] = released.tolist()
    late_rule: list[bool] = np.atleast_1d(late_applies).tolist()
    rows_x = np.append(rows, -1)  # index -1: no such depot
    t_x = np.append(t, np.inf)
    fastest_l, fastest_tl = rows_x[fastest].tolist(), t_x[fastest].tolist()
    held_l, held_tl = rows_x[nearest_held].tolist(), t_x[nearest_held].tolist()
    need_l = need_by.tolist()
    floor = supply.floor.tolist()
    codes = [d.code for d in depots]
    out: list[UnmetLine] = []
    for k, (j, n, a) in enumerate(
        zip(missing.tolist(), short.tolist(), item_of.tolist(), strict=True)
    ):
        demand = demands[j]
        detail: tuple[Any, ...]
        if not any_holder[a]:
            on_hand = supply.on_hand[:, a]
            reason: Reason = "no_stock"
            detail = ("none_held", tuple(codes[i] for i in np.flatnonzero(on_hand > 0).tolist()))
        elif not has_reach[k]:
            stocked = np.flatnonzero(holder_mat[:, a])
            reason = "unreachable"
            detail = ("unreachable", stocked.size, tuple(codes[i] for i in stocked[:5].tolist()))
        elif late_rule[k] and not has_on_time[k]:
            reason = "late"
            eta = fastest_tl[k] + options.handling_s
            detail = ("late", codes[fastest_l[k]], eta, need_l[k])
        elif math.isfinite(held_tl[k]):
            i = held_l[k]
            reason = "held_by_reserve_floor"
            detail = ("floor", codes[i], held_tl[k], floor[i][a], min(n, releasable[k]))
        else:
            reason = "no_stock"
            detail = ("taken", n_candidates[k])
        out.append(
            UnmetLine(demand.id, demand.community, demand.item, demand.priority, n, reason, detail)
        )
    return out


# ---------------------------------------------------------------------------
# Solving on a given travel-time matrix
# ---------------------------------------------------------------------------


RouteFor = Callable[[int, int], tuple[tuple[int, ...], float]]
# Each transfer's route as two columns: node ids, and metres.
Routes = tuple[Sequence[tuple[int, ...]], Sequence[float]]


def _columns_of(walked: Sequence[tuple[tuple[int, ...], float]]) -> Routes:
    """(node ids, metres) pairs as two columns."""
    if not walked:
        return [], []
    nodes, lengths = zip(*walked, strict=True)
    return nodes, lengths


@dataclass
class _Solved:
    """What the allocation decided, as arrays over transfers in their final order."""

    dep: NDArray[np.int64]
    dem: NDArray[np.int64]
    qty: NDArray[np.int64]
    travel: NDArray[np.float64]
    served: NDArray[np.int64]
    level_costs: dict[tuple[str, str], tuple[int, int]]
    supply: _Supply
    item: NDArray[np.int64]  # item index per demand
    col: NDArray[np.int64]  # matrix column per demand
    quantity: NDArray[np.int64]  # per demand
    need_by: NDArray[np.float64]  # per demand, nan where there is none
    columns: _DemandColumns


def solve_transfers(
    depots: Sequence[DepotRecord],
    stock: Sequence[StockLine],
    floors: Sequence[ReserveFloor],
    demands: Sequence[Demand],
    times: NDArray[np.float64],
    options: PlanOptions = PlanOptions(),
    depots_out: frozenset[str] = frozenset(),
    route_for: RouteFor | None = None,
) -> Plan:
    """Plan on a given (depots x demands) matrix of travel seconds (``inf`` = no route).

    ``route_for(depot index, demand index)`` gives a transfer's route (node ids
    and metres); :func:`plan_transfers` supplies it from the road network.
    Without it transfers carry no route; everything else is the same.
    """
    started = time.perf_counter()
    times = np.asarray(times, dtype=float).reshape(len(depots), len(demands))
    solved = _solve(
        depots, stock, floors, demands, times, np.arange(len(demands)), options, depots_out
    )
    allocated = time.perf_counter()
    routes: Routes | None = None
    if route_for is not None:
        by_pair: dict[tuple[int, int], tuple[tuple[int, ...], float]] = {}
        walked = []
        for pair in zip(solved.dep.tolist(), solved.dem.tolist(), strict=True):
            if pair not in by_pair:
                by_pair[pair] = route_for(*pair)
            walked.append(by_pair[pair])
        routes = _columns_of(walked)
    routed = time.perf_counter()
    plan = _finish(solved, depots, demands, times, options, routes)
    done = time.perf_counter()
    return replace(
        plan,
        runtime_s=done - started,
        timings={
            "solve_s": (allocated - started) + (done - routed),
            "routes_s": routed - allocated,
        },
    )


def _solve(
    depots: Sequence[DepotRecord],
    stock: Sequence[StockLine],
    floors: Sequence[ReserveFloor],
    demands: Sequence[Demand],
    times: NDArray[np.float64],
    demand_col: NDArray[np.int64],
    options: PlanOptions,
    depots_out: frozenset[str],
    cache: SolveCache | None = None,
    columns: _DemandColumns | None = None,
) -> _Solved:
    """Run the policy level by level on ``times`` (depots x columns).

    Demand ``j`` reads column ``demand_col[j]``, so demands at one place share
    a column. Items never share supply, so each (priority, item) level is its
    own problem; levels run strictly in priority order. The arcs of all items
    of a priority are gathered at once, then each item's block is solved.
    """
    m, n_dem = len(depots), len(demands)
    fields = _DemandColumns.of(demands) if columns is None else columns
    d_rank = np.array(
        list(map(PRIORITY_RANK.get, fields.priorities, repeat(-1, n_dem))), dtype=np.int64
    )
    d_qty = np.array(fields.quantities, dtype=np.int64)
    _check_inputs(depots, demands, fields, bool(n_dem and (d_rank.min() < 0 or d_qty.min() < 0)))
    items = sorted(set(fields.items))
    n_items = max(len(items), 1)
    item_index = {item: a for a, item in enumerate(items)}
    d_item = np.array(list(map(item_index.__getitem__, fields.items)), dtype=np.int64)
    d_need = np.array(fields.need_by, dtype=float)  # None reads as nan
    supply = _build_supply(depots, stock, floors, items, options, depots_out)
    codes = [d.code for d in depots]
    # Stable processing order: depots by code, demands by (priority, item, input order).
    code_order = np.array(sorted(range(m), key=codes.__getitem__), dtype=np.int64)
    code_pos = np.empty(m, dtype=np.int64)
    code_pos[code_order] = np.arange(m)
    optimal = options.policy == "optimal"
    arcs = _Arcs(times, code_order) if optimal else None
    served = np.zeros(n_dem, dtype=np.int64)
    level_costs: dict[tuple[str, str], tuple[int, int]] = {}
    parts: list[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]] = []
    group = d_rank * n_items + d_item
    by_group = np.argsort(group, kind="stable")
    sorted_group = group[by_group]
    for rank in np.unique(d_rank).tolist():
        lo, hi = np.searchsorted(sorted_group, [rank * n_items, (rank + 1) * n_items])
        level = by_group[lo:hi]
        level_items = d_item[level]
        present = np.unique(level_items)
        item_lo = np.searchsorted(level_items, present, side="left").tolist()
        item_hi = np.searchsorted(level_items, present, side="right").tolist()
        wanted = d_qty[level] - served[level]
        avail = supply.available()[code_order]  # (code order, items)
        flow_of = np.zeros(n_items, dtype=np.int64)
        cost_of_item = np.zeros(n_items, dtype=np.int64)
        if arcs is not None:
            cols = demand_col[level]
            grid_rows = np.take(arcs.rows, cols, axis=0)  # (demands, depots): cost-sorted
            keep = np.take(arcs.valid, cols, axis=0) & (wanted > 0)[:, None]
            supply_at = _at(avail, grid_rows, level_items[:, None])
            keep &= supply_at > 0
            if not options.deliver_late:
                need = d_need[level][:, None]
                arrive = np.take(arcs.times, cols, axis=0) + options.handling_s
                keep &= np.isnan(need) | (arrive <= need)
            # Only the arcs an optimal plan may need (exact, see _cover_prune).
            want_of_item = np.bincount(level_items, weights=wanted, minlength=n_items)
            bound = np.minimum(avail.sum(axis=0), want_of_item.astype(np.int64))
            keep &= _cover_prune(np.where(keep, supply_at, 0), bound[level_items])
            owner = np.nonzero(keep)[0]
            costs = np.take(arcs.costs, cols, axis=0)[keep]
            rows, arc_item = grid_rows[keep], level_items[owner]
            # Arcs follow the level's demands, which are grouped by item.
            arc_lo = np.searchsorted(owner, item_lo, side="left").tolist()
            arc_hi = np.searchsorted(owner, item_hi, side="left").tolist()
            blocks = list(zip(present.tolist(), item_lo, item_hi, arc_lo, arc_hi, strict=True))
            flows = _solve_level_optimal(
                avail, wanted, rows, owner, costs, blocks, cache, PRIORITIES[rank], items
            )
            hit = np.flatnonzero(flows > 0)
            dep, dem, q, a_of = code_order[rows[hit]], level[owner[hit]], flows[hit], arc_item[hit]
            np.add.at(cost_of_item, a_of, q * costs[hit])
        else:
            chunks = []
            order_codes = [codes[i] for i in code_order.tolist()]
            for a, d0, d1 in zip(present.tolist(), item_lo, item_hi, strict=True):
                cols = level[d0:d1]
                sub = times[np.ix_(code_order, demand_col[cols])]
                allowed = np.isfinite(sub)
                if not options.deliver_late:
                    allowed &= ~(sub + options.handling_s > d_need[cols][None, :])
                got = _solve_level_nearest(
                    avail[:, a].tolist(), wanted[d0:d1].tolist(), sub, allowed, order_codes
                )
                arr = np.array(got, dtype=np.int64).reshape(-1, 3)
                chunks.append(np.stack([arr[:, 0], arr[:, 1] + d0, arr[:, 2]], axis=1))
            arr = np.concatenate(chunks)
            dep, dem, q = code_order[arr[:, 0]], level[arr[:, 1]], arr[:, 2]
            a_of = d_item[dem]
            unit = np.floor(times[dep, demand_col[dem]] + 0.5).astype(np.int64)
            np.add.at(cost_of_item, a_of, q * unit)
        np.add.at(flow_of, a_of, q)
        np.add.at(supply.sent, (dep, a_of), q)
        np.add.at(served, dem, q)
        for a in present.tolist():
            level_costs[(items[a], PRIORITIES[rank])] = (int(flow_of[a]), int(cost_of_item[a]))
        parts.append((dep, dem, q))
    dep = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    dem = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int64)
    qty = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, np.int64)
    travel = _at(times, dep, demand_col[dem])
    # Transfers by (priority, time, demand, depot code); each (depot, demand) is one arc,
    # so (demand, depot code) is one integer key.
    order = np.lexsort((dem * m + code_pos[dep], travel, d_rank[dem]))
    return _Solved(
        dep[order],
        dem[order],
        qty[order],
        travel[order],
        served,
        level_costs,
        supply,
        d_item,
        demand_col,
        d_qty,
        d_need,
        fields,
    )


def _check_inputs(
    depots: Sequence[DepotRecord],
    demands: Sequence[Demand],
    columns: _DemandColumns,
    bad_line: bool,
) -> None:
    """Unique codes and ids; with ``bad_line`` (an unknown priority or a negative
    quantity was seen), the first such line is named."""
    if len({d.code for d in depots}) != len(depots):
        raise ValueError("depot codes must be unique")
    if len(set(columns.ids)) != len(demands):
        raise ValueError("demand ids must be unique")
    if not bad_line:
        return
    for d in demands:  # find the first bad line, for the message
        if d.priority not in PRIORITY_RANK:
            raise ValueError(f"demand {d.id}: unknown priority {d.priority!r}")
        if d.quantity < 0:
            raise ValueError(f"demand {d.id}: quantity must be >= 0")


def _lots_of(solved: _Solved) -> list[tuple[tuple[str, int], ...]]:
    """Each transfer's lots, first-expiry-first-out per (depot, item) in transfer order.

    A transfer's units are a run of its key's cumulative lot layout, starting
    after what earlier transfers of the key took; cumulative sums place it.
    """
    supply = solved.supply
    n = len(supply.items)
    if solved.qty.size == 0:
        return []
    key = solved.dep * n + solved.item[solved.dem]
    q = solved.qty
    by_key = np.argsort(key, kind="stable")
    sk, sq = key[by_key], q[by_key]
    before = np.cumsum(sq) - sq
    group_first = np.searchsorted(sk, sk, side="left")
    start = np.empty_like(q)
    start[by_key] = supply.key_base[sk] + before - before[group_first]
    first = np.searchsorted(supply.lot_end, start, side="right")
    last = np.searchsorted(supply.lot_end, start + q - 1, side="right")
    names = supply.lot_names
    lot_end = supply.lot_end.tolist()
    # Most transfers take one lot: build those in one C-level pass (zip of one
    # iterable yields 1-tuples, here of (lot, quantity) pairs), then fix up the rest.
    one_lot = zip(_pick(names, first.tolist()), q.tolist(), strict=True)
    out: list[tuple[tuple[str, int], ...]] = list(zip(one_lot))
    for k in np.flatnonzero(first != last).tolist():
        f, g = int(first[k]), int(last[k])
        pos = int(start[k])
        end = pos + int(q[k])
        taken = []
        for lot in range(f, g + 1):
            stop = min(end, lot_end[lot])
            taken.append((names[lot], stop - pos))
            pos = stop
        out[k] = tuple(taken)
    return out


def _finish(
    solved: _Solved,
    depots: Sequence[DepotRecord],
    demands: Sequence[Demand],
    times: NDArray[np.float64],
    options: PlanOptions,
    routes: Routes | None,
) -> Plan:
    """Transfers with lots and explanations, unmet and late lines, the objective."""
    supply = solved.supply
    dep, dem, qty, travel = solved.dep, solved.dem, solved.qty, solved.travel
    codes = [d.code for d in depots]
    lots = _lots_of(solved)
    entries = _Entries(times)
    other, other_t = _next_best(entries, dep, solved.item[dem], solved.col[dem], supply.stocked())
    # Per-transfer columns, then the records in one C-level pass.
    at = dem.tolist()
    cols = solved.columns
    ids, communities = _pick(cols.ids, at), _pick(cols.communities, at)
    items, priorities = _pick(cols.items, at), _pick(cols.priorities, at)
    eta = travel + options.handling_s
    need = solved.need_by[dem]
    late = eta > need  # False where there is no need_by (nan)
    code_of = np.array([*codes, None], dtype=object)  # index -1: no next best depot
    next_s = other_t.astype(object)
    next_s[other < 0] = None
    paths, lengths = ([()] * len(at), [0.0] * len(at)) if routes is None else routes
    columns = zip(
        code_of[dep].tolist(),
        ids,
        communities,
        items,
        priorities,
        qty.tolist(),
        lots,
        travel.tolist(),
        eta.tolist(),
        late.tolist(),
        code_of[other].tolist(),
        next_s.tolist(),
        paths,
        lengths,
        strict=True,
    )
    transfers: list[Transfer] = list(map(_new_tuple, repeat(Transfer), columns))
    late_lines: list[LateLine] = []
    for k in np.flatnonzero(late).tolist():
        t = transfers[k]
        need_by = float(need[k])
        late_lines.append(
            LateLine(
                t.demand_id,
                t.community,
                t.item,
                t.quantity,
                t.eta_s,
                need_by,
                "late",
                f"{t.quantity} {t.item} from {t.depot} arrive in {_minutes(t.eta_s)}, "
                f"{_minutes(t.eta_s - need_by)} after need_by; sent anyway (late beats none)",
            )
        )
    short = solved.quantity - solved.served
    missing = np.flatnonzero(short > 0)  # in input order, as the unmet lines are
    unmet = _unmet_lines(entries, missing, short[missing], demands, solved, depots, options)
    return Plan(
        policy=options.policy,
        transfers=tuple(transfers),
        unmet=tuple(unmet),
        late=tuple(late_lines),
        objective_s=float(np.dot(qty, travel)) if qty.size else 0.0,
        objective_cost=sum(c for _, c in solved.level_costs.values()),
        runtime_s=0.0,
        level_costs=solved.level_costs,
    )


# ---------------------------------------------------------------------------
# Planning on the road network
# ---------------------------------------------------------------------------


def _nodes_of(
    nodes: Sequence[int | None],
    lats: Sequence[float | None],
    lons: Sequence[float | None],
    names: Sequence[str],
    state: RoadState,
    vehicle: Vehicle,
    snapper: Snapper | None,
) -> NDArray[np.int64]:
    """Road nodes of depots or demands: their own node, else their lat/lon snapped (batched).

    Many demand lines share a place, so each distinct place (a node, or a
    lat/lon pair) is resolved once.
    """
    if None not in nodes:
        return np.array(nodes, dtype=np.int64)
    if all(n is None for n in nodes):
        keys: list[object] = list(zip(lats, lons, strict=True))
    else:
        keys = [
            (lat, lon) if n is None else n for n, lat, lon in zip(nodes, lats, lons, strict=True)
        ]
    place: dict[object, int] = {}
    which = [place.setdefault(k, len(place)) for k in keys]
    distinct = list(place)
    points = [k for k in distinct if isinstance(k, tuple)]
    for lat, lon in points:
        if lat is None or lon is None:
            raise ValueError(f"{names[keys.index((lat, lon))]} needs a node or lat/lon")
    if snapper is None:
        snapper = Snapper(state.network, state.network.usable_nodes(vehicle))
    snapped = iter(
        snapper.nearest_nodes([float(p[0]) for p in points], [float(p[1]) for p in points])
    )
    resolved = np.array(
        [next(snapped) if isinstance(k, tuple) else k for k in distinct], dtype=np.int64
    )
    return resolved[np.array(which, dtype=np.int64)]


def plan_transfers(
    depots: Sequence[DepotRecord],
    stock: Sequence[StockLine],
    floors: Sequence[ReserveFloor],
    demands: Sequence[Demand],
    state: RoadState,
    router: Router,
    options: PlanOptions = PlanOptions(),
    snapper: Snapper | None = None,
) -> Plan:
    """Plan on the road network: travel matrix, solve, then a route per transfer.

    Places given by lat/lon are snapped with ``snapper`` (default: every node
    the vehicle can use on the base network, so a place inside a closure stays
    where it is and shows up as unreachable instead of moving).
    """
    started = time.perf_counter()
    with _gc_paused() as was_enabled:
        plan = _plan_on_network(depots, stock, floors, demands, state, router, options, snapper)
    if was_enabled:
        # The collection the pause held back (usually run by the collector itself as
        # it resumes), made here so that the plan's time includes it.
        gc.collect(0)
    total = time.perf_counter() - started
    return replace(plan, runtime_s=total, timings={**plan.timings, "total_s": total})


@contextmanager
def _gc_paused() -> Iterator[bool]:
    """Pause Python's cyclic garbage collector while a plan is built; yield whether it ran.

    A plan creates thousands of records and route tuples, all of which it
    keeps (no cycles to find), and each collection triggered meanwhile would
    walk them again along with every long-lived object of the process (a road
    graph alone holds tens of thousands). Measured over many plans in a row,
    the pause saves time per plan. It is process-wide, so a plan in another
    thread only re-enables it if it was the one that paused it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield was_enabled
    finally:
        if was_enabled:
            gc.enable()


def _plan_on_network(
    depots: Sequence[DepotRecord],
    stock: Sequence[StockLine],
    floors: Sequence[ReserveFloor],
    demands: Sequence[Demand],
    state: RoadState,
    router: Router,
    options: PlanOptions,
    snapper: Snapper | None,
) -> Plan:
    started = time.perf_counter()
    vehicle = options.vehicle
    depot_nodes = _nodes_of(
        [d.node for d in depots],
        [d.lat for d in depots],
        [d.lon for d in depots],
        [d.code for d in depots],
        state,
        vehicle,
        snapper,
    )
    cols = _DemandColumns.of(demands)
    demand_nodes = _nodes_of(cols.nodes, cols.lats, cols.lons, cols.ids, state, vehicle, snapper)
    source_nodes, depot_row = np.unique(depot_nodes, return_inverse=True)
    target_nodes, demand_col = np.unique(demand_nodes, return_inverse=True)
    depot_row = np.asarray(depot_row, dtype=np.int64).ravel()
    demand_col = np.asarray(demand_col, dtype=np.int64).ravel()
    targets: list[int] = target_nodes.tolist()
    matrix = router.travel_matrix(
        state, source_nodes.tolist(), targets, vehicle, options.max_travel_s
    )
    # Depots x places (not x demand lines): demands at one place share a column.
    times = matrix.times_s[depot_row]
    matrix_done = time.perf_counter()
    cache = _cache_for(router)
    solved = _solve(
        depots, stock, floors, demands, times, demand_col, options, state.depots_out, cache, cols
    )
    allocated = time.perf_counter()
    # One route per (source, target) pair: many transfers share one.
    pair_key = depot_row[solved.dep] * len(targets) + solved.col[solved.dem]
    keys, which = np.unique(pair_key, return_inverse=True)
    paths = matrix.paths_at(keys // len(targets), keys % len(targets))
    nodes, lengths = _columns_of(paths)
    at = np.asarray(which).ravel().tolist()
    routes = (_pick(nodes, at), _pick(lengths, at))
    routed = time.perf_counter()
    plan = _finish(solved, depots, demands, times, options, routes)
    done = time.perf_counter()
    timings = {
        "matrix_s": matrix_done - started,
        "solve_s": (allocated - matrix_done) + (done - routed),
        "routes_s": routed - allocated,
        "total_s": done - started,
    }
    return replace(plan, runtime_s=done - started, timings=timings)


def plan_features(plan: Plan, state: RoadState) -> dict[str, Any]:
    """The plan's routes as a GeoJSON FeatureCollection (one LineString per transfer)."""
    net = state.network
    features = []
    for t in plan.transfers:
        if not t.route:
            continue
        coords = [[float(net.lon[net.index[n]]), float(net.lat[net.index[n]])] for n in t.route]
        features.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "LineString",
                    "coordinates": coords * (2 if len(coords) == 1 else 1),
                },
                "properties": {
                    "depot": t.depot,
                    "demand": t.demand_id,
                    "community": t.community,
                    "item": t.item,
                    "quantity": t.quantity,
                    "length_m": round(t.route_length_m, 1),
                    "time_s": round(t.travel_s, 1),
                    "eta_s": round(t.eta_s, 1),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}
