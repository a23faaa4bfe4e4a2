"""The exact matching's two solvers: min-cost max-flow, and a dense assignment problem.

Both minimise, lexicographically, (-people staffed, non-preferred people, travel seconds)
over the same problem: candidates (``size`` persons) to needs (``want`` persons), a pair
allowed where ``eligible``, at most ``min(size, want)`` persons on a pair. They return the
same objective; among equally good matchings they may pick different ones.

``flow``: one min-cost max-flow (OR-Tools) with arc cost ``non_preferred * BIG + travel``.
It scales with the arcs, but its solver slows down sharply on dense graphs (3,000 x 3,000
one-person needs: 5-15 s on two cores).

``assignment``: ``scipy.optimize.linear_sum_assignment`` on a dense matrix. Why it is
exact:

1. *Copies.* Candidate ``i`` becomes ``size_i`` identical rows, need ``j`` ``want_j``
   identical columns. An integral flow is then the same thing as a matching of rows to
   columns: a flow of ``q`` on (i, j) is ``q`` row-column pairs of copies, and a matching
   never puts more than ``min(size_i, want_j)`` on a pair, which was the arc's capacity.
   A candidate's copies are capped at what its eligible needs want in all (and a need's
   at what its eligible candidates hold): no feasible flow can use more, so the cap
   removes no solution. One-person needs and single people (the city-size case) have no
   copies at all. Rows and columns with nothing eligible are left out; they can never be
   matched.
2. *Forbidden pairs.* ``linear_sum_assignment`` matches every row or every column
   (whichever side is smaller, ``r`` of them); an ineligible pair costs ``HUGE``, more than
   any ``r`` eligible pairs together. Any eligible matching extends to a full one by
   ineligible pairs, so the full matching of least cost first has the fewest ineligible
   pairs, i.e. the most eligible ones (people staffed), and among those the least
   eligible cost (non-preferred, then travel, as in the flow). Ineligible pairs are
   dropped from the answer.
3. *Arithmetic.* Every entry is an integer and ``HUGE * (r + 1) < 2**53``, so the solver's
   float64 sums and dual potentials (each bounded by ``r`` entries) are exact; a problem
   beyond that bound, or whose matrix would pass ``MAX_CELLS``, goes to the flow. BIG
   and HUGE hold for any bound on the travel times, so an unchecked problem takes one
   fixed in advance (``_travel_cap``: 16 times below the limit) and checks each block.
4. *Orientation.* scipy solves a tall matrix by copying out its transpose and solving
   that; the transpose built here directly gives the same pairs, without the copy.

``auto`` takes the flow for small problems (at most ``FLOW_ARCS`` eligible pairs: it
answers in milliseconds there, and keeps the choice among equally good people that drills
and replays have recorded), the assignment when its matrix fits, else the flow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow
from scipy.optimize import linear_sum_assignment

from geo.assignment_rules import Grouped, Mask, dense

__all__ = ["FLOW_ARCS", "MAX_CELLS", "Flows", "Problem", "Solver", "solve_exact", "solve_unchecked"]

Solver = Literal["auto", "flow", "assignment"]
Flows = list[tuple[int, int, int]]  # (candidate, need, persons)
FLOW_ARCS = 20_000
MAX_CELLS = 16_000_000  # 128 MB of float64
_EXACT = 2**53
_BLOCK = 32  # rows per step of the cost matrix (3,000 columns: 768 kB of float64)


@dataclass(frozen=True)
class Problem:
    """Candidates x needs: travel seconds, who is eligible where, who is not preferred
    there; persons per candidate and per need; both in id order (ties break by it); and,
    if every candidate can reach every need, the largest travel time (it bounds the eligible
    ones'; None otherwise)."""

    travel_s: NDArray[np.float64]
    eligible: Mask
    non_pref: Grouped  # not preferred there: few distinct rows
    size: NDArray[np.int64]
    want: NDArray[np.int64]
    c_order: NDArray[np.intp]
    n_order: NDArray[np.intp]
    travel_max: float | None = None  # the largest travel time, if every one is reachable
    # travel times not checked yet: ``eligible`` ignores reach, and the dense assignment
    # checks each travel time it reads instead (``solve_unchecked``)
    unchecked: bool = False


def solve_unchecked(p: Problem, solver: Solver = "auto") -> Flows | None:
    """The dense assignment's flows for a problem whose travel times are not checked yet,
    on the hope that every one is finite (the common case, and a full pass over the travel
    matrix saved): None if the flow is to solve it (``solver``, small or too large), or if
    some travel time read is not finite, negative or beyond ``_travel_cap``, and then the
    caller checks them and solves as usual."""
    if solver == "flow" or (solver == "auto" and _count(p.eligible) <= FLOW_ARCS):
        return None
    copies = _copies(p)
    return None if copies is None else _assignment(p, *copies)


def solve_exact(p: Problem, solver: Solver = "auto") -> Flows:
    """The optimal flows by ``solver`` (``assignment`` raises ``ValueError`` where its
    matrix would be too large or its arithmetic inexact; ``auto`` falls back to the flow)."""
    if solver == "flow" or (solver == "auto" and _count(p.eligible) <= FLOW_ARCS):
        return _flow(p)
    copies = _copies(p)
    flows = None if copies is None else _assignment(p, *copies)
    if flows is None:
        if solver == "assignment":
            raise ValueError("too large for an exact dense assignment: use the flow")
        return _flow(p)
    return flows


def _flow(p: Problem) -> Flows:
    """Min-cost max-flow: candidates (capacity = size) to needs (capacity = people)."""
    c_order, n_order, size_all, want_all = p.c_order, p.n_order, p.size, p.want
    sub = dense(p.eligible)[np.ix_(c_order, n_order)]
    rows, cols = np.nonzero(sub)
    if rows.size == 0:
        return []
    m, k = len(c_order), len(n_order)
    ci, nj = c_order[rows], n_order[cols]
    size, want = size_all[c_order], want_all[n_order]
    travel = np.floor(p.travel_s[ci, nj] + 0.5).astype(np.int64)
    # BIG > any total travel, so one non-preferred person outweighs all travel.
    big = int(travel.max(initial=0)) * int(min(size.sum(), want.sum())) + 1
    cost = p.non_pref.at(ci, nj).astype(np.int64) * big + travel
    source, sink = m + k, m + k + 1
    solver = min_cost_flow.SimpleMinCostFlow()
    solver.add_arcs_with_capacity_and_unit_cost(
        np.concatenate([np.full(m, source), rows, m + np.arange(k)]),
        np.concatenate([np.arange(m), m + cols, np.full(k, sink)]),
        np.concatenate([size, np.minimum(size[rows], want[cols]), want]),
        np.concatenate([np.zeros(m, np.int64), cost, np.zeros(k, np.int64)]),
    )
    total = int(min(size.sum(), want.sum()))
    solver.set_node_supply(source, total)
    solver.set_node_supply(sink, -total)
    status = solver.solve_max_flow_with_min_cost()
    if status != solver.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    flow = solver.flows(np.arange(m, m + rows.size))
    return [(int(ci[a]), int(nj[a]), int(flow[a])) for a in np.flatnonzero(flow > 0).tolist()]


_Copies = tuple[NDArray[np.intp], NDArray[np.int64], NDArray[np.intp], NDArray[np.int64]]


def _copies(p: Problem) -> _Copies | None:
    """Rows and columns that can be matched, in id order, with their copies (step 1 of the
    module's proof); None if the dense matrix would pass ``MAX_CELLS``."""
    wanted = p.want > 0
    if p.size.max(initial=1) == 1 and p.want.max(initial=0) <= 1:
        e = p.eligible
        if isinstance(e, Grouped):
            cols_any = e.any_per_col() & wanted
            rows_any = e.any_per_row(None if wanted.all() else wanted)
        else:
            cols_any = np.asarray(e.any(axis=0)) & wanted
            rows_any = np.asarray((e if wanted.all() else e[:, wanted]).any(axis=1))
        c_copies: NDArray[np.int64] = rows_any.astype(np.int64)
        n_copies: NDArray[np.int64] = cols_any.astype(np.int64)
    else:
        # exact: sums of persons stay far below 2**53
        want, size = p.want.astype(np.float64), p.size.astype(np.float64)
        if isinstance(p.eligible, Grouped):
            demand = p.eligible.row_sums(want).astype(np.int64)
            supply = p.eligible.col_sums(size).astype(np.int64)
        else:
            weights = p.eligible.astype(np.float64)
            demand = (weights @ want).astype(np.int64)
            supply = (size @ weights).astype(np.int64)
        c_copies, n_copies = np.minimum(p.size, demand), np.minimum(p.want, supply)
    rsel = p.c_order[c_copies[p.c_order] > 0].astype(np.intp)
    csel = p.n_order[n_copies[p.n_order] > 0].astype(np.intp)
    rc, cc = c_copies[rsel], n_copies[csel]
    if int(rc.sum()) * int(cc.sum()) > MAX_CELLS:
        return None
    return rsel, rc, csel, cc


def _assignment(
    p: Problem,
    rsel: NDArray[np.intp],
    rc: NDArray[np.int64],
    csel: NDArray[np.intp],
    cc: NDArray[np.int64],
) -> Flows | None:
    """``linear_sum_assignment`` on the copies, ineligible pairs at ``HUGE`` (steps 2, 3);
    None if the costs are too large for exact float64 arithmetic."""
    r = min(int(rc.sum()), int(cc.sum()))
    if r == 0:
        return []
    # rows and columns in id order, a candidate's copies side by side (and a need's)
    row_of, col_of = np.repeat(rsel, rc), np.repeat(csel, cc)
    # linear_sum_assignment solves a tall matrix by copying out its transpose element by
    # element (slowly) and solving that: built transposed here, it finds the same pairs
    tall = row_of.size > col_of.size
    costs = _costs(p, row_of, col_of, r, tall)
    if costs is None:
        return None
    cost, huge = costs
    rows, cols = linear_sum_assignment(cost)
    taken = cost[rows, cols] < huge
    if tall:
        rows, cols = cols, rows
    k = p.want.size
    keys, counts = np.unique(row_of[rows[taken]] * k + col_of[cols[taken]], return_counts=True)
    return [
        (int(key // k), int(key % k), int(q))
        for key, q in zip(keys.tolist(), counts.tolist(), strict=True)
    ]


def _costs(
    p: Problem, row_of: NDArray[np.intp], col_of: NDArray[np.intp], r: int, tall: bool
) -> tuple[NDArray[np.float64], float] | None:
    """The matrix of ``row_of`` x ``col_of`` (``tall``: its transpose): ``non_preferred *
    BIG + travel`` where eligible, ``HUGE`` elsewhere, and HUGE; None if ``HUGE * (r + 1)``
    would reach 2**53.

    Arithmetic only, no masked writes (several times slower on these masks), a few rows
    at a time so that each step finds the block still in cache (and, ``tall``, is copied
    out transposed from there: arithmetic on transposed operands is several times slower);
    rows and columns are picked block by block too (none in the common case: ids in
    order, every candidate and need eligible somewhere). Unchecked, a fixed bound gives BIG
    and HUGE and each block is checked against it; with every travel time finite, their
    largest bounds them before the matrix exists; otherwise a first pass finds the
    largest eligible one.
    """
    pick = _picker(p, row_of, col_of)
    n = row_of.size
    work = np.empty((min(_BLOCK, n), col_of.size))
    if p.unchecked:  # a bound fixed in advance; each block is checked against it below
        tmax = _travel_cap(r)
    elif p.travel_max is not None:  # bounds any eligible pair's travel, before the matrix
        tmax = float(np.floor(p.travel_max + 0.5))
    else:
        tmax = _eligible_travel_max(p, pick, work, n)
    big = tmax * r + 1.0  # one non-preferred person outweighs all travel
    huge = (big + tmax + 1.0) * (r + 1)  # one ineligible pair outweighs any r eligible
    if huge * (r + 1) >= _EXACT:
        return None
    cost = np.empty((col_of.size, n) if tall else (n, col_of.size))
    steps = _steps(p, row_of, col_of, big, huge)
    for a in range(0, n, _BLOCK):
        block = work[: min(_BLOCK, n - a)] if tall else cost[a : a + _BLOCK]
        _rounded(pick(p.travel_s, a), block, p.unchecked or p.travel_max is not None)
        if p.unchecked and not 0.0 <= float(block.min()) <= float(block.max()) <= tmax:
            return None  # not finite (NaN fails every comparison), negative, or too long
        steps(block, a)
        if tall:
            cost[:, a : a + block.shape[0]] = block.T
    return cost, huge


def _steps(
    p: Problem, row_of: NDArray[np.intp], col_of: NDArray[np.intp], big: float, huge: float
) -> Callable[[NDArray[np.float64], int], None]:
    """Rounded travel to cost, for rows ``a`` on: ``travel + BIG * non_preferred`` where
    eligible, HUGE elsewhere, integers below 2**53 throughout. Penalties are rows of small
    matrices over the groups of alike candidates (their links; their skills and hours),
    copied out per block; an eligibility mask held at full size multiplies instead."""
    links = p.non_pref.rows[row_of]
    cols = p.non_pref.cols[col_of]
    if isinstance(p.eligible, Grouped):
        penalty_g = np.where(p.non_pref.small, big - huge, -huge).take(cols, 1)
        wide = p.eligible.small.take(p.eligible.cols[col_of], 1)
        groups = p.eligible.rows[row_of]

        def grouped(block: NDArray[np.float64], a: int) -> None:
            block += penalty_g[links[a : a + _BLOCK]]
            block *= wide[groups[a : a + _BLOCK]]
            block += huge

        return grouped
    # eligible * (travel + BIG * non_preferred - HUGE) + HUGE
    penalty = np.where(p.non_pref.small, big - huge, -huge).take(cols, 1)
    pick, eligible = _picker(p, row_of, col_of), p.eligible

    def masked(block: NDArray[np.float64], a: int) -> None:
        block += penalty[links[a : a + _BLOCK]]
        block *= pick(eligible, a)
        block += huge

    return masked


def _count(mask: Mask) -> int:
    return mask.count() if isinstance(mask, Grouped) else int(np.count_nonzero(mask))


def _travel_cap(r: int) -> float:
    """The longest travel an unchecked problem may have, fixed before the matrix is built:
    BIG and HUGE computed from it keep ``HUGE * (r + 1)`` sixteen times below 2**53, so
    that the solver's sums of a few such terms stay exact too (``r`` = 2,500: 10 h)."""
    return float(_EXACT // (16 * (r + 1) ** 3))


_Pick = Callable[[NDArray[Any], int], NDArray[Any]]


def _picker(p: Problem, row_of: NDArray[np.intp], col_of: NDArray[np.intp]) -> _Pick:
    """Rows ``a`` to ``a + _BLOCK`` of a candidates x needs matrix taken at ``row_of`` x
    ``col_of``."""
    rows_as_is = _identity(row_of, p.size.size)
    cols_as_is = _identity(col_of, p.want.size)

    def pick(matrix: NDArray[Any], a: int) -> NDArray[Any]:
        block = matrix[a : a + _BLOCK] if rows_as_is else matrix.take(row_of[a : a + _BLOCK], 0)
        return block if cols_as_is else block.take(col_of, 1)

    return pick


def _rounded(travel: NDArray[np.float64], out: NDArray[np.float64], finite: bool) -> None:
    """Travel seconds rounded half up into ``out``; unreachable (inf, NaN) as 2**53, so
    that times 0 (it is never eligible) it is 0."""
    np.add(travel, 0.5, out=out)
    np.floor(out, out=out)
    if not finite:
        np.fmin(out, _EXACT, out=out)  # fmin, not minimum: NaN gives way too


def _eligible_travel_max(p: Problem, pick: _Pick, work: NDArray[np.float64], n: int) -> float:
    """The largest rounded travel time of an eligible pair among the first ``n`` rows."""
    tmax = 0.0
    for a in range(0, n, _BLOCK):
        block = work[: min(_BLOCK, n - a)]
        _rounded(pick(p.travel_s, a), block, False)
        np.multiply(block, pick(dense(p.eligible), a), out=block)
        tmax = max(tmax, float(block.max(initial=0.0)))
    return tmax


def _identity(order: NDArray[np.intp], n: int) -> bool:
    return order.size == n and bool(np.array_equal(order, np.arange(n)))
