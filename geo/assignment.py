"""People-to-need matching: who goes where, and why a need is left short.

A *need* asks for ``people`` persons with a set of skills for ``duration_h``
hours in a community. A *candidate* is an on-duty person or a partner-unit team
(``size`` persons) at a location, with skills, pairings and hours already
worked today.

Rules (both policies):

* skills: a candidate is eligible only if its skill set contains every skill
  the need requires (for a team, the team's declared skills are taken to be
  held by each member it sends);
* hours: ``hours_worked + duration_h <= hours_limit`` (default 8 h);
* reach: the travel time must be finite, and within ``max_travel_s`` if set;
* each person serves at most one need per call; a team's members may be split
  across needs (units are people, not teams).

The ``exact`` policy optimises lexicographically: first the number of people
staffed, then the number of *non-preferred* people (preferred: the candidate
is paired with the need's community, or lives there), then total travel
seconds, with cost ``non_preferred * BIG + travel`` per person, where ``BIG``
exceeds any total travel, so the order is strict. ``geo.assignment_exact``
solves it as one min-cost max-flow (OR-Tools) or, at city size, as one dense
``scipy.optimize.linear_sum_assignment`` over copies of teams and of
multi-person needs (same objective; why that is exact is written there);
``AssignOptions.solver`` picks, ``auto`` by size. Inputs are sorted by id, so
ties break deterministically.
The ``greedy`` baseline staffs needs one at a time (larger needs first) from
their preferred, then nearest, eligible candidates.

Every need left short gets reasons: ``no_skill`` (no one has all the required
skills), ``over_hours`` (all who have them are over the daily limit),
``unreachable`` (those left can't reach it), ``all_assigned`` (eligible people
exist but are staffed elsewhere).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

from geo.assignment_exact import Problem, Solver, solve_exact, solve_unchecked
from geo.assignment_rules import Grouped, Mask, Rules, dense, expand, rules
from geo.greedy import fill
from geo.network import RoadState, Snapper, Vehicle
from geo.routing import Router

# the skills every district starts with (the skills table is seeded with them; a commander
# may add more): scenarios may name them, and the matching benchmark draws from them
BUILTIN_SKILLS: tuple[str, ...] = (
    "first_aid",
    "driving",
    "electrician",
    "plumbing",
    "counselling",
    "elderly_care",
    "lifting",
    "medical",
    "interpreting",
)

__all__ = [
    "BUILTIN_SKILLS",
    "SHORT_REASONS",
    "WALK_OR_RIDE",
    "AssignOptions",
    "Assignment",
    "AssignmentResult",
    "Candidate",
    "Need",
    "Placed",
    "ShortNeed",
    "ShortReason",
    "assign",
    "assign_people",
    "eligibility",
    "preference",
    "preferred_mask",
    "travel_times_to",
]

ShortReason = Literal["no_skill", "over_hours", "unreachable", "all_assigned"]
SHORT_REASONS: tuple[ShortReason, ...] = ("no_skill", "over_hours", "unreachable", "all_assigned")
WALK_OR_RIDE = Vehicle("tricycle", 15.0)  # people get there by e-bike or on foot: lanes allowed
_CACHED_BYTES = 1 << 20  # a block of the travel matrix that stays in a core's cache


@dataclass(frozen=True, kw_only=True)
class Placed:
    """Where a need or a candidate is: a road node, or a position to snap (keyword only)."""

    node: int | None = None
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class Need(Placed):
    """A community needs ``people`` persons with ``skills`` for ``duration_h`` hours."""

    id: str
    community: str
    people: int
    skills: frozenset[str] = frozenset()
    duration_h: float = 1.0


@dataclass(frozen=True)
class Candidate(Placed):
    """An on-duty person (``size`` 1) or a partner-unit team of ``size`` persons."""

    id: str
    kind: Literal["person", "team"] = "person"
    size: int = 1
    skills: frozenset[str] = frozenset()
    community: str | None = None  # home community (residents are preferred there)
    paired_communities: frozenset[str] = frozenset()
    hours_worked: float = 0.0


@dataclass(frozen=True)
class AssignOptions:
    policy: Literal["exact", "greedy"] = "exact"
    hours_limit: float = 8.0
    max_travel_s: float | None = None
    # the exact policy's solver: "flow", "assignment" or "auto" (see geo.assignment_exact)
    solver: Solver = "auto"


@dataclass(frozen=True)
class Assignment:
    need_id: str
    candidate_id: str
    people: int
    travel_s: float
    preferred: Literal["paired", "resident", "other"]

    @property
    def explanation(self) -> str:
        why = {"paired": "paired with the community", "resident": "lives in the community"}
        reason = why.get(self.preferred, "nearest eligible")
        return (
            f"{self.people} from {self.candidate_id}: {reason}, {self.travel_s / 60:.1f} min away"
        )


@dataclass(frozen=True)
class ShortNeed:
    need_id: str
    community: str
    missing: int
    reason: ShortReason
    explanation: str


@dataclass(frozen=True)
class AssignmentResult:
    policy: str
    assignments: tuple[Assignment, ...]
    short: tuple[ShortNeed, ...]
    staffed: int  # people assigned
    non_preferred: int  # people assigned who are neither paired nor resident
    travel_cost: int  # sum over people of integer travel seconds
    runtime_s: float
    timings: Mapping[str, float] = field(default_factory=dict)

    @property
    def objective(self) -> tuple[int, int, int]:
        """Smaller is better, lexicographically: (-staffed, non_preferred, travel)."""
        return (-self.staffed, self.non_preferred, self.travel_cost)


def preference(need: Need, candidate: Candidate) -> Literal["paired", "resident", "other"]:
    if need.community in candidate.paired_communities:
        return "paired"
    if candidate.community == need.community:
        return "resident"
    return "other"


def _links(
    needs: Sequence[Need], candidates: Sequence[Candidate]
) -> tuple[NDArray[np.bool_], NDArray[np.intp], NDArray[np.intp]]:
    """Distinct (home, paired communities) of the candidates (a community's residents share
    one) x the needs' communities: linked or not; each candidate's row, each need's column."""
    col = {code: k for k, code in enumerate(sorted({n.community for n in needs}))}
    index: dict[tuple[str | None, frozenset[str]], int] = {}
    group = np.array(
        [index.setdefault((c.community, c.paired_communities), len(index)) for c in candidates],
        dtype=np.intp,
    )
    linked = np.zeros((len(index), len(col)), dtype=bool)
    for (home, paired), g in index.items():
        linked[g, [col[code] for code in (home, *paired) if code in col]] = True
    return linked, group, np.array([col[n.community] for n in needs], dtype=np.intp)


