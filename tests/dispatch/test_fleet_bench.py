"""`dispatch bench fleet dongcheng`'s case is the district's own: the demo fleet of each
depot the rainstorm plan sends from, the plan's loads as its stops, and the summary line
in the form a script reads."""

from __future__ import annotations

import csv
import re

from dispatch.exercises import scenario as sc
from dispatch.exercises.replay import reference, scenarios_dir
from dispatch.fleet.bench import dongcheng_problems
from geo.bench_fleet import compare, summary_line
from geo.network import DATA_DIR


def _requested_kg() -> float:
    """What the scenario's requests weigh, from its file and the catalogue."""
    scenario = sc.load_scenario(scenarios_dir() / "rainstorm_pingfang.yaml", reference())
    with (DATA_DIR / "items.csv").open(encoding="utf-8") as fh:
        kg = {r["code"]: float(r["weight_kg"] or 0) for r in csv.DictReader(fh)}
    return sum(e.quantity * kg[e.item] for e in scenario.events if isinstance(e, sc.Request))


def _depot_kinds() -> dict[str, str]:
    with (DATA_DIR / "depots.csv").open(encoding="utf-8") as fh:
        return {r["code"]: r["kind"] for r in csv.DictReader(fh)}


def test_the_dongcheng_case_routes_the_plans_loads_on_each_depots_fleet() -> None:
    problems = dongcheng_problems()
    assert problems
    kinds = _depot_kinds()
    for problem in problems:
        depots = {v.depot for v in problem.vehicles}
        assert len(depots) == 1  # a depot's goods leave on its own vehicles
        fleet = sorted(v.kind for v in problem.vehicles)
        source = problem.vehicles[0].id.split("-")[0]
        if kinds[source] == "district_reserve":
            assert fleet == ["truck", "truck", "van", "van", "van"]
        else:
            assert fleet.count("van") == 1 and 1 <= fleet.count("tricycle") <= 2
        assert all(s.weight_kg > 0 and 0 <= s.priority <= 2 for s in problem.stops)
    sent = sum(s.weight_kg for p in problems for s in p.stops)
    assert 0 < sent <= _requested_kg()  # the plan's loads: what stock allows of what was asked


def test_the_summary_line_reads_as_a_script_expects() -> None:
    smallest = min(dongcheng_problems(), key=lambda p: len(p.stops))
    line = summary_line("dongcheng", compare(smallest, 0.05, reference_factor=2))
    assert re.fullmatch(r"fleet dongcheng: gap \d+\.\d % in \d+\.\d\d s, vehicles \d+", line), line
