"""`dispatch scenario check` and `dispatch replay`: validate a scenario file, replay it in a
sandbox (or play it live into a drill) and print, write and check its report."""

from __future__ import annotations

import dataclasses
import json
import time
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dispatch.cli.base import app, console, run, scenario_app
from dispatch.exercises.batch import run_batch, summary
from dispatch.exercises.batch_report import render_batch_html
from dispatch.exercises.plays import play_in_this_process
from dispatch.exercises.replay import (
    Options,
    failed_bounds,
    figure,
    reference,
    replay,
    shown_figures,
    with_pool,
)
from dispatch.exercises.report import render_html, show
from dispatch.exercises.scenario import (
    PLANNERS,
    Reference,
    Scenario,
    ScenarioError,
    format_duration,
    load_scenario,
)
from dispatch.exercises.scenario import load_reference as scenario_reference
from dispatch.exercises.schemas import ExerciseKind
from dispatch.settings import get_settings

__all__ = ["ScenarioFile", "replay_command", "scenario_check"]


# the file argument of `scenario check` and `replay`
ScenarioFile = Annotated[
    Path, typer.Argument(help="a scenario YAML file", exists=True, dir_okay=False)
]


@scenario_app.command("check")
def scenario_check(
    file: ScenarioFile,
    reference: Annotated[
        Path | None, typer.Option(help="reference folder (default: Dongcheng's)")
    ] = None,
) -> None:
    """Validate a scenario file: a summary, or every problem with its line (exit 2)."""
    ref = scenario_reference(reference or get_settings().reference_dir)
    scenario = _load_or_exit(file, ref)
    console.print(
        f"{scenario.name}: {len(scenario.events)} events over "
        f"{format_duration(scenario.duration)} from {scenario.start.isoformat()}, "
        f"seed {scenario.seed}, planner {scenario.policy.planner}, "
        f"{len(scenario.expect)} expect bound(s)",
        highlight=False,
        markup=False,
    )


# --- scenario replay (dispatch/exercises/replay.py) -------------------------------------------


def _load_or_exit(file: Path, ref: Reference) -> Scenario:
    """The scenario, or every problem with its line and exit 2 (before any sandbox exists)."""
    try:
        return load_scenario(file, ref)
    except ScenarioError as exc:
        console.print(f"[red]{file}: {len(exc.problems)} problem(s)[/red]", highlight=False)
        for problem in exc.problems:
            console.print(f"  {problem}", highlight=False, markup=False)
        raise typer.Exit(code=2) from exc