def preferred_mask(needs: Sequence[Need], candidates: Sequence[Candidate]) -> NDArray[np.bool_]:
    """Candidates x needs: paired with, or resident of, the need's community."""
    return expand(*_links(needs, candidates))


def _non_preferred(needs: Sequence[Need], candidates: Sequence[Candidate]) -> Grouped:
    """``~preferred_mask``, kept small (the solvers read entries or rows of it)."""
    linked, group, cols = _links(needs, candidates)
    return Grouped(~linked, group, cols)


def _rules(needs: Sequence[Need], candidates: Sequence[Candidate], options: AssignOptions) -> Rules:
    return rules(
        [n.skills for n in needs],
        [n.duration_h for n in needs],
        [c.skills for c in candidates],
        [c.hours_worked for c in candidates],
        options.hours_limit,
    )


def _reach(travel_s: NDArray[np.float64], options: AssignOptions) -> NDArray[np.bool_]:
    reach = np.isfinite(travel_s)
    if options.max_travel_s is not None:
        reach &= travel_s <= options.max_travel_s
    return reach


def eligibility(
    needs: Sequence[Need],
    candidates: Sequence[Candidate],
    travel_s: NDArray[np.float64],
    options: AssignOptions,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_]]:
    """(has the skills, within hours, reachable) as candidates x needs masks.

    Skills and hours are judged once per pair of groups (``geo.assignment_rules``), then
    copied out: no loop, and no full-size product, per pair.
    """
    r = _rules(needs, candidates, options)
    return r.skilled(), r.in_hours(), _reach(travel_s, options)


def _validate(needs: Sequence[Need], candidates: Sequence[Candidate]) -> None:
    if len({n.id for n in needs}) != len(needs):
        raise ValueError("need ids must be unique")
    if len({c.id for c in candidates}) != len(candidates):
        raise ValueError("candidate ids must be unique")
    if any(c.size < 1 for c in candidates) or any(n.people < 0 for n in needs):
        raise ValueError("team sizes must be >= 1 and needed people >= 0")


