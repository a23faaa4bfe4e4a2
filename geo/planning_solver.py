"""The two policies, one priority level at a time, and the level-by-level solve that
decides every allocation of a plan (see :mod:`geo.planning` for the rules).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat

import numpy as np
from numpy.typing import NDArray

from geo.greedy import fill
from geo.planning_model import (
    PRIORITIES,
    PRIORITY_RANK,
    Demand,
    DemandColumns,
    DepotRecord,
    PlanInputs,
    PlanOptions,
)
from geo.planning_supply import (
    SolveCache,
    Supply,
    build_supply,
    flat_at,
    min_cost_max_flow,
    ranges,
    scatter,
)

__all__ = [
    "Allocation",
    "Solved",
    "solve_levels",
]


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
        t = flat_at(times, code_order[rows], cols)
        costs = np.floor(t + 0.5).astype(np.int64)
        order = np.lexsort((costs, cols))  # stable: equal costs stay in code order
        counts = np.bincount(cols, minlength=times.shape[1])
        width = int(counts.max(initial=0))
        # Each entry's place in its column's row of the grid.
        slot = ranges(np.zeros_like(counts), counts)
        at = cols[order] * width + slot
        shape = (times.shape[1], width)
        self.rows = scatter(shape, at, rows[order], 0)
        self.valid = scatter(shape, at, np.ones(cols.size, dtype=bool), False)
        self.costs = scatter(shape, at, costs[order], 0)
        self.times = scatter(shape, at, t[order], np.inf)


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
    arc = ranges(s0, s1)
    tails, heads, cost = rows[arc], owner[arc] - d0[of_block] + m, costs[arc]
    caps = np.minimum(flat_at(avail, tails, a[of_block]), wanted[owner[arc]])
    held = avail.T  # (items, depots)
    base = 0
    for item, lo, hi, first, last in todo:
        end = base + last - first
        supplies = np.concatenate([held[item], -wanted[lo:hi]])
        flows[first:last] = min_cost_max_flow(
            tails[base:end],
            heads[base:end],
            caps[base:end],
            cost[base:end],
            supplies,
            cache=cache,
            slot=(items[item], priority),
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
        fill(j, want, candidates, left, out)
    return out


@dataclass
class Solved:
    """What the allocation decided, as arrays over transfers in their final order."""

    dep: NDArray[np.int64]
    dem: NDArray[np.int64]
    qty: NDArray[np.int64]
    travel: NDArray[np.float64]
    served: NDArray[np.int64]
    level_costs: dict[tuple[str, str], tuple[int, int]]
    supply: Supply
    item: NDArray[np.int64]  # item index per demand
    col: NDArray[np.int64]  # matrix column per demand
    quantity: NDArray[np.int64]  # per demand
    need_by: NDArray[np.float64]  # per demand, nan where there is none
    columns: DemandColumns


@dataclass
class _Problem:
    """A solve's inputs as arrays, shared by its steps.

    Per demand: priority rank, quantity, item index, need_by (nan where none)
    and matrix column. Depots are processed in code order (``code_order``;
    ``code_pos`` is each depot's place in it).
    """

    times: NDArray[np.float64]
    demand_col: NDArray[np.int64]
    options: PlanOptions
    cache: SolveCache | None
    fields: DemandColumns
    items: list[str]
    n_items: int
    d_rank: NDArray[np.int64]
    d_qty: NDArray[np.int64]
    d_item: NDArray[np.int64]
    d_need: NDArray[np.float64]
    supply: Supply
    codes: list[str]
    code_order: NDArray[np.int64]
    code_pos: NDArray[np.int64]
    arcs: _Arcs | None


@dataclass
class _Level:
    """One priority level: its demands grouped by item, and what is left to plan."""

    rank: int
    level: NDArray[np.int64]  # demand indices, by (item, input order)
    level_items: NDArray[np.int64]
    present: NDArray[np.int64]  # the items it asks for
    item_lo: list[int]  # each present item's demands: level[item_lo:item_hi]
    item_hi: list[int]
    wanted: NDArray[np.int64]  # per demand of the level, what is still unserved
    avail: NDArray[np.int64]  # (code order, items) what may still be sent


# A level's allocations: depot and demand indices, quantities, item indices.
_Allocated = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]


def solve_levels(
    inputs: PlanInputs,
    times: NDArray[np.float64],
    demand_col: NDArray[np.int64],
    options: PlanOptions,
    depots_out: frozenset[str],
    *,
    cache: SolveCache | None = None,
    columns: DemandColumns | None = None,
) -> Solved:
    """Run the policy level by level on ``times`` (depots x columns).

    Demand ``j`` reads column ``demand_col[j]``, so demands at one place share
    a column. Items never share supply, so each (priority, item) level is its
    own problem; levels run strictly in priority order. The arcs of all items
    of a priority are gathered at once, then each item's block is solved.
    """
    p = _problem(inputs, times, demand_col, options, depots_out, cache, columns)
    served = np.zeros(len(inputs.demands), dtype=np.int64)
    level_costs: dict[tuple[str, str], tuple[int, int]] = {}
    parts: list[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]] = []
    group = p.d_rank * p.n_items + p.d_item
    by_group = np.argsort(group, kind="stable")
    sorted_group = group[by_group]
    for rank in np.unique(p.d_rank).tolist():
        lo, hi = np.searchsorted(sorted_group, [rank * p.n_items, (rank + 1) * p.n_items])
        lv = _level(p, rank, by_group[lo:hi], served)
        cost_of_item = np.zeros(p.n_items, dtype=np.int64)
        if p.arcs is not None:
            dep, dem, q, a_of = _allocate_optimal(p, p.arcs, lv, cost_of_item)
        else:
            dep, dem, q, a_of = _allocate_nearest(p, lv, cost_of_item)
        _record(p, lv, (dep, dem, q, a_of), cost_of_item, served, level_costs)
        parts.append((dep, dem, q))
    return _solved(p, parts, served, level_costs)


def _problem(
    inputs: PlanInputs,
    times: NDArray[np.float64],
    demand_col: NDArray[np.int64],
    options: PlanOptions,
    depots_out: frozenset[str],
    cache: SolveCache | None,
    columns: DemandColumns | None,
) -> _Problem:
    """The inputs checked and laid out as arrays, the supply built, depots in code order."""
    depots, demands = inputs.depots, inputs.demands
    m, n_dem = len(depots), len(demands)
    fields = DemandColumns.of(demands) if columns is None else columns
    d_rank = np.array(
        list(map(PRIORITY_RANK.get, fields.priorities, repeat(-1, n_dem))), dtype=np.int64
    )
    d_qty = np.array(fields.quantities, dtype=np.int64)
    _check_inputs(depots, demands, fields, bool(n_dem and (d_rank.min() < 0 or d_qty.min() < 0)))
    items = sorted(set(fields.items))
    item_index = {item: a for a, item in enumerate(items)}
    d_item = np.array(list(map(item_index.__getitem__, fields.items)), dtype=np.int64)
    d_need = np.array(fields.need_by, dtype=float)  # None reads as nan
    supply = build_supply(depots, inputs.stock, inputs.floors, items, options, depots_out)
    codes = [d.code for d in depots]
    # Stable processing order: depots by code, demands by (priority, item, input order).
    code_order = np.array(sorted(range(m), key=codes.__getitem__), dtype=np.int64)
    code_pos = np.empty(m, dtype=np.int64)
    code_pos[code_order] = np.arange(m)
    arcs = _Arcs(times, code_order) if options.policy == "optimal" else None
    return _Problem(
        times, demand_col, options, cache, fields, items, max(len(items), 1),
        d_rank, d_qty, d_item, d_need, supply, codes, code_order, code_pos, arcs,
    )  # fmt: skip


def _level(p: _Problem, rank: int, level: NDArray[np.int64], served: NDArray[np.int64]) -> _Level:
    """One level's demands by item, with what earlier levels left them and of supply."""
    level_items = p.d_item[level]
    present = np.unique(level_items)
    item_lo = np.searchsorted(level_items, present, side="left").tolist()
    item_hi = np.searchsorted(level_items, present, side="right").tolist()
    wanted = p.d_qty[level] - served[level]
    avail = p.supply.available()[p.code_order]  # (code order, items)
    return _Level(rank, level, level_items, present, item_lo, item_hi, wanted, avail)


def _allocate_optimal(
    p: _Problem, arcs: _Arcs, lv: _Level, cost_of_item: NDArray[np.int64]
) -> _Allocated:
    """The level's usable arcs (pruned, exactly), then one min-cost max-flow per item."""
    level, level_items, wanted, avail = lv.level, lv.level_items, lv.wanted, lv.avail
    options = p.options
    cols = p.demand_col[level]
    grid_rows = np.take(arcs.rows, cols, axis=0)  # (demands, depots): cost-sorted
    keep = np.take(arcs.valid, cols, axis=0) & (wanted > 0)[:, None]
    supply_at = flat_at(avail, grid_rows, level_items[:, None])
    keep &= supply_at > 0
    if not options.deliver_late:
        need = p.d_need[level][:, None]
        arrive = np.take(arcs.times, cols, axis=0) + options.handling_s
        keep &= np.isnan(need) | (arrive <= need)
    # Only the arcs an optimal plan may need (exact, see _cover_prune).
    want_of_item = np.bincount(level_items, weights=wanted, minlength=p.n_items)
    bound = np.minimum(avail.sum(axis=0), want_of_item.astype(np.int64))
    keep &= _cover_prune(np.where(keep, supply_at, 0), bound[level_items])
    owner = np.nonzero(keep)[0]
    costs = np.take(arcs.costs, cols, axis=0)[keep]
    rows, arc_item = grid_rows[keep], level_items[owner]
    # Arcs follow the level's demands, which are grouped by item.
    arc_lo = np.searchsorted(owner, lv.item_lo, side="left").tolist()
    arc_hi = np.searchsorted(owner, lv.item_hi, side="left").tolist()
    blocks = list(zip(lv.present.tolist(), lv.item_lo, lv.item_hi, arc_lo, arc_hi, strict=True))
    flows = _solve_level_optimal(
        avail, wanted, rows, owner, costs, blocks, p.cache, PRIORITIES[lv.rank], p.items
    )
    hit = np.flatnonzero(flows > 0)
    dep, dem, q, a_of = p.code_order[rows[hit]], level[owner[hit]], flows[hit], arc_item[hit]
    np.add.at(cost_of_item, a_of, q * costs[hit])
    return dep, dem, q, a_of


def _allocate_nearest(p: _Problem, lv: _Level, cost_of_item: NDArray[np.int64]) -> _Allocated:
    """Each item of the level greedily from the nearest depots (the baseline policy)."""
    times, code_order, options = p.times, p.code_order, p.options
    level, wanted, avail = lv.level, lv.wanted, lv.avail
    chunks = []
    order_codes = [p.codes[i] for i in code_order.tolist()]
    for a, d0, d1 in zip(lv.present.tolist(), lv.item_lo, lv.item_hi, strict=True):
        cols = level[d0:d1]
        sub = times[np.ix_(code_order, p.demand_col[cols])]
        allowed = np.isfinite(sub)
        if not options.deliver_late:
            allowed &= ~(sub + options.handling_s > p.d_need[cols][None, :])
        got = _solve_level_nearest(
            avail[:, a].tolist(), wanted[d0:d1].tolist(), sub, allowed, order_codes
        )
        arr = np.array(got, dtype=np.int64).reshape(-1, 3)
        chunks.append(np.stack([arr[:, 0], arr[:, 1] + d0, arr[:, 2]], axis=1))
    arr = np.concatenate(chunks)
    dep, dem, q = code_order[arr[:, 0]], level[arr[:, 1]], arr[:, 2]
    a_of = p.d_item[dem]
    unit = np.floor(times[dep, p.demand_col[dem]] + 0.5).astype(np.int64)
    np.add.at(cost_of_item, a_of, q * unit)
    return dep, dem, q, a_of


def _record(
    p: _Problem,
    lv: _Level,
    allocated: _Allocated,
    cost_of_item: NDArray[np.int64],
    served: NDArray[np.int64],
    level_costs: dict[tuple[str, str], tuple[int, int]],
) -> None:
    """Book a level's allocations: supply sent, demands served, the level's (units, cost)."""
    dep, dem, q, a_of = allocated
    flow_of = np.zeros(p.n_items, dtype=np.int64)
    np.add.at(flow_of, a_of, q)
    np.add.at(p.supply.sent, (dep, a_of), q)
    np.add.at(served, dem, q)
    for a in lv.present.tolist():
        level_costs[(p.items[a], PRIORITIES[lv.rank])] = (int(flow_of[a]), int(cost_of_item[a]))


def _solved(
    p: _Problem,
    parts: list[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]],
    served: NDArray[np.int64],
    level_costs: dict[tuple[str, str], tuple[int, int]],
) -> Solved:
    """Every level's allocations as transfers in their final order."""
    dep = np.concatenate([x[0] for x in parts]) if parts else np.zeros(0, np.int64)
    dem = np.concatenate([x[1] for x in parts]) if parts else np.zeros(0, np.int64)
    qty = np.concatenate([x[2] for x in parts]) if parts else np.zeros(0, np.int64)
    travel = flat_at(p.times, dep, p.demand_col[dem])
    # Transfers by (priority, time, demand, depot code); each (depot, demand) is one arc,
    # so (demand, depot code) is one integer key.
    m = len(p.codes)
    order = np.lexsort((dem * m + p.code_pos[dep], travel, p.d_rank[dem]))
    return Solved(
        dep[order],
        dem[order],
        qty[order],
        travel[order],
        served,
        level_costs,
        p.supply,
        p.d_item,
        p.demand_col,
        p.d_qty,
        p.d_need,
        p.fields,
    )


def _check_inputs(
    depots: Sequence[DepotRecord],
    demands: Sequence[Demand],
    columns: DemandColumns,
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
