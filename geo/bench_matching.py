"""The matching benchmark (``python -m geo.bench matching``): people to needs at scale."""

from __future__ import annotations

import csv
from collections.abc import Sequence

import numpy as np

from geo.assignment import (
    BUILTIN_SKILLS,
    WALK_OR_RIDE,
    AssignOptions,
    Candidate,
    Need,
    assign_people,
)
from geo.network import (
    DATA_DIR,
    RoadState,
    Snapper,
    load_dongcheng_network,
)
from geo.routing import Router

__all__ = [
    "SKILLS",
    "matching_instance",
    "run_matching_bench",
]

SKILLS = BUILTIN_SKILLS


def matching_instance(
    n_needs: int, n_people: int, communities: Sequence[str], *, seed: int = 3
) -> tuple[list[Need], list[Candidate]]:
    """A random instance: needs in communities, people and a few teams living in them."""
    rng = np.random.default_rng(seed)

    def skill_set(k: int) -> frozenset[str]:
        return frozenset(str(s) for s in rng.choice(SKILLS, size=k, replace=False))

    needs = [
        Need(
            f"N{j:04d}",
            str(rng.choice(communities)),
            int(rng.integers(1, 9)),
            skill_set(int(rng.choice(3, p=[0.4, 0.45, 0.15]))),
            float(rng.choice([1.0, 2.0, 4.0])),
        )
        for j in range(n_needs)
    ]
    candidates = []
    for i in range(n_people):
        team = rng.random() < 0.03
        candidates.append(
            Candidate(
                f"P{i:05d}",
                "team" if team else "person",
                int(rng.integers(3, 9)) if team else 1,
                skill_set(int(rng.integers(1, 4))),
                str(rng.choice(communities)),
                frozenset(str(c) for c in rng.choice(communities, size=2)) if team else frozenset(),
                float(rng.choice([0.0, 0.0, 2.0, 4.0, 6.0, 7.5])),
            )
        )
    return needs, candidates


def run_matching_bench(*, n_needs: int = 500, n_people: int = 3000) -> str:
    """500 needs x 3,000 people in Dongcheng (synthetic roads): exact against greedy."""
    network = load_dongcheng_network()
    state = RoadState(network)
    snapper = Snapper(network, network.usable_nodes(WALK_OR_RIDE))
    with (DATA_DIR / "communities.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    community_nodes = {
        r["code"]: snapper.nearest_node(float(r["lat"]), float(r["lon"])) for r in rows
    }
    needs, candidates = matching_instance(n_needs, n_people, sorted(community_nodes))
    lines = [f"Matching: {n_needs} needs x {n_people} candidates on the synthetic Dongcheng roads"]
    results = {}
    for policy in ("exact", "greedy"):
        best = None
        for _ in range(3):
            res = assign_people(
                needs,
                candidates,
                state,
                Router(network),
                options=AssignOptions(policy=policy),
                community_nodes=community_nodes,
                snapper=snapper,
            )
            if best is None or res.runtime_s < best.runtime_s:
                best = res
        assert best is not None
        results[policy] = best
        t = best.timings
        lines.append(
            f"  {policy:6s} matrix {t['matrix_s'] * 1000:7.1f} ms  "
            f"solve {t['solve_s'] * 1000:7.1f} ms"
            f"  explain {t['explain_s'] * 1000:6.1f} ms  total {t['total_s'] * 1000:7.1f} ms  "
            f"staffed {best.staffed}/{sum(n.people for n in needs)}  non-preferred "
            f"{best.non_preferred}  travel {best.travel_cost:,} person-s  short needs "
            f"{len(best.short)}"
        )
    better = results["exact"].objective <= results["greedy"].objective
    lines.append(f"  exact objective <= greedy objective (lexicographic): {better}")
    return "\n".join(lines)