def assign(
    needs: Sequence[Need],
    candidates: Sequence[Candidate],
    travel_s: NDArray[np.float64],
    *,
    options: AssignOptions = AssignOptions(),
) -> AssignmentResult:
    """Match candidates to needs on a (candidates x needs) matrix of travel seconds.

    Examples
    --------
    Two first-aiders are needed; the one without the skill is not sent:

    >>> import numpy as np
    >>> needs = [Need("n1", "Andingmen", 2, frozenset({"first_aid"}))]
    >>> aid = frozenset({"first_aid"})
    >>> people = [Candidate("p1", skills=aid), Candidate("p2", skills=aid), Candidate("p3")]
    >>> result = assign(needs, people, np.array([[60.0], [120.0], [30.0]]))
    >>> [(a.candidate_id, a.people) for a in result.assignments], result.short
    ([('p1', 1), ('p2', 1)], ())
    """
    started = time.perf_counter()
    _validate(needs, candidates)
    # row-major, as every mask below: mixed layouts make each whole-matrix step slower
    travel_s = np.ascontiguousarray(travel_s, dtype=float).reshape(len(candidates), len(needs))
    judged = _rules(needs, candidates, options)
    matching, flows = _solve(
        _Matching(
            needs,
            candidates,
            travel_s,
            eligible=judged.timely(),
            non_pref=_non_preferred(needs, candidates),
            c_order=sorted(range(len(candidates)), key=lambda i: candidates[i].id),
            n_order=sorted(range(len(needs)), key=lambda j: needs[j].id),
        ),
        options,
    )
    solved = time.perf_counter()
    result = _result(matching, flows, judged, options)
    done = time.perf_counter()
    return AssignmentResult(
        **{
            **result.__dict__,
            "runtime_s": done - started,
            "timings": {"solve_s": solved - started, "explain_s": done - solved},
        }
    )


