"""Many seeded runs of one scenario, paired across policies: `dispatch replay FILE --runs 50
--compare optimal nearest --jobs 2`.

Run i of every policy replays the scenario's draw for seed `first_seed + i`
(`scenario.drawn`), so the pairs differ only by policy. Runs go to worker processes, each
replay in a sandbox of its own (as every replay is), so `--jobs` replays run at once on
the one database; the figures of each run come back, not the whole report, and
`summary` gives per figure each policy's mean with its 95 % interval and the paired
difference with its interval and a sign test (`dispatch.exercises.statistics`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dispatch.exercises import scenario as sc
from dispatch.exercises.replay import Options, figure, reference, replay, with_pool
from dispatch.exercises.statistics import compare, summarise
from dispatch.spreadsheets import shutdown_readers

__all__ = ["BatchStopped", "Job", "figures_of", "run_batch", "summary"]

# figures a batch compares: the report's, but the wall time (the machine's, not the plan's)
COMPARED = tuple(f for f in sc.FIGURES if f != "wall_seconds")


class BatchStopped(Exception):
    """A batch asked to stop (`run_batch`'s `stopped`) ended before its last run."""


@dataclass(frozen=True)
class Job:
    path: str
    seed: int
    policy: str


def figures_of(report: dict[str, Any]) -> dict[str, Any]:
    """What a batch keeps of a run: its seed, policy, history hash and figures (the plans'
    too, when its scenario runs them)."""
    names = (*COMPARED, *(sc.PREPAREDNESS_FIGURES if "callouts" in report else ()))
    kept: dict[str, Any] = {name: figure(report, name) for name in names}
    kept.update(
        seed=report["seed"],
        policy=report["policy"],
        history_sha256=report["history_sha256"],
        bounds={b["bound"]: bool(b["ok"]) for b in report.get("expect", [])},
    )
    return kept


def run_one(job: Job) -> dict[str, Any]:
    """One run, in whatever process runs it (a worker's, or this one with --jobs 1)."""
    scenario = sc.load_scenario(Path(job.path), reference())
    concrete = dataclasses.replace(scenario, seed=job.seed)  # the replay draws its run
    options = Options(policy=job.policy)
    try:
        report = asyncio.run(with_pool(lambda: replay(concrete, options)))
    finally:
        # a replay that read a sheet started this process's readers: a worker process
        # waits at its exit for every process it started, and they never end on their own
        shutdown_readers()
    return figures_of(report)


def run_batch(
    path: Path,
    *,
    runs: int,
    policies: Sequence[str],
    first_seed: int,
    jobs: int = 1,
    on_done: Callable[[int, int], None] | None = None,
    in_workers: bool = False,
    stopped: Callable[[], bool] | None = None,
) -> list[dict[str, Any]]:
    """Every (seed, policy) run's figures, by seed then policy in the order given.

    `on_done(done, total)` is called as runs finish (a progress bar). Worker processes are
    started, never forked: a process with a database pool and threads does not fork well.
    With one job the runs are this process's unless `in_workers` (a server's: its pool is
    the engine's, which a replay here would take). `stopped()`, asked as runs finish,
    ends the batch early: runs not started are dropped (`BatchStopped`).
    """
    todo = [Job(str(path), first_seed + i, p) for i in range(runs) for p in policies]
    results: list[dict[str, Any]] = []

    def finished(result: dict[str, Any]) -> None:
        results.append(result)
        if on_done is not None:
            on_done(len(results), len(todo))
        if stopped is not None and stopped() and len(results) < len(todo):
            raise BatchStopped(f"stopped after {len(results)} of {len(todo)} runs")

    if jobs <= 1 and not in_workers:
        for job in todo:
            finished(run_one(job))
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = [pool.submit(run_one, job) for job in todo]
            try:
                for done in as_completed(futures):
                    finished(done.result())
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    order = {p: i for i, p in enumerate(policies)}
    return sorted(results, key=lambda r: (r["seed"], order[r["policy"]]))


def summary(results: Sequence[dict[str, Any]], policies: Sequence[str]) -> dict[str, Any]:
    """Per figure: each policy's summary, and with two policies the second minus the first,
    seed by seed (`compare`)."""
    by_policy = {
        p: sorted((r for r in results if r["policy"] == p), key=lambda r: r["seed"])
        for p in policies
    }
    seeds = [r["seed"] for r in by_policy[policies[0]]]
    figures: dict[str, Any] = {}
    plans = tuple(f for f in sc.PREPAREDNESS_FIGURES if results and f in results[0])
    for name in (*COMPARED, *plans):
        values = {p: [r[name] for r in rows] for p, rows in by_policy.items()}
        entry: dict[str, Any] = {p: dataclasses.asdict(summarise(v)) for p, v in values.items()}
        if len(policies) == 2:
            first, second = policies
            entry["difference"] = dataclasses.asdict(compare(values[first], values[second]))
        figures[name] = entry
    bounds = (
        {
            bound: {
                p: sum(1 for r in rows if r["bounds"].get(bound)) for p, rows in by_policy.items()
            }
            for bound in by_policy[policies[0]][0]["bounds"]
        }
        if seeds
        else {}
    )
    return {
        "policies": list(policies),
        "runs": len(seeds),
        "seeds": seeds,
        "figures": figures,
        "bounds_held": bounds,  # per `expect` bound, in how many runs it held, per policy
    }
