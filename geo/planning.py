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

import math
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

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


@dataclass(frozen=True)
class StockLine:
    """On-hand quantity of one lot of one item at one depot."""

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


@dataclass(frozen=True)
class Demand:
    """A community's request; ``need_by_s`` is seconds from the planning moment."""

    id: str
    community: str
    item: str
    quantity: int
    priority: Priority = "normal"
    need_by_s: float | None = None
    node: int | None = None
    lat: float | None = None
    lon: float | None = None


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


@dataclass(frozen=True)
class Transfer:
    """Send ``quantity`` of ``item`` from ``depot`` for ``demand_id``."""

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


@dataclass(frozen=True)
class UnmetLine:
    """Units of a demand the plan could not send, and why."""

    demand_id: str
    community: str
    item: str
    priority: Priority
    quantity: int
    reason: Reason
    needed: str
    explanation: str


@dataclass(frozen=True)
class LateLine:
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


def cost_of(seconds: float) -> int:
    """The integer arc cost of a travel time: seconds rounded half up (deterministic)."""
    return math.floor(seconds + 0.5)


# ---------------------------------------------------------------------------
# Supply bookkeeping
# ---------------------------------------------------------------------------


def _lot_order(line: StockLine) -> tuple[bool, date, str]:
    return (line.expires is None, line.expires or date.max, line.lot)


