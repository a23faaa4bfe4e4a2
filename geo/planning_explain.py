"""A solve's allocations made into the plan's records: each transfer's lots and next
best depot, and the reason and figures of every unmet or late unit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np
from numpy.typing import NDArray

from geo.planning_model import (
    Demand,
    DepotRecord,
    LateLine,
    Plan,
    PlanOptions,
    Reason,
    Transfer,
    UnmetLine,
    minutes,
    new_tuple,
    pick_at,
)
from geo.planning_solver import Solved
from geo.planning_supply import flat_at, ranges

__all__ = [
    "Routes",
    "finish_plan",
    "lots_of",
]

# Each transfer's route as two columns: node ids, and metres.
Routes = tuple[Sequence[tuple[int, ...]], Sequence[float]]


class _Entries:
    """The finite entries of a (depots x columns) matrix, sorted by (column, time, depot).

    Per column, the first entry meeting a condition is the fastest depot
    meeting it, ties to the lower depot index (as an argmin over depots).
    """

    def __init__(self, times: NDArray[np.float64]) -> None:
        c, r = np.nonzero(np.isfinite(times.T))  # by (column, row)
        t = flat_at(times, r, c)
        order = np.lexsort((t, c))  # stable: equal times stay in row order
        self.rows, self.cols, self.times = r[order], c[order], t[order]
        counts = np.bincount(self.cols, minlength=times.shape[1])
        self.ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def gather(self, cols: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Entry indices of the given columns, and for each its position in ``cols``."""
        start, end = self.ptr[cols], self.ptr[cols + 1]
        return ranges(start, end), np.repeat(np.arange(len(cols)), end - start)


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
    held = flat_at(stocked, r[None, :], used[:, None])  # (items used, entries)
    counted = np.zeros((used.size, r.size + 1), dtype=np.int32)
    np.cumsum(held, axis=1, out=counted[:, 1:])
    rank = counted[:, 1:] - np.take(counted, entries.ptr[c], axis=1) - 1
    a, e = np.nonzero(held & (rank < 2))
    best[(a * n_cols + c[e]) * 2 + flat_at(rank, a, e)] = e
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
    solved: Solved,
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
    reach = flat_at(holder_mat, rows, arc_item)
    held = flat_at(held_mat, rows, arc_item)
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


def lots_of(solved: Solved) -> list[tuple[tuple[str, int], ...]]:
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
    one_lot = zip(pick_at(names, first.tolist()), q.tolist(), strict=True)
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


def finish_plan(
    solved: Solved,
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
    lots = lots_of(solved)
    entries = _Entries(times)
    other, other_t = _next_best(entries, dep, solved.item[dem], solved.col[dem], supply.stocked())
    # Per-transfer columns, then the records in one C-level pass.
    at = dem.tolist()
    cols = solved.columns
    ids, communities = pick_at(cols.ids, at), pick_at(cols.communities, at)
    items, priorities = pick_at(cols.items, at), pick_at(cols.priorities, at)
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
    transfers: list[Transfer] = list(map(new_tuple, repeat(Transfer), columns))
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
                f"{t.quantity} {t.item} from {t.depot} arrive in {minutes(t.eta_s)}, "
                f"{minutes(t.eta_s - need_by)} after need_by; sent anyway (late beats none)",
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