def _finite_max(travel_s: NDArray[np.float64]) -> float | None:
    """The largest travel time (at least 0) if every one is finite, else None: the largest
    and the smallest (NaN and -inf show in them) of each block of rows while it is in
    cache, one pass over the matrix and no full-size ``isfinite`` mask."""
    rows = max(1, _CACHED_BYTES // max(1, travel_s.itemsize * travel_s.shape[1]))
    top = 0.0
    for a in range(0, travel_s.shape[0] if travel_s.shape[1] else 0, rows):
        block = travel_s[a : a + rows]
        hi, lo = float(block.max()), float(block.min())
        if not (math.isfinite(hi) and math.isfinite(lo)):
            return None
        top = max(top, hi)
    return top


@dataclass(frozen=True)
class _Matching:
    """One matching problem as both policies read it: who is eligible for what, who is
    not preferred there, travel seconds, candidates and needs in id order; the largest
    travel time if every one is reachable; whether every pair is known to be reachable
    (``eligible`` is then the skill and hour rules alone)."""

    needs: Sequence[Need]
    candidates: Sequence[Candidate]
    travel_s: NDArray[np.float64]
    eligible: Mask
    non_pref: Grouped
    c_order: Sequence[int]
    n_order: Sequence[int]
    travel_max: float | None = None
    reachable: bool = False


def _solve(p: _Matching, options: AssignOptions) -> tuple[_Matching, list[tuple[int, int, int]]]:
    """The flows, and the problem as solved. ``p.eligible`` holds the skill and hour rules
    only. Without a travel limit the dense assignment is tried first on the hope that every
    travel time is finite (it checks those it reads: no pass over the matrix beforehand);
    otherwise, or if that hope fails, reach is checked and applied, then solved as usual."""
    if options.policy == "exact" and options.max_travel_s is None:
        flows = solve_unchecked(_problem(p, unchecked=True), options.solver)
        if flows is not None:
            return replace(p, reachable=True), flows
    travel_max = _finite_max(p.travel_s) if options.max_travel_s is None else None
    eligible = p.eligible
    if travel_max is None:  # some travel time is infinite, or there is a limit: the mask
        reach = _reach(p.travel_s, options)
        eligible = dense(eligible) & reach
        travel_max = max(float(p.travel_s.max(initial=0.0)), 0.0) if reach.all() else None
    p = replace(p, eligible=eligible, travel_max=travel_max, reachable=travel_max is not None)
    if options.policy == "exact":
        return p, solve_exact(_problem(p), options.solver)
    return p, _greedy(p)


def _problem(p: _Matching, *, unchecked: bool = False) -> Problem:
    """The problem as ``geo.assignment_exact`` solves it (min-cost flow or dense
    assignment); ``unchecked``: travel times not checked yet (``solve_unchecked``)."""
    return Problem(
        travel_s=p.travel_s,
        eligible=p.eligible,
        non_pref=p.non_pref,
        size=np.array([c.size for c in p.candidates], dtype=np.int64),
        want=np.array([n.people for n in p.needs], dtype=np.int64),
        c_order=np.asarray(p.c_order, dtype=np.intp),
        n_order=np.asarray(p.n_order, dtype=np.intp),
        travel_max=p.travel_max,
        unchecked=unchecked,
    )


def _greedy(p: _Matching) -> list[tuple[int, int, int]]:
    """Larger needs first; each from its preferred, then nearest, eligible candidates."""
    needs, candidates, c_order, n_order = p.needs, p.candidates, p.c_order, p.n_order
    travel_s, eligible, non_pref = p.travel_s, dense(p.eligible), p.non_pref.full()
    left = {i: candidates[i].size for i in c_order}
    rank = {i: r for r, i in enumerate(c_order)}
    out: list[tuple[int, int, int]] = []
    for j in sorted(n_order, key=lambda j: (-needs[j].people, needs[j].id)):
        want = needs[j].people
        pool = sorted(
            (i for i in np.flatnonzero(eligible[:, j]).tolist() if left[i] > 0),
            key=lambda i: (non_pref[i, j], travel_s[i, j], rank[i]),
        )
        fill(j, want, pool, left, out)
    return out


def _result(
    p: _Matching,
    flows: Sequence[tuple[int, int, int]],
    judged: Rules,
    options: AssignOptions,
) -> AssignmentResult:
    needs, candidates = p.needs, p.candidates
    ci, nj, q = np.array(flows, dtype=np.int64).reshape(-1, 3).T
    seconds = p.travel_s[ci, nj]
    labels = [
        preference(needs[j], candidates[i]) for i, j in zip(ci.tolist(), nj.tolist(), strict=True)
    ]
    assignments = tuple(
        sorted(
            (
                Assignment(needs[j].id, candidates[i].id, n, t, label)
                for i, j, n, t, label in zip(
                    ci.tolist(), nj.tolist(), q.tolist(), seconds.tolist(), labels, strict=True
                )
            ),
            key=lambda a: (a.need_id, a.travel_s, a.candidate_id),
        )
    )
    want = np.array([n.people for n in needs], dtype=np.int64)
    missing = want - np.bincount(nj, weights=q, minlength=len(needs)).astype(np.int64)
    short = tuple(_short_needs(p, judged, missing, options)) if missing.any() else ()
    other = np.array([label == "other" for label in labels], dtype=bool)
    return AssignmentResult(
        policy=options.policy,
        assignments=assignments,
        short=short,
        staffed=int(q.sum()),
        non_preferred=int(q[other].sum()),
        # cost_of per person, vectorised: seconds rounded half up
        travel_cost=int(q @ np.floor(seconds + 0.5).astype(np.int64)),
        runtime_s=0.0,
    )


def _short_needs(
    p: _Matching, judged: Rules, missing: NDArray[np.int64], options: AssignOptions
) -> Iterator[ShortNeed]:
    """The needs left short, with reasons: skills and hours counted per group, and how many
    candidates are eligible (the same count when every pair is reachable)."""
    any_skilled, timely = judged.per_need()
    # every pair reachable: eligible is timely
    reachable = (
        timely if p.reachable else dense(p.eligible).view(np.uint8).sum(axis=0, dtype=np.int64)
    )
    for j in np.flatnonzero(missing > 0).tolist():
        found = (bool(any_skilled[j]), bool(timely[j] > 0), int(reachable[j]))
        yield _short_need(p.needs[j], int(missing[j]), judged.held, found, options)


def _short_need(
    need: Need,
    missing: int,
    held: frozenset[str],
    found: tuple[bool, bool, int],
    options: AssignOptions,
) -> ShortNeed:
    """The first rule that leaves the need short, in the order skills, hours, reach, taken;
    ``found``: whether anyone has the skills, whether anyone with them is within hours, how
    many of those can reach it (eligible); ``held``: every skill anyone has."""
    any_skilled, any_in_hours, n = found
    skills = ", ".join(sorted(need.skills)) or "no particular skill"
    if not any_skilled:
        lacking = sorted(need.skills - held)
        if lacking:
            why = f"no one with skill {', '.join(lacking)}"
        else:
            why = f"no one has all of {skills}"
        reason: ShortReason = "no_skill"
    elif not any_in_hours:
        reason = "over_hours"
        why = (
            f"everyone with {skills} is over hours ({need.duration_h:g} h more would pass "
            f"the {options.hours_limit:g} h limit)"
        )
    elif n == 0:
        reason = "unreachable"
        why = f"no one with {skills} within reach"
    else:
        reason = "all_assigned"
        why = f"all {n} eligible candidates with {skills} are assigned to other needs"
    return ShortNeed(need.id, need.community, missing, reason, f"short of {missing}: {why}")


# ---------------------------------------------------------------------------
# On the road network
# ---------------------------------------------------------------------------


def _node(
    record: Need | Candidate,
    snapper: Snapper | None,
    community_nodes: Mapping[str, int],
) -> int:
    if record.node is not None:
        return record.node
    if record.lat is not None and record.lon is not None and snapper is not None:
        return snapper.nearest_node(record.lat, record.lon)
    if record.community is not None and record.community in community_nodes:
        return community_nodes[record.community]
    raise ValueError(f"{record.id} needs a node, lat/lon or a known community")


def travel_times_to(
    state: RoadState,
    router: Router,
    sources: Sequence[int],
    targets: Sequence[int],
    *,
    vehicle: Vehicle = WALK_OR_RIDE,
    limit_s: float | None = None,
) -> NDArray[np.float64]:
    """Seconds from each source node to each target node, searching back from the targets.

    With many people and few needs, one search per need on the reversed graph
    is far cheaper than one per person.
    """
    matrix = router.compile(state, vehicle=vehicle).matrix
    uniq = sorted(set(targets))
    dist = dijkstra(
        matrix.T.tocsr(),
        directed=True,
        indices=[state.network.index[t] for t in uniq],
        limit=np.inf if limit_s is None else limit_s,
    )
    col = {t: k for k, t in enumerate(uniq)}
    rows = [state.network.index[s] for s in sources]
    # sources x distinct targets first (small), then one column per need: row-major, as
    # the matching reads it
    by_target = np.ascontiguousarray(dist.reshape(len(uniq), -1)[:, rows].T)
    out: NDArray[np.float64] = by_target.take([col[t] for t in targets], axis=1)
    return out.reshape(len(sources), len(targets))


def assign_people(
    needs: Sequence[Need],
    candidates: Sequence[Candidate],
    state: RoadState,
    router: Router,
    *,
    options: AssignOptions = AssignOptions(),
    community_nodes: Mapping[str, int] | None = None,
    snapper: Snapper | None = None,
    vehicle: Vehicle = WALK_OR_RIDE,
) -> AssignmentResult:
    """Match on the road network: travel times by ``vehicle`` (default e-bike), then assign.

    A candidate without a node or lat/lon is placed at its home community's
    node (``community_nodes``).
    """
    started = time.perf_counter()
    nodes_known = community_nodes or {}
    located = [(r.node, r.lat) for r in needs] + [(r.node, r.lat) for r in candidates]
    if snapper is None and any(node is None and lat is not None for node, lat in located):
        snapper = Snapper(state.network, state.network.usable_nodes(vehicle))
    need_nodes = [_node(n, snapper, nodes_known) for n in needs]
    cand_nodes = [_node(c, snapper, nodes_known) for c in candidates]
    travel = travel_times_to(
        state, router, cand_nodes, need_nodes, vehicle=vehicle, limit_s=options.max_travel_s
    )
    matrix_done = time.perf_counter()
    result = assign(needs, candidates, travel, options=options)
    timings = {"matrix_s": matrix_done - started, **result.timings}
    timings["total_s"] = time.perf_counter() - started
    return AssignmentResult(
        **{**result.__dict__, "timings": timings, "runtime_s": timings["total_s"]}
    )
