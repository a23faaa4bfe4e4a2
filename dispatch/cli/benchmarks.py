"""`dispatch bench …`: the stock API against raw asyncpg, transfer planning, matching and
scenario replay. Benchmarks, not tests."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated, Any

import typer
from rich.table import Table

from dispatch import bench
from dispatch.bench import planning_instructions
from dispatch.cli.base import bench_app, console, run
from dispatch.exercises.bench import generated_scenario
from dispatch.exercises.replay import Options, replay, with_pool
from dispatch.exercises.time_spent import StatementClock
from dispatch.fleet.bench import run_fleet_bench
from dispatch.settings import get_settings
from geo.bench import run_matching_bench, run_planning_bench

__all__ = ["bench_fleet", "bench_matching", "bench_planning", "bench_replay", "bench_stock"]


@bench_app.command("stock")
def bench_stock(
    clients: Annotated[int, typer.Option(min=1, max=500, help="concurrent clients")] = 50,
    ops: Annotated[int | None, typer.Option(min=1, help="issues per run")] = None,
    lines: Annotated[
        int, typer.Option(min=1, max=200, help="lines per issue (1: the hot line)")
    ] = 1,
    workers: Annotated[int, typer.Option(min=1, help="server worker processes")] = 2,
    url: Annotated[
        str | None, typer.Option(help="a running server; default: start one on a throwaway DB")
    ] = None,
    username: Annotated[str, typer.Option(help="a commander on --url")] = "bench",
    password: Annotated[str | None, typer.Option(help="their password (with --url)")] = None,
) -> None:
    """Movements per second, p50/p99 latency and CPU ms per request of the stock API under
    N concurrent clients, beside raw asyncpg doing the same guarded updates + ledger inserts
    in the same run, and their ratio. `--lines 100`: 100 lots per issue, each client its own."""
    shape = bench.Shape(clients=clients, lines=lines)
    count = ops or (2000 if lines == 1 else max(200, 20_000 // lines))
    runs = _bench_stock_runs(shape, count, workers, url, username, password)
    table = Table("run", "ops", "ok", "s", "movements/s", "p50 ms", "p99 ms", "CPU ms/req")
    for row in bench.summarise(runs):
        table.add_row(*row)
    what = "one-unit issues of one hot line" if lines == 1 else f"issues of {lines} lines"
    console.print(f"stock bench: {clients} clients, {count} {what}, {workers} worker(s)")
    console.print(table)
    http, raw = runs
    if http.client_cpu_seconds:
        per = http.client_cpu_seconds * 1000 / http.ops
        console.print(f"the HTTP clients' own CPU (this process): {per:.2f} ms per request")
    ratio = http.per_second / raw.per_second if raw.per_second else 0.0
    console.print(f"HTTP / raw throughput: {ratio:.2f} ({1 / ratio if ratio else 0:.1f}x slower)")


def _bench_stock_runs(
    shape: Any, ops: int, workers: int, url: str | None, username: str, password: str | None
) -> list[Any]:
    """The HTTP run then the raw asyncpg run, on a given server or one started here."""
    settings = get_settings()
    if url is not None:
        if password is None:
            raise typer.BadParameter("--password is needed with --url")
        if settings.database_url is None:
            raise typer.BadParameter("set DATABASE_URL to the --url server's database")
        token = bench.login(url, username, password)
        bench.stock_lines_via_api(url, token, shape, ops)
        return [
            asyncio.run(bench.http_run(url, token, shape, ops)),
            asyncio.run(bench.raw_run(settings.database_url, shape, ops)),
        ]
    server, database = bench.throwaway_database()
    os.environ["DATABASE_URL"] = database
    get_settings.cache_clear()
    try:
        secret = asyncio.run(bench.prepare_database(database, shape, ops))
        log = settings.data_dir / "bench-server.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with bench.serving(database, log, workers) as (base_url, pid):
            token = bench.login(base_url, "bench", secret)
            runs = [asyncio.run(bench.http_run(base_url, token, shape, ops, [pid]))]
        runs.append(asyncio.run(bench.raw_run(database, shape, ops)))
        return runs
    finally:
        bench.drop_database(server, database)


@bench_app.command("planning")
def bench_planning(
    case: Annotated[
        list[str] | None, typer.Argument(help="dongcheng and/or city (default: both)")
    ] = None,
    instructions: Annotated[
        bool,
        typer.Option(
            help="also count the instructions of a cold plan with valgrind (about 2 min a case)"
        ),
    ] = False,
) -> None:
    """Matrix, solve, routes and replan times of transfer planning, against an independent
    exact solver (the geo library's benchmark)."""
    cases = tuple(case or ("dongcheng", "city"))
    console.print(run_planning_bench(cases), markup=False)
    if instructions:
        for name in cases:
            console.print(planning_instructions(name), markup=False)


@bench_app.command("fleet")
def bench_fleet(
    case: Annotated[
        list[str] | None, typer.Argument(help="dongcheng and/or city (default: both)")
    ] = None,
) -> None:
    """Vehicle routing: PyVRP (the project's engine), VROOM and OR-Tools on the same
    problems and budget, each one's gap to the best any engine found with 10x the budget,
    and one summary line per case (`fleet dongcheng: gap … % in … s, vehicles …`)."""
    cases = tuple(case or ("dongcheng", "city"))
    for name in cases:
        if name not in ("dongcheng", "city"):
            raise typer.BadParameter(f"unknown case {name!r}: dongcheng or city", param_hint="CASE")
    console.print(run_fleet_bench(cases), markup=False)


@bench_app.command("matching")
def bench_matching(
    needs: Annotated[int, typer.Option(min=1)] = 500,
    people: Annotated[int, typer.Option(min=1)] = 3000,
) -> None:
    """People-to-need matching: exact vs greedy objective and time."""
    console.print(run_matching_bench(n_needs=needs, n_people=people), markup=False)


@bench_app.command("replay")
def bench_replay(
    events: Annotated[int, typer.Option(min=10, help="events in the generated scenario")] = 2000,
    seed: Annotated[int, typer.Option()] = 1,
    policy: Annotated[str, typer.Option(help="optimal or nearest")] = "optimal",
) -> None:
    """Replay a generated 24-hour scenario with EVENTS events; prints wall time and events/s."""
    scenario = generated_scenario(events, seed)
    console.print(
        f"generated scenario: {len(scenario.events)} events over 24h, seed {seed}, {policy}"
    )
    options = Options(policy=policy)
    clock = StatementClock()
    report = run(with_pool(lambda: replay(scenario, options), init=clock.attach))
    wall = report["wall_seconds"]
    table = Table("events", "agenda steps", "plans", "deliveries", "wall s", "plan s", "events/s")
    table.add_row(
        str(report["events"]),
        str(report["agenda_steps"]),
        str(report["plans"]),
        str(report["deliveries"]),
        f"{wall:.1f}",
        f"{report['plan_seconds']:.1f}",
        f"{report['events'] / wall:.1f}" if wall else "-",
    )
    console.print(table)
    console.print(
        f"fill rate {report['fill_rate']}, history {report['history_sha256'][:16]}…",
        highlight=False,
    )
    console.print(_time_spent(wall, report["plan_seconds"], clock), highlight=False)


def _time_spent(wall: float, plan_s: float, clock: StatementClock) -> str:
    """Where the wall time went: every statement's wait by kind, and what was not a
    statement (Python: services, agenda, routing, the plans' solver). Planning's time is
    given as measured around each plan, its own statements included."""
    outside = max(0.0, wall - clock.total_seconds)
    return (
        f"where the time went: {clock.line()}; outside statements {outside:.1f} s; "
        f"planning {plan_s:.1f} s of the wall time (its statements included)"
    )