@dataclass
class _Supply:
    """Usable stock per (depot index, item), its floor, and what has been sent."""

    lots: dict[tuple[int, str], list[StockLine]]
    floor: dict[tuple[int, str], int]
    usable: list[bool]
    sent: dict[tuple[int, str], int] = field(default_factory=lambda: defaultdict(int))
    totals: dict[tuple[int, str], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.totals = {
            key: sum(line.quantity for line in lines) for key, lines in self.lots.items()
        }

    def on_hand(self, key: tuple[int, str]) -> int:
        return self.totals.get(key, 0)

    def available(self, key: tuple[int, str]) -> int:
        """What may still be sent: on hand, minus the floor, minus what is planned."""
        if not self.usable[key[0]]:
            return 0
        return max(0, self.on_hand(key) - self.floor.get(key, 0) - self.sent[key])

    def held(self, key: tuple[int, str]) -> int:
        """Units still on hand but kept back by the floor."""
        left = self.on_hand(key) - self.sent[key]
        return min(left, self.floor.get(key, 0)) if self.usable[key[0]] else 0


def _build_supply(
    depots: Sequence[DepotRecord],
    stock: Sequence[StockLine],
    floors: Sequence[ReserveFloor],
    options: PlanOptions,
    depots_out: frozenset[str],
) -> _Supply:
    index = {d.code: i for i, d in enumerate(depots)}
    lots: dict[tuple[int, str], list[StockLine]] = defaultdict(list)
    for line in stock:
        if line.depot not in index or line.quantity <= 0:
            continue
        if options.now is not None and line.expires is not None and line.expires < options.now:
            continue  # expired: never issued, not counted as stock
        lots[(index[line.depot], line.item)].append(line)
    for key in lots:
        lots[key].sort(key=_lot_order)
    floor: dict[tuple[int, str], int] = {}
    for f in floors:
        i = index.get(f.depot)
        if i is None or depots[i].is_district_reserve or options.emergency:
            continue
        floor[(i, f.item)] = max(0, f.minimum)
    usable = [not (d.out or d.code in depots_out) for d in depots]
    return _Supply(dict(lots), floor, usable)


# ---------------------------------------------------------------------------
# The two policies, one priority level of one item at a time
# ---------------------------------------------------------------------------

Allocation = tuple[int, int, int]  # (depot index, demand index, quantity)


def _arc_allowed(
    times: NDArray[np.float64], demands: Sequence[Demand], options: PlanOptions
) -> NDArray[np.bool_]:
    allowed = np.isfinite(times)
    if not options.deliver_late:
        for j, d in enumerate(demands):
            if d.need_by_s is not None:
                allowed[:, j] &= times[:, j] + options.handling_s <= d.need_by_s
    return allowed


LevelBlock = tuple[Sequence[int], Sequence[int], NDArray[np.float64], NDArray[np.bool_]]


def _solve_levels_optimal(blocks: Sequence[LevelBlock]) -> list[list[Allocation]]:
    """Max flow at min cost for independent blocks (one per item) in a single solve.

    Each block is (supply per depot row, wanted per demand column, times,
    allowed). Blocks share only the super source and sink, whose arcs carry
    each depot's and demand's own capacity, so the joint optimum is exactly
    the union of the per-block optima; one solver call saves per-call overhead.
    """
    tails, heads, caps, costs, spans = [], [], [], [], []
    source, sink, base, total, n_arcs = 0, 1, 2, 0, 0
    for supply, wanted, times, allowed in blocks:
        m, k = len(supply), len(wanted)
        sup = np.asarray(supply, dtype=np.int64)
        want = np.asarray(wanted, dtype=np.int64)
        rows, cols = np.nonzero(allowed)
        keep = (sup[rows] > 0) & (want[cols] > 0)
        rows, cols = rows[keep], cols[keep]
        spans.append((rows, cols, n_arcs + m))
        n_arcs += m + rows.size + k
        tails += [np.full(m, source), base + rows, base + m + np.arange(k)]
        heads += [base + np.arange(m), base + m + cols, np.full(k, sink)]
        caps += [sup, np.minimum(sup[rows], want[cols]), want]
        costs += [
            np.zeros(m, np.int64),
            np.floor(times[rows, cols] + 0.5).astype(np.int64),
            np.zeros(k, np.int64),
        ]
        base += m + k
        total += int(min(sup.sum(), want.sum()))
    if total == 0:
        return [[] for _ in blocks]
    solver = min_cost_flow.SimpleMinCostFlow()
    solver.add_arcs_with_capacity_and_unit_cost(
        np.concatenate(tails), np.concatenate(heads), np.concatenate(caps), np.concatenate(costs)
    )
    solver.set_node_supply(source, total)
    solver.set_node_supply(sink, -total)
    status = solver.solve_max_flow_with_min_cost()
    if status != solver.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    out = []
    for rows, cols, first in spans:
        flows = solver.flows(np.arange(first, first + rows.size))
        hit = np.flatnonzero(flows > 0)
        out.append(
            list(zip(rows[hit].tolist(), cols[hit].tolist(), flows[hit].tolist(), strict=True))
        )
    return out


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


def _masked_argmin(
    values: NDArray[np.float64], mask: NDArray[np.bool_]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Per column: the row of the smallest value where ``mask`` holds, and that value."""
    masked = np.where(mask, values, np.inf)
    rows = np.argmin(masked, axis=0) if masked.shape[0] else np.zeros(masked.shape[1], np.int64)
    best = (
        masked[rows, np.arange(masked.shape[1])]
        if masked.shape[0]
        else np.full(masked.shape[1], np.inf)
    )
    return rows, best


def _next_best(
    pairs: Sequence[tuple[int, int]],
    times: NDArray[np.float64],
    stocked: NDArray[np.bool_],
) -> list[tuple[int, float]]:
    """For each (depot, demand) of one item: the fastest other stocked depot and its time."""
    if not pairs:
        return []
    rows = np.array([p[0] for p in pairs])
    cols = np.array([p[1] for p in pairs])
    col_times = times[:, cols]
    mask = stocked[:, None] & np.isfinite(col_times)
    mask[rows, np.arange(len(pairs))] = False
    other, other_t = _masked_argmin(col_times, mask)
    return list(zip(other.tolist(), other_t.tolist(), strict=True))


def _unmet_lines(
    item: str,
    missing: Mapping[int, int],
    demands: Sequence[Demand],
    times: NDArray[np.float64],
    supply: _Supply,
    depots: Sequence[DepotRecord],
    options: PlanOptions,
) -> list[UnmetLine]:
    """Reasons for one item's unmet demands (vectorised over the demands)."""
    m = len(depots)
    cols = np.array(sorted(missing))
    holders = np.array([supply.usable[i] and supply.on_hand((i, item)) > 0 for i in range(m)])
    held = np.array([supply.held((i, item)) for i in range(m)])
    col_times = times[:, cols].reshape(m, len(cols))
    reach = holders[:, None] & np.isfinite(col_times)
    fastest, fastest_t = _masked_argmin(col_times, reach)
    need_by = np.array(
        [np.nan if demands[j].need_by_s is None else demands[j].need_by_s for j in cols]
    )
    on_time = reach & ~(col_times + options.handling_s > need_by[None, :])
    late_applies = np.logical_and(not options.deliver_late, ~np.isnan(need_by))
    candidates = np.where(late_applies[None, :], on_time, reach)
    nearest_held, nearest_held_t = _masked_argmin(col_times, candidates & (held > 0)[:, None])
    any_holder = bool(holders.any())
    has_reach = [bool(x) for x in np.asarray(reach.any(axis=0)).ravel()]
    has_on_time = [bool(x) for x in np.asarray(on_time.any(axis=0)).ravel()]
    n_candidates: list[int] = list(candidates.sum(axis=0).tolist())
    releasable: list[int] = list((held[:, None] * candidates).sum(axis=0).tolist())
    late_rule: list[bool] = list(np.atleast_1d(late_applies).tolist())
    out = []
    for k, j in enumerate(cols.tolist()):
        demand, n = demands[j], missing[j]
        head = f"needs {n} more {item}"

        def line(
            reason: Reason, needed: str, why: str, d: Demand = demand, q: int = n, h: str = head
        ) -> UnmetLine:
            return UnmetLine(d.id, d.community, item, d.priority, q, reason, needed, f"{h}; {why}")

        if not any_holder:
            out_codes = [d.code for i, d in enumerate(depots) if supply.on_hand((i, item)) > 0]
            why = f"no usable depot holds {item}"
            if out_codes:
                why += f" ({', '.join(out_codes)} out of service)"
            out.append(
                line("no_stock", f"{n} {item} at a depot that can reach {demand.community}", why)
            )
        elif not has_reach[k]:
            names = [depots[i].code for i in np.flatnonzero(holders)[:5]]
            out.append(
                line(
                    "unreachable",
                    f"an open route from a depot holding {item} (e.g. {names[0]})",
                    f"{int(holders.sum())} depots hold {item} ({', '.join(names)}) but none can "
                    f"reach {demand.community}: roads closed or beyond the planning horizon",
                )
            )
        elif late_rule[k] and not has_on_time[k]:
            eta = float(fastest_t[k]) + options.handling_s
            out.append(
                line(
                    "late",
                    f"need_by of at least {_minutes(eta)}",
                    f"the fastest depot {depots[int(fastest[k])].code} would arrive in "
                    f"{_minutes(eta)}, after need_by {_minutes(float(need_by[k]))}",
                )
            )
        elif math.isfinite(nearest_held_t[k]):
            i = int(nearest_held[k])
            release = min(n, int(releasable[k]))
            out.append(
                line(
                    "held_by_reserve_floor",
                    f"an emergency release of {release} {item} from {depots[i].code} "
                    "(or nearby depots)",
                    f"nearest depot with stock {depots[i].code} "
                    f"({_minutes(float(nearest_held_t[k]))}) is held by its reserve floor "
                    f"({supply.floor.get((i, item), 0)} kept)",
                )
            )
        else:
            out.append(
                line(
                    "no_stock",
                    f"{n} more {item} within reach of {demand.community}",
                    f"all {item} within reach ({n_candidates[k]} depots) is assigned to other "
                    "demands of equal or higher priority",
                )
            )
    return out


# ---------------------------------------------------------------------------
# Solving on a given travel-time matrix
# ---------------------------------------------------------------------------


RouteFor = Callable[[int, int], tuple[tuple[int, ...], float]]


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
    _check_inputs(depots, demands)
    supply = _build_supply(depots, stock, floors, options, depots_out)
    served, allocations, level_costs = _allocate(depots, demands, times, supply, options)
    allocated = time.perf_counter()
    routes: dict[tuple[int, int], tuple[tuple[int, ...], float]] = {}
    if route_for is not None:
        for i, j, _ in allocations:
            if (i, j) not in routes:
                routes[(i, j)] = route_for(i, j)
    routed = time.perf_counter()
    transfers = _make_transfers(allocations, depots, demands, times, supply, options, routes)
    short: dict[str, dict[int, int]] = defaultdict(dict)
    for j, d in enumerate(demands):
        if d.quantity > served[j]:
            short[d.item][j] = d.quantity - served[j]
    unmet_by_demand = {
        line.demand_id: line
        for item in sorted(short)
        for line in _unmet_lines(item, short[item], demands, times, supply, depots, options)
    }
    unmet = tuple(unmet_by_demand[d.id] for d in demands if d.id in unmet_by_demand)
    late = _late_lines(transfers, demands)
    done = time.perf_counter()
    return Plan(
        policy=options.policy,
        transfers=transfers,
        unmet=unmet,
        late=late,
        objective_s=float(sum(t.quantity * t.travel_s for t in transfers)),
        objective_cost=sum(c for _, c in level_costs.values()),
        runtime_s=done - started,
        timings={
            "solve_s": (allocated - started) + (done - routed),
            "routes_s": routed - allocated,
        },
        level_costs=level_costs,
    )


def _allocate(
    depots: Sequence[DepotRecord],
    demands: Sequence[Demand],
    times: NDArray[np.float64],
    supply: _Supply,
    options: PlanOptions,
) -> tuple[list[int], list[Allocation], dict[tuple[str, str], tuple[int, int]]]:
    """Run the policy level by level: (units served per demand, allocations, level costs).

    Items never share supply, so each priority level is solved for all items
    at once; levels run strictly in priority order.
    """
    codes = [d.code for d in depots]
    allowed = _arc_allowed(times, demands, options)
    served = [0] * len(demands)
    allocations: list[Allocation] = []
    level_costs: dict[tuple[str, str], tuple[int, int]] = {}
    # Stable processing order: depots by code, demands by (priority, input order).
    depot_order = sorted(range(len(depots)), key=lambda i: codes[i])
    order_codes = [codes[i] for i in depot_order]
    groups: dict[tuple[str, int], list[int]] = defaultdict(list)
    for j, d in enumerate(demands):
        groups[(d.item, PRIORITY_RANK[d.priority])].append(j)
    for rank, priority in enumerate(PRIORITIES):
        items = sorted(item for item, r in groups if r == rank)
        blocks: list[LevelBlock] = []
        for item in items:
            cols = groups[(item, rank)]
            blocks.append(
                (
                    [supply.available((i, item)) for i in depot_order],
                    [demands[j].quantity - served[j] for j in cols],
                    times[np.ix_(depot_order, cols)],
                    allowed[np.ix_(depot_order, cols)],
                )
            )
        if options.policy == "optimal":
            solved = _solve_levels_optimal(blocks)
        else:
            solved = [_solve_level_nearest(*block, order_codes) for block in blocks]
        for item, level in zip(items, solved, strict=True):
            cols = groups[(item, rank)]
            flow = cost = 0
            for a, b, q in level:
                i, j = depot_order[a], cols[b]
                supply.sent[(i, item)] += q
                served[j] += q
                allocations.append((i, j, q))
                flow += q
                cost += q * cost_of(float(times[i, j]))
            level_costs[(item, priority)] = (flow, cost)
    return served, allocations, level_costs


def _check_inputs(depots: Sequence[DepotRecord], demands: Sequence[Demand]) -> None:
    if len({d.code for d in depots}) != len(depots):
        raise ValueError("depot codes must be unique")
    if len({d.id for d in demands}) != len(demands):
        raise ValueError("demand ids must be unique")
    for d in demands:
        if d.priority not in PRIORITY_RANK:
            raise ValueError(f"demand {d.id}: unknown priority {d.priority!r}")
        if d.quantity < 0:
            raise ValueError(f"demand {d.id}: quantity must be >= 0")


def _make_transfers(
    allocations: Sequence[Allocation],
    depots: Sequence[DepotRecord],
    demands: Sequence[Demand],
    times: NDArray[np.float64],
    supply: _Supply,
    options: PlanOptions,
    routes: Mapping[tuple[int, int], tuple[tuple[int, ...], float]],
) -> tuple[Transfer, ...]:
    """Merge allocations per (depot, demand), then issue lots first-expiry-first-out."""
    merged: dict[tuple[int, int], int] = defaultdict(int)
    for i, j, q in allocations:
        merged[(i, j)] += q
    pair_time = {p: float(times[p]) for p in merged}
    order = sorted(
        merged,
        key=lambda p: (
            PRIORITY_RANK[demands[p[1]].priority],
            pair_time[p],
            p[1],
            depots[p[0]].code,
        ),
    )
    codes = [d.code for d in depots]
    next_best: dict[tuple[int, int], tuple[int, float]] = {}
    by_item: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for p in order:
        by_item[demands[p[1]].item].append(p)
    for item, pairs in by_item.items():
        stocked = np.array(
            [supply.usable[k] and supply.on_hand((k, item)) > 0 for k in range(len(depots))]
        )
        next_best.update(zip(pairs, _next_best(pairs, times, stocked), strict=True))
    cursor: dict[tuple[int, str], list[list[Any]]] = {}
    out: list[Transfer] = []
    for i, j in order:
        demand, q = demands[j], merged[(i, j)]
        key = (i, demand.item)
        lots = cursor.get(key)
        if lots is None:
            lots = cursor[key] = [[ln.lot, ln.quantity] for ln in supply.lots[key]]
        travel = pair_time[(i, j)]
        eta = travel + options.handling_s
        other, other_t = next_best[(i, j)]
        has_other = math.isfinite(other_t)
        route, route_length = routes.get((i, j), ((), 0.0))
        out.append(
            Transfer(
                depot=codes[i],
                demand_id=demand.id,
                community=demand.community,
                item=demand.item,
                priority=demand.priority,
                quantity=q,
                lots=_take_lots(lots, q),
                travel_s=travel,
                eta_s=eta,
                late=demand.need_by_s is not None and eta > demand.need_by_s,
                next_best_depot=codes[other] if has_other else None,
                next_best_s=other_t if has_other else None,
                route=route,
                route_length_m=route_length,
            )
        )
    return tuple(out)


def _take_lots(lots: list[list[Any]], quantity: int) -> tuple[tuple[str, int], ...]:
    """Take ``quantity`` from FEFO-ordered [lot, remaining] pairs, updating them."""
    taken: list[tuple[str, int]] = []
    for lot in lots:
        if quantity == 0:
            break
        take = min(quantity, lot[1])
        if take:
            lot[1] -= take
            quantity -= take
            taken.append((lot[0], take))
    return tuple(taken)


def _late_lines(transfers: Sequence[Transfer], demands: Sequence[Demand]) -> tuple[LateLine, ...]:
    by_id = {d.id: d for d in demands}
    out = []
    for t in transfers:
        need_by = by_id[t.demand_id].need_by_s
        if not t.late or need_by is None:
            continue
        out.append(
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
    return tuple(out)


# ---------------------------------------------------------------------------
# Planning on the road network
# ---------------------------------------------------------------------------


def _nodes_of(
    records: Sequence[DepotRecord] | Sequence[Demand],
    state: RoadState,
    vehicle: Vehicle,
    snapper: Snapper | None,
) -> list[int]:
    """Road nodes of depots or demands: their own node, else their lat/lon snapped (batched)."""
    nodes: list[int | None] = [r.node for r in records]
    todo = [k for k, n in enumerate(nodes) if n is None]
    if todo:
        for k in todo:
            r = records[k]
            if r.lat is None or r.lon is None:
                name = r.code if isinstance(r, DepotRecord) else r.id
                raise ValueError(f"{name} needs a node or lat/lon")
        if snapper is None:
            snapper = Snapper(state.network, state.network.usable_nodes(vehicle))
        snapped = snapper.nearest_nodes(
            [float(records[k].lat or 0.0) for k in todo],
            [float(records[k].lon or 0.0) for k in todo],
        )
        for k, n in zip(todo, snapped, strict=True):
            nodes[k] = n
    return [int(n) for n in nodes if n is not None]


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
    vehicle = options.vehicle
    depot_nodes = _nodes_of(depots, state, vehicle, snapper)
    demand_nodes = _nodes_of(demands, state, vehicle, snapper)
    sources = sorted(set(depot_nodes))
    targets = sorted(set(demand_nodes))
    matrix = router.travel_matrix(state, sources, targets, vehicle, options.max_travel_s)
    row = {n: k for k, n in enumerate(sources)}
    col = {n: k for k, n in enumerate(targets)}
    times = matrix.times_s[np.ix_([row[n] for n in depot_nodes], [col[n] for n in demand_nodes])]
    matrix_done = time.perf_counter()

    by_nodes: dict[tuple[int, int], tuple[tuple[int, ...], float]] = {}

    def route_for(i: int, j: int) -> tuple[tuple[int, ...], float]:
        pair = (depot_nodes[i], demand_nodes[j])
        if pair not in by_nodes:  # many demand lines share a community node
            route = matrix.route(*pair)
            by_nodes[pair] = (route.nodes, route.length_m) if route is not None else ((), 0.0)
        return by_nodes[pair]

    plan = solve_transfers(
        depots, stock, floors, demands, times, options, state.depots_out, route_for
    )
    done = time.perf_counter()
    timings = {
        "matrix_s": matrix_done - started,
        "solve_s": plan.timings["solve_s"],
        "routes_s": plan.timings["routes_s"],
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
