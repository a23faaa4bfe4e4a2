"""People-to-need matching: exact against greedy and scipy's assignment solver."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from geo.assignment import (
    SHORT_REASONS,
    WALK_OR_RIDE,
    AssignmentResult,
    AssignOptions,
    Candidate,
    Need,
    assign,
    assign_people,
    eligibility,
    preferred_mask,
    travel_times_to,
)
from geo.assignment_exact import Problem, _costs
from geo.assignment_rules import Grouped
from geo.network import RoadState
from geo.planning import cost_of
from geo.routing import Router

SKILLS = ("first_aid", "driving", "lifting")
COMMUNITIES = ("C1", "C2", "C3")


@st.composite
def instances(
    draw: st.DrawFn, singles: bool = False, most_needs: int = 5, most_candidates: int = 8
) -> tuple[list[Need], list[Candidate], np.ndarray, AssignOptions]:
    k = draw(st.integers(1, most_needs))
    m = draw(st.integers(1, most_candidates))
    skill_sets = st.frozensets(st.sampled_from(SKILLS), max_size=2)
    needs = [
        Need(
            f"N{j}",
            draw(st.sampled_from(COMMUNITIES)),
            1 if singles else draw(st.integers(0, 4)),
            draw(skill_sets),
            draw(st.sampled_from([1.0, 2.0, 4.0])),
        )
        for j in range(k)
    ]
    candidates = []
    for i in range(m):
        team = not singles and draw(st.booleans())
        candidates.append(
            Candidate(
                f"P{i}",
                "team" if team else "person",
                draw(st.integers(2, 4)) if team else 1,
                draw(st.frozensets(st.sampled_from(SKILLS), max_size=3)),
                draw(st.sampled_from((*COMMUNITIES, None))),
                draw(st.frozensets(st.sampled_from(COMMUNITIES), max_size=1)),
                draw(st.sampled_from([0.0, 3.0, 6.0, 7.5])),
            )
        )
    # all finite (the costs' one-pass case) or some unreachable
    finite = st.floats(10.0, 3000.0)
    cell = finite if draw(st.booleans()) else st.one_of(st.just(math.inf), finite)
    travel = np.array(
        draw(st.lists(st.lists(cell, min_size=k, max_size=k), min_size=m, max_size=m))
    )
    options = AssignOptions(max_travel_s=draw(st.sampled_from([None, 2000.0])))
    return needs, candidates, travel, options


def _check_feasible(
    result: AssignmentResult,
    needs: list[Need],
    candidates: list[Candidate],
    travel: np.ndarray,
    options: AssignOptions,
) -> None:
    skilled, in_hours, reach = eligibility(needs, candidates, travel, options)
    ok = skilled & in_hours & reach
    n_index = {n.id: j for j, n in enumerate(needs)}
    c_index = {c.id: i for i, c in enumerate(candidates)}
    used: dict[str, int] = defaultdict(int)
    staffed: dict[str, int] = defaultdict(int)
    for a in result.assignments:
        i, j = c_index[a.candidate_id], n_index[a.need_id]
        assert ok[i, j] and a.people > 0
        assert needs[j].skills <= candidates[i].skills
        assert candidates[i].hours_worked + needs[j].duration_h <= options.hours_limit
        used[a.candidate_id] += a.people
        staffed[a.need_id] += a.people
    for c in candidates:
        assert used[c.id] <= c.size
    short = {s.need_id: s for s in result.short}
    for n in needs:
        assert staffed[n.id] <= n.people
        if staffed[n.id] < n.people:
            assert short[n.id].missing == n.people - staffed[n.id]
            assert short[n.id].reason in SHORT_REASONS and short[n.id].explanation
        else:
            assert n.id not in short
    assert result.staffed == sum(staffed.values())
    _check_reasons(result, needs, candidates, travel, options)


def _check_reasons(
    result: AssignmentResult,
    needs: list[Need],
    candidates: list[Candidate],
    travel: np.ndarray,
    options: AssignOptions,
) -> None:
    """Each short need's reason is the first rule no one passes (skills, hours, reach), else
    all assigned, with the count of eligible candidates: from the full masks, cell by cell."""
    skilled, in_hours, reach = eligibility(needs, candidates, travel, options)
    for s in result.short:
        j = next(j for j, n in enumerate(needs) if n.id == s.need_id)
        column = [(skilled[i, j], in_hours[i, j], reach[i, j]) for i in range(len(candidates))]
        eligible = sum(1 for a, b, c in column if a and b and c)
        if not any(a for a, _, _ in column):
            assert s.reason == "no_skill"
        elif not any(a and b for a, b, _ in column):
            assert s.reason == "over_hours"
        elif eligible == 0:
            assert s.reason == "unreachable"
        else:
            assert s.reason == "all_assigned"
            assert f"all {eligible} eligible candidates" in s.explanation


@settings(max_examples=200, deadline=None)
@given(instances())
def test_exact_is_never_worse_than_greedy(
    inst: tuple[list[Need], list[Candidate], np.ndarray, AssignOptions],
) -> None:
    needs, candidates, travel, options = inst
    exact = assign(needs, candidates, travel, options=options)
    greedy = assign(
        needs, candidates, travel, options=AssignOptions(**{**options.__dict__, "policy": "greedy"})
    )
    _check_feasible(exact, needs, candidates, travel, options)
    _check_feasible(greedy, needs, candidates, travel, options)
    assert exact.objective <= greedy.objective
    assert assign(needs, candidates, travel, options=options).assignments == exact.assignments


def _lsa_objective(
    needs: list[Need], candidates: list[Candidate], travel: np.ndarray, options: AssignOptions
) -> tuple[int, int, int]:
    skilled, in_hours, reach = eligibility(needs, candidates, travel, options)
    ok = skilled & in_hours & reach
    non_pref = ~preferred_mask(needs, candidates)
    t = np.where(ok, np.floor(np.where(np.isfinite(travel), travel, 0) + 0.5), 0).astype(np.int64)
    big = int(t.max(initial=0)) * min(len(needs), len(candidates)) + 1
    cost = non_pref.astype(np.int64) * big + t
    huge = (int(cost.max(initial=0)) + 1) * (min(len(needs), len(candidates)) + 1)
    rows, cols = linear_sum_assignment(np.where(ok, cost, huge))
    pairs = [(i, j) for i, j in zip(rows, cols, strict=True) if ok[i, j]]
    return (
        -len(pairs),
        int(sum(non_pref[i, j] for i, j in pairs)),
        int(sum(cost_of(float(travel[i, j])) for i, j in pairs)),
    )


@settings(max_examples=200, deadline=None)
@given(instances(singles=True))
def test_exact_matches_linear_sum_assignment_on_one_person_needs(
    inst: tuple[list[Need], list[Candidate], np.ndarray, AssignOptions],
) -> None:
    needs, candidates, travel, options = inst
    exact = assign(needs, candidates, travel, options=options)
    assert exact.objective == _lsa_objective(needs, candidates, travel, options)


@settings(max_examples=200, deadline=None)
@given(instances(), st.booleans())
def test_dense_assignment_matches_the_flow(
    inst: tuple[list[Need], list[Candidate], np.ndarray, AssignOptions], singles: bool
) -> None:
    """The fast path (copies of teams and of multi-person needs in one dense assignment)
    reaches the min-cost flow's objective, feasibly; also with everyone a single person
    wanted by one-person needs (the city-size case)."""
    needs, candidates, travel, options = inst
    if singles:
        needs = [replace(n, people=min(n.people, 1)) for n in needs]
        candidates = [replace(c, kind="person", size=1) for c in candidates]
    flow = assign(needs, candidates, travel, options=replace(options, solver="flow"))
    fast = assign(needs, candidates, travel, options=replace(options, solver="assignment"))
    _check_feasible(fast, needs, candidates, travel, options)
    assert fast.objective == flow.objective  # (which need is left short may differ)
    again = assign(needs, candidates, travel, options=replace(options, solver="assignment"))
    assert again.assignments == fast.assignments


def _brute_objective(
    needs: list[Need], candidates: list[Candidate], travel: np.ndarray, options: AssignOptions
) -> tuple[int, int, int]:
    """The best (-staffed, non-preferred, travel) over every feasible integral flow, by
    enumeration: each candidate in turn spreads at most its size over the needs it is
    eligible for, within what each need still wants (tiny instances only)."""
    skilled, in_hours, reach = eligibility(needs, candidates, travel, options)
    ok = skilled & in_hours & reach
    other = ~preferred_mask(needs, candidates)

    def best(i: int, left: tuple[int, ...]) -> tuple[int, int, int]:
        if i == len(candidates):
            return (0, 0, 0)
        found = None
        ranges = [
            range(min(candidates[i].size, left[j]) + 1) if ok[i, j] else range(1)
            for j in range(len(needs))
        ]
        for split in itertools.product(*ranges):
            if sum(split) > candidates[i].size:
                continue
            rest = best(i + 1, tuple(w - q for w, q in zip(left, split, strict=True)))
            here = (
                rest[0] - sum(split),
                rest[1] + sum(q for j, q in enumerate(split) if other[i, j]),
                rest[2] + sum(q * cost_of(float(travel[i, j])) for j, q in enumerate(split) if q),
            )
            found = here if found is None else min(found, here)
        assert found is not None
        return found

    return best(0, tuple(n.people for n in needs))


@settings(max_examples=300, deadline=None)
@given(instances(most_needs=3, most_candidates=4), st.booleans())
def test_both_solvers_reach_the_brute_force_optimum(
    inst: tuple[list[Need], list[Candidate], np.ndarray, AssignOptions], singles: bool
) -> None:
    """The dense assignment (the city-size path: copies, ineligible pairs at HUGE, a tall
    matrix built transposed) and the min-cost flow both reach the optimum found by
    enumeration, with teams, multi-person needs and pairs ruled out by skills, hours and
    reach; also with every need and candidate one person."""
    needs, candidates, travel, options = inst
    if singles:
        needs = [replace(n, people=min(n.people, 1)) for n in needs]
        candidates = [replace(c, kind="person", size=1) for c in candidates]
    brute = _brute_objective(needs, candidates, travel, options)
    for solver in ("assignment", "flow"):
        result = assign(needs, candidates, travel, options=replace(options, solver=solver))
        _check_feasible(result, needs, candidates, travel, options)
        assert result.objective == brute, solver


@pytest.mark.parametrize("odd", [math.inf, math.nan, -5.0, 1e11])
def test_unchecked_travel_falls_back_to_the_checked_path(odd: float) -> None:
    """The dense assignment first reads travel times unchecked; one that is not finite,
    negative or too long for its fixed bound sends the problem the usual way: unreachable
    pairs left out, the bounds taken from the times themselves."""
    rng = np.random.default_rng(3)
    m, k = 30, 20
    needs = [Need(f"N{j:02d}", COMMUNITIES[j % 3], 1 + j % 2) for j in range(k)]
    candidates = [Candidate(f"P{i:02d}", community=COMMUNITIES[i % 3]) for i in range(m)]
    travel = rng.uniform(10.0, 3000.0, size=(m, k))
    travel[4, 7] = odd
    fast = assign(needs, candidates, travel, options=AssignOptions(solver="assignment"))
    flow = assign(needs, candidates, travel, options=AssignOptions(solver="flow"))
    assert fast.objective == flow.objective
    if not math.isfinite(odd):
        assert ("N07", "P04") not in {(a.need_id, a.candidate_id) for a in fast.assignments}


@pytest.mark.parametrize("finite", [True, False])
def test_tall_costs_are_the_transpose(finite: bool) -> None:
    """More candidate copies than need copies: the matrix is built already transposed (so
    that linear_sum_assignment need not copy it out), entry for entry the transpose of the
    one built the other way round."""
    rng = np.random.default_rng(11)
    m, k = 70, 40
    travel = rng.uniform(10.0, 3000.0, size=(m, k))
    eligible = rng.random((m, k)) < 0.6
    if not finite:
        travel[rng.random((m, k)) < 0.1] = math.inf
        eligible &= np.isfinite(travel)
    problem = Problem(
        travel_s=travel,
        eligible=eligible,
        non_pref=Grouped(rng.random((m, k)) < 0.7, np.arange(m), np.arange(k)),
        size=rng.integers(1, 3, size=m),
        want=rng.integers(1, 3, size=k),
        c_order=np.arange(m),
        n_order=np.arange(k),
        travel_max=float(travel.max()) if finite else None,
    )
    row_of, col_of = np.repeat(np.arange(m), problem.size), np.repeat(np.arange(k), problem.want)
    r = min(row_of.size, col_of.size)
    wide = _costs(problem, row_of, col_of, r, tall=False)
    tall = _costs(problem, row_of, col_of, r, tall=True)
    assert wide is not None and tall is not None and wide[1] == tall[1]
    assert tall[0].shape == wide[0].T.shape
    assert np.array_equal(tall[0], wide[0].T)


def test_auto_solver_picks_by_size() -> None:
    """Small problems keep the flow (and its choice among equal people); large ones the
    dense assignment; both give the same objective."""
    rng = np.random.default_rng(5)
    m, k = 200, 150  # 30,000 pairs: above FLOW_ARCS
    needs = [Need(f"N{j:03d}", COMMUNITIES[j % 3], 1) for j in range(k)]
    candidates = [Candidate(f"P{i:03d}", community=COMMUNITIES[i % 3]) for i in range(m)]
    travel = rng.uniform(10.0, 3000.0, size=(m, k))
    auto = assign(needs, candidates, travel)
    assert (
        auto.assignments
        == assign(needs, candidates, travel, options=AssignOptions(solver="assignment")).assignments
    )
    assert (
        auto.objective
        == assign(needs, candidates, travel, options=AssignOptions(solver="flow")).objective
    )
    small = assign(needs[:10], candidates[:10], travel[:10, :10])
    assert (
        small.assignments
        == assign(
            needs[:10], candidates[:10], travel[:10, :10], options=AssignOptions(solver="flow")
        ).assignments
    )


def test_short_reasons() -> None:
    needs = [
        Need("medic", "C1", 1, frozenset({"medical"})),
        Need("tired", "C1", 1, frozenset({"lifting"}), duration_h=4.0),
        Need("far", "C2", 1, frozenset({"driving"})),
        Need("busy", "C1", 3, frozenset({"first_aid"})),
    ]
    candidates = [
        Candidate("lifter", skills=frozenset({"lifting"}), hours_worked=6.0),
        Candidate("driver", skills=frozenset({"driving"})),
        Candidate("aider", skills=frozenset({"first_aid"})),
    ]
    travel = np.array(
        [[10.0, 10.0, 10.0, 10.0], [10.0, 10.0, math.inf, 10.0], [10.0, 10.0, 10.0, 10.0]]
    )
    result = assign(needs, candidates, travel)
    reasons = {s.need_id: s for s in result.short}
    assert reasons["medic"].reason == "no_skill"
    assert "no one with skill medical" in reasons["medic"].explanation
    assert reasons["tired"].reason == "over_hours"
    assert "over hours" in reasons["tired"].explanation
    assert reasons["far"].reason == "unreachable"
    assert "no one with driving within reach" in reasons["far"].explanation
    assert reasons["busy"].reason == "all_assigned" and reasons["busy"].missing == 2


def test_paired_and_residents_are_preferred_over_nearer_strangers() -> None:
    needs = [Need("n", "C1", 2)]
    candidates = [
        Candidate("stranger", community="C9"),
        Candidate("paired-team", "team", 1, paired_communities=frozenset({"C1"})),
        Candidate("resident", community="C1"),
    ]
    travel = np.array([[60.0], [900.0], [600.0]])
    result = assign(needs, candidates, travel)
    assert {a.candidate_id for a in result.assignments} == {"paired-team", "resident"}
    assert {a.preferred for a in result.assignments} == {"paired", "resident"}
    assert "paired with the community" in next(
        a.explanation for a in result.assignments if a.candidate_id == "paired-team"
    )
    # Staffing comes first: with three needed, the stranger goes too.
    more = assign([Need("n", "C1", 3)], candidates, travel)
    assert more.staffed == 3 and more.non_preferred == 1


def test_assign_people_on_dongcheng(
    router: Router, base_state: RoadState, community_nodes: dict[str, int]
) -> None:
    codes = sorted(community_nodes)
    needs = [Need(f"n{k}", codes[k * 7], 2, frozenset({"first_aid"}), 2.0) for k in range(10)]
    candidates = [
        Candidate(f"p{k}", skills=frozenset({"first_aid", "driving"}), community=codes[k * 3])
        for k in range(40)
    ]
    result = assign_people(needs, candidates, base_state, router, community_nodes=community_nodes)
    assert result.staffed == 20 and not result.short
    assert set(result.timings) >= {"matrix_s", "solve_s", "total_s"}
    # The reverse search gives the same times as forward searches from each person.
    sources = [community_nodes[codes[k * 3]] for k in range(5)]
    targets = [community_nodes[codes[k * 7]] for k in range(4)]
    back = travel_times_to(base_state, router, sources, targets)
    forward = router.travel_matrix(base_state, sources, targets, vehicle=WALK_OR_RIDE).times_s
    np.testing.assert_allclose(back, forward, rtol=1e-9)
    with pytest.raises(ValueError, match="needs a node"):
        assign_people([Need("x", "nowhere", 1)], candidates, base_state, router)