def _bar(what: str, done: str) -> Progress:
    """A progress bar that leaves the console as it was once it stops."""
    return Progress(
        TextColumn(what),
        BarColumn(),
        TextColumn(done),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _replay_runs(scenario: Any, policies: list[str], live: bool, speed: float, keep: bool) -> Any:
    """Each policy's report, with a progress bar once a run takes longer than a second."""

    reports = []
    for policy in policies:
        began = time.monotonic()
        bar = _bar(f"replay {Path(scenario.source).name} ({policy})", "{task.percentage:>3.0f}%")
        state: dict[str, Any] = {"task": None}

        def progress(
            fraction: float, steps: int, bar: Any = bar, began: float = began, state: Any = state
        ) -> None:
            if state["task"] is None:
                if time.monotonic() - began < 1.0:
                    return
                bar.start()
                state["task"] = bar.add_task("replay", total=1.0)
            bar.update(state["task"], completed=min(fraction, 1.0))

        try:
            if live:
                play = partial(play_in_this_process, scenario, policy, speed, progress)
                exercise, report = run(with_pool(play, live=True))
            else:
                options = Options(policy=policy, keep=keep, kind=ExerciseKind.REPLAY)
                report = run(with_pool(partial(replay, scenario, options, progress)))
        finally:
            if state["task"] is not None:
                bar.stop()
        if report is None:
            console.print(
                f"[yellow]the play was stopped from a server; its sandbox is kept: exercise "
                f"{exercise} (send X-Exercise: {exercise})[/yellow]"
            )
            raise typer.Exit(code=1)
        reports.append(report)
    return reports


def _print_reports(reports: list[Any]) -> None:

    table = Table("figure", *[f"{r['policy']}" for r in reports], title=reports[0]["scenario"])
    for name in shown_figures(reports):
        table.add_row(name, *[show(figure(r, name)) for r in reports])
    table.add_row("history_sha256", *[r["history_sha256"][:16] + "…" for r in reports])
    console.print(table)
    for r in reports:
        for u in r["unmet"][:10]:
            console.print(
                f"  [{r['policy']}] unmet {u['quantity']} {u['item']} → "
                f"{u['community_name'] or u['community']}: {u['reason']}",
                highlight=False,
                markup=False,
            )
        if len(r["unmet"]) > 10:
            console.print(f"  [{r['policy']}] … {len(r['unmet']) - 10} more unmet", markup=False)
        if r["kept"]:
            console.print(
                f"  sandbox kept: exercise {r['exercise']} (send X-Exercise: {r['exercise']})"
            )


@app.command("replay")
def replay_command(
    file: ScenarioFile,
    policy: Annotated[
        str | None, typer.Option(help="optimal or nearest (default: the file's planner)")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write the JSON report")] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="write the HTML report")] = None,
    compare: Annotated[
        tuple[str, str] | None,
        typer.Option(help="run two policies side by side, e.g. --compare optimal nearest"),
    ] = None,
    live: Annotated[
        bool, typer.Option(help="play into a drill sandbox at --speed times wall time")
    ] = False,
    speed: Annotated[float, typer.Option(min=0.01, help="with --live: simulated/wall")] = 60.0,
    keep: Annotated[bool, typer.Option(help="keep the sandbox (always with --live)")] = False,
    seed: Annotated[
        int | None, typer.Option(min=0, help="the seed that draws the run (default: the file's)")
    ] = None,
    runs: Annotated[
        int, typer.Option(min=1, help="seeded runs from --seed on, paired across policies")
    ] = 1,
    jobs: Annotated[int, typer.Option(min=1, help="with --runs: replays at once")] = 1,
) -> None:
    """Replay a scenario in a fresh sandbox on a simulated clock; exit 1 if an expect bound
    fails (and say which), 2 if the file is refused. With --runs N, N seeded runs per
    policy, compared with their spread."""
    policies = list(compare) if compare else [policy] if policy else [None]
    for p in policies:
        if p is not None and p not in PLANNERS:
            raise typer.BadParameter(f"policy must be optimal or nearest, not {p!r}")
    scenario = _load_or_exit(file, reference())
    if seed is not None:
        scenario = dataclasses.replace(scenario, seed=seed)
    if runs > 1:
        if live:
            raise typer.BadParameter("--runs replays in sandboxes of its own, not --live")
        chosen = [p or scenario.policy.planner for p in policies]
        _batch(file, scenario, chosen, runs, jobs, json_out, html_out)
        return
    if live and not get_settings().redis_url:
        console.print(
            "[yellow]no REDIS_URL: servers show this drill's progress and run it on its clock, "
            "but their live feeds won't hear its events (a server can play it itself: "
            "POST /api/exercises/{id}/play)[/yellow]"
        )
    reports = _replay_runs(
        scenario, [p or scenario.policy.planner for p in policies], live, speed, keep
    )
    _print_reports(reports)
    if json_out is not None:
        body = reports[0] if len(reports) == 1 else {"compare": reports}
        json_out.write_text(json.dumps(body, ensure_ascii=False, indent=2), encoding="utf-8")
        console.print(f"JSON report: {json_out}")
    if html_out is not None:
        html_out.write_text(render_html(reports), encoding="utf-8")
        console.print(f"HTML report: {html_out}")

    failed = False
    for r in reports:
        for bound in failed_bounds(r):
            failed = True
            console.print(
                f"[red]expect failed ({r['policy']}): {bound['bound']} "
                f"(got {show(bound['actual'])})[/red]",
                highlight=False,
            )
    if failed:
        raise typer.Exit(code=1)
    if scenario.expect:
        console.print(f"all {len(scenario.expect)} expect bound(s) hold")


def _batch(
    file: Path,
    scenario: Scenario,
    policies: list[str],
    runs: int,
    jobs: int,
    json_out: Path | None,
    html_out: Path | None,
) -> None:
    """`--runs`: every seeded run of every policy, with a progress bar, then the table of
    means, intervals and paired differences."""
    what = f"{runs} runs x {len(policies)} ({', '.join(policies)}), {jobs} at once"
    with _bar(what, "{task.completed}/{task.total}") as bar:
        task = bar.add_task("runs", total=runs * len(policies))
        results = run_batch(
            file,
            runs=runs,
            policies=policies,
            first_seed=scenario.seed,
            jobs=jobs,
            on_done=lambda done, _total: bar.update(task, completed=done),
        )
    batch = summary(results, policies)
    _print_batch(scenario.name, batch)
    if json_out is not None:
        body = {"scenario": scenario.name, "batch": batch, "runs": results}
        json_out.write_text(json.dumps(body, ensure_ascii=False, indent=2), encoding="utf-8")
        console.print(f"JSON report: {json_out}")
    if html_out is not None:
        html_out.write_text(render_batch_html(scenario.name, batch), encoding="utf-8")
        console.print(f"HTML report: {html_out}")


def _mean_ci(entry: dict[str, Any]) -> str:
    if entry["mean"] is None:
        return "–"
    if entry["low"] is None:
        return show(round(entry["mean"], 3))
    return f"{entry['mean']:.3g} [{entry['low']:.3g}, {entry['high']:.3g}]"


def _print_batch(name: str, batch: dict[str, Any]) -> None:
    policies = batch["policies"]
    columns = [f"{p} mean [95% CI]" for p in policies]
    if len(policies) == 2:
        columns += [f"{policies[1]} - {policies[0]} [95% CI]", "sign test p"]
    table = Table("figure", *columns, title=f"{name}: {batch['runs']} paired runs")
    for figure_name, entry in batch["figures"].items():
        if not any(entry[p]["n"] for p in policies):
            continue
        row = [_mean_ci(entry[p]) for p in policies]
        if "difference" in entry:
            diff = entry["difference"]
            p_value = "–" if diff["p_value"] is None else f"{diff['p_value']:.3g}"
            row += [_mean_ci(diff["difference"]), p_value]
        table.add_row(figure_name, *row)
    console.print(table)
    for bound, held in batch["bounds_held"].items():
        counts = ", ".join(f"{p} {held[p]}/{batch['runs']}" for p in policies)
        console.print(f"  expect {bound}: held in {counts} runs", highlight=False)
