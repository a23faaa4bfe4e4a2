"""The `dispatch` command: set-up, reference data, users and the server.

The CLI issues the same service commands as the API, as the built-in system actor,
so it obeys the same rules and writes the same audit rows.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from dispatch.accounts.policy import Role
from dispatch.accounts.schemas import UserCreate
from dispatch.db import embedded_running, migrate_database, stop_embedded, system_context
from dispatch.errors import DomainError
from dispatch.settings import get_settings

app = typer.Typer(help="Dongcheng emergency supplies and volunteer dispatch.", no_args_is_help=True)
users_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
app.add_typer(users_app, name="users")
bench_app = typer.Typer(help="Benchmarks (not tests).", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
db_app = typer.Typer(help="The embedded PostgreSQL.", no_args_is_help=True)
app.add_typer(db_app, name="db")
scenario_app = typer.Typer(help="Scenario files (dispatch-scenario/1).", no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")
console = Console(width=None if sys.stdout.isatty() else 160)  # files get whole names
T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except DomainError as exc:
        console.print(f"[red]{exc.title}:[/red] {exc.detail}")
        raise typer.Exit(code=2) from exc


@app.command()
def migrate() -> None:
    """Apply the database migrations."""
    asyncio.run(migrate_database())
    console.print("[green]database is up to date[/green]")


@app.command("load-reference")
def load_reference(
    folder: Annotated[Path | None, typer.Argument(help="reference folder")] = None,
) -> None:
    """Load streets, communities, depots, items and reserve standards; a second run changes
    nothing and says so."""
    from dispatch.places.service import load_reference as load
    from dispatch.stock.service import load_catalogue

    source = folder or get_settings().reference_dir
    report = _run(load(system_context(), source))
    stock = _run(load_catalogue(system_context(), source))
    table = Table("table", "created", "updated", "unchanged")
    for part in (report, stock):
        for name in part.created:
            table.add_row(
                name,
                str(part.created[name]),
                str(part.updated[name]),
                str(part.unchanged[name]),
            )
    console.print(table)
    console.print(f"{report.changes + stock.changes} changes")


@app.command("load-roads")
def load_roads(
    file: Annotated[Path, typer.Argument(help="OSMnx GraphML, or an OSMnx nodes CSV", exists=True)],
    edges: Annotated[
        Path | None, typer.Option(help="the edges CSV, when FILE is a nodes CSV", exists=True)
    ] = None,
    name: Annotated[str | None, typer.Option(help="a name shown in the pages")] = None,
) -> None:
    """Load a real road network (e.g. an OpenStreetMap extract via OSMnx) and route on it."""
    from dispatch.places.service import load_roads as load
    from geo.network import load_graphml, load_osmnx_csv

    if file.suffix.lower() == ".graphml":
        graph = load_graphml(file)
    elif edges is not None:
        graph = load_osmnx_csv(file, edges)
    else:
        console.print("[red]give a .graphml file, or a nodes CSV with --edges EDGES.csv")
        raise typer.Exit(code=2)
    report = _run(load(system_context(), graph, name or file.stem, str(file), False))
    state = "loaded and active" if report.changed else "already active: 0 changes"
    console.print(
        f"road network {report.name}: {report.nodes} nodes, {report.edges} edges, {state}"
    )


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[Role, typer.Option(help="the user's role")],
    street: Annotated[str | None, typer.Option(help="9-digit street code")] = None,
    community: Annotated[str | None, typer.Option(help="12-digit community code")] = None,
    display_name: Annotated[str | None, typer.Option()] = None,
    password: Annotated[
        str | None, typer.Option(help="default: a random one, printed once")
    ] = None,
) -> None:
    """Create a user; the password is printed once when generated."""
    from dispatch.accounts.service import create_user

    chosen = password or secrets.token_urlsafe(12)
    new = UserCreate(
        username=username,
        password=chosen,
        role=role,
        display_name=display_name,
        street=street,
        community=community,
    )
    view = _run(create_user(system_context(), new))
    console.print(f"created user {view.id} {view.username} ({view.role.value})")
    if password is None:
        console.print(f"password (shown once): {chosen}")


@users_app.command("disable")
def users_disable(username: str) -> None:
    """Disable a user; their tokens stop working on the next request."""
    from dispatch.accounts.service import disable_user, find_user_id

    async def go() -> str:
        ctx = system_context()
        view = await disable_user(ctx, await find_user_id(ctx, username))
        return view.username

    console.print(f"disabled {_run(go())}")


@users_app.command("list")
def users_list() -> None:
    """List users with role and scope."""
    from dispatch.accounts.service import list_users

    table = Table("id", "username", "role", "street", "community", "disabled")
    for u in _run(list_users(system_context())):
        table.add_row(
            str(u.id), u.username, u.role.value, u.street or "", u.community or "", str(u.disabled)
        )
    console.print(table)


def _export_database_url() -> None:
    """Resolve (and start, if embedded) the database once, so workers share it."""
    from dispatch.db import resolve_database_url

    settings = get_settings()
    os.environ["DATABASE_URL"] = resolve_database_url(settings.database_url, settings.data_dir)


def _stop_embedded_we_started(started_here: bool) -> None:
    """`make demo` stopped with Ctrl-C: the embedded PostgreSQL it started stops with it;
    one that was already running (another terminal's) is left running, and said so."""
    settings = get_settings()
    if settings.database_url and not embedded_running(settings.data_dir):
        return
    if started_here:
        stop_embedded(settings.data_dir)
        console.print("embedded PostgreSQL stopped")
    elif embedded_running(settings.data_dir):
        console.print("embedded PostgreSQL still running (it was before): `dispatch db stop`")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL of the data folder (DISPATCH_DATA_DIR)."""
    data_dir = get_settings().data_dir
    if stop_embedded(data_dir):
        console.print(f"embedded PostgreSQL in {data_dir / 'pg'} stopped")
    else:
        console.print(f"no embedded PostgreSQL running in {data_dir / 'pg'}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
) -> None:
    """Serve the API and pages; several workers share PostgreSQL (and Redis, if set)."""
    import uvicorn

    settings = get_settings()
    _export_database_url()
    if workers > 1 and settings.redis_url is None:
        console.print("[yellow]several workers without REDIS_URL: live feeds stay per worker")
    uvicorn.run(
        "dispatch.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level="info",
    )


async def _demo_users() -> list[tuple[str, str, str]]:
    """A commander and one leader per street; returns (username, role, password) made now."""
    from dispatch.accounts.service import create_user, list_users
    from dispatch.places.service import list_streets

    ctx = system_context()
    existing = {u.username for u in await list_users(ctx)}
    wanted: list[tuple[str, Role, str | None]] = [("commander", Role.COMMANDER, None)]
    wanted += [
        (f"leader{s.code[-3:]}", Role.STREET_LEADER, s.code) for s in await list_streets(ctx)
    ]
    made = []
    for username, role, street in wanted:
        if username in existing:
            continue
        password = secrets.token_urlsafe(9)
        new = UserCreate(username=username, password=password, role=role, street=street)
        await create_user(ctx, new)
        made.append((username, role.value, password))
    return made


def _demo_people() -> None:
    """The synthetic population, loaded only into empty people tables; then per street the
    on-duty counts per community and how many communities have a pairing in force."""
    from dispatch.people.service import (
        load_synthetic,
        on_duty_by_community,
        pairings_by_community,
        people_tables_empty,
    )

    ctx = system_context()
    if _run(people_tables_empty(ctx)):
        loaded = _run(load_synthetic(ctx))
        console.print(
            f"people (synthetic): {loaded.units} partner units, {loaded.pairings} pairings, "
            f"{loaded.people} people, {loaded.squads} street squads, "
            f"{loaded.care_households} care households, {loaded.checked_in} checked in"
        )
    else:
        console.print("people: tables hold data already (synthetic district not loaded)")
    duty = _run(on_duty_by_community(ctx))
    pairings = {p.community: p for p in _run(pairings_by_community(ctx))}
    names = {s.code: s.name for s in _run(_streets())}
    table = Table("street", "communities", "paired", "on duty", "on duty per community")
    for street in sorted(names):
        rows = [c for c in duty if c.street == street]
        paired = sum(1 for c in rows if pairings[c.community].counting > 0)
        counts = " ".join(str(c.on_duty) for c in rows)
        table.add_row(
            names[street],
            str(len(rows)),
            f"{paired}/{len(rows)}",
            str(sum(c.on_duty for c in rows)),
            counts,
        )
    console.print(table)
    covered = sum(1 for p in pairings.values() if p.counting > 0)
    console.print(
        f"pairings in force cover {covered}/{len(pairings)} communities; "
        f"{sum(c.on_duty for c in duty)} people on duty now. Per community: "
        "GET /api/duty/on-duty and GET /api/pairings/by-community"
    )


async def _streets() -> list[Any]:
    from dispatch.places.service import list_streets

    return list(await list_streets(system_context()))


DEMO_DRILL_FILE = "rainstorm_pingfang.yaml"


@app.command()
def demo(
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
) -> None:
    """Migrate, load Dongcheng, create demo users (passwords printed once) and serve."""
    from dispatch.places.service import load_reference as load

    settings = get_settings()
    started_here = settings.database_url is None and not embedded_running(settings.data_dir)
    _export_database_url()
    asyncio.run(migrate_database())
    report = _run(load(system_context(), get_settings().reference_dir))
    console.print(f"reference data: {report.changes} changes")
    from dispatch.stock.service import load_catalogue, seed_demo_stock

    catalogue = _run(load_catalogue(system_context(), get_settings().reference_dir))
    console.print(f"catalogue and reserve standards: {catalogue.changes} changes")
    seeded = _run(seed_demo_stock(system_context()))
    console.print(f"demo stock: {seeded} receipts" if seeded else "demo stock: ledger not empty")
    _demo_people()
    made = _run(_demo_users())
    if made:
        table = Table("username", "role", "password (shown once)")
        for row in made:
            table.add_row(*row)
        console.print(table)
    else:
        console.print("demo users exist already (passwords were printed when they were made)")
    if serve_after:
        # serve "with a live drill": the server plays this scenario into 演示演练, looping
        # (DISPATCH_DEMO_DRILL= with no value serves without one)
        drill = os.environ.setdefault("DISPATCH_DEMO_DRILL", DEMO_DRILL_FILE)
        get_settings.cache_clear()  # the server reads the drill through Settings
        if drill:
            console.print(f"live drill: {drill} in exercise 演示演练 (X-Exercise), 60x wall time")
        try:
            serve(host=None, port=None, workers=1)
        finally:
            _stop_embedded_we_started(started_here)


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
    from dispatch import bench

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
    from dispatch import bench

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
    from geo.bench import run_planning_bench

    cases = tuple(case or ("dongcheng", "city"))
    console.print(run_planning_bench(cases), markup=False)
    if instructions:
        from dispatch.bench import planning_instructions

        for name in cases:
            console.print(planning_instructions(name), markup=False)


@bench_app.command("matching")
def bench_matching(
    needs: Annotated[int, typer.Option(min=1)] = 500,
    people: Annotated[int, typer.Option(min=1)] = 3000,
) -> None:
    """People-to-need matching: exact vs greedy objective and time."""
    from geo.bench import run_matching_bench

    console.print(run_matching_bench(n_needs=needs, n_people=people), markup=False)


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
    from dispatch.exercises.scenario import ScenarioError, format_duration, load_scenario
    from dispatch.exercises.scenario import load_reference as scenario_reference

    ref = scenario_reference(reference or get_settings().reference_dir)
    try:
        scenario = load_scenario(file, ref)
    except ScenarioError as exc:
        console.print(f"[red]{file}: {len(exc.problems)} problem(s)[/red]", highlight=False)
        for problem in exc.problems:
            console.print(f"  {problem}", highlight=False, markup=False)
        raise typer.Exit(code=2) from exc
    console.print(
        f"{scenario.name}: {len(scenario.events)} events over "
        f"{format_duration(scenario.duration)} from {scenario.start.isoformat()}, "
        f"seed {scenario.seed}, planner {scenario.policy.planner}, "
        f"{len(scenario.expect)} expect bound(s)",
        highlight=False,
        markup=False,
    )


# --- scenario replay (dispatch/exercises/replay.py) -------------------------------------------


def _load_or_exit(file: Path) -> Any:
    """The scenario, or every problem with its line and exit 2 (before any sandbox exists)."""
    from dispatch.exercises.replay import reference
    from dispatch.exercises.scenario import ScenarioError, load_scenario

    try:
        return load_scenario(file, reference())
    except ScenarioError as exc:
        console.print(f"[red]{file}: {len(exc.problems)} problem(s)[/red]", highlight=False)
        for problem in exc.problems:
            console.print(f"  {problem}", highlight=False, markup=False)
        raise typer.Exit(code=2) from exc


def _replay_runs(scenario: Any, policies: list[str], live: bool, speed: float, keep: bool) -> Any:
    """Each policy's report, with a progress bar once a run takes longer than a second."""
    import time as _time
    from functools import partial

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from dispatch.exercises.plays import play_in_this_process
    from dispatch.exercises.replay import Options, replay, with_pool
    from dispatch.exercises.schemas import ExerciseKind

    reports = []
    for policy in policies:
        began = _time.monotonic()
        bar = Progress(
            TextColumn(f"replay {Path(scenario.source).name} ({policy})"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        state: dict[str, Any] = {"task": None}

        def progress(
            fraction: float, steps: int, bar: Any = bar, began: float = began, state: Any = state
        ) -> None:
            if state["task"] is None:
                if _time.monotonic() - began < 1.0:
                    return
                bar.start()
                state["task"] = bar.add_task("replay", total=1.0)
            bar.update(state["task"], completed=min(fraction, 1.0))

        try:
            if live:
                run = partial(play_in_this_process, scenario, policy, speed, progress)
                exercise, report = _run(with_pool(run, live=True))
            else:
                options = Options(policy=policy, keep=keep, kind=ExerciseKind.REPLAY)
                report = _run(with_pool(partial(replay, scenario, options, progress)))
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
    from dispatch.exercises.replay import figure
    from dispatch.exercises.report import show
    from dispatch.exercises.scenario import FIGURES

    table = Table("figure", *[f"{r['policy']}" for r in reports], title=reports[0]["scenario"])
    for name in FIGURES:
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
) -> None:
    """Replay a scenario in a fresh sandbox on a simulated clock; exit 1 if an expect bound
    fails (and say which), 2 if the file is refused."""
    from dispatch.exercises.replay import failed_bounds
    from dispatch.exercises.scenario import PLANNERS

    policies = list(compare) if compare else [policy] if policy else [None]
    for p in policies:
        if p is not None and p not in PLANNERS:
            raise typer.BadParameter(f"policy must be optimal or nearest, not {p!r}")
    scenario = _load_or_exit(file)
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
        import json as _json

        body = reports[0] if len(reports) == 1 else {"compare": reports}
        json_out.write_text(_json.dumps(body, ensure_ascii=False, indent=2), encoding="utf-8")
        console.print(f"JSON report: {json_out}")
    if html_out is not None:
        from dispatch.exercises.report import render_html

        html_out.write_text(render_html(reports), encoding="utf-8")
        console.print(f"HTML report: {html_out}")
    from dispatch.exercises.report import show

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


@bench_app.command("replay")
def bench_replay(
    events: Annotated[int, typer.Option(min=10, help="events in the generated scenario")] = 2000,
    seed: Annotated[int, typer.Option()] = 1,
    policy: Annotated[str, typer.Option(help="optimal or nearest")] = "optimal",
) -> None:
    """Replay a generated 24-hour scenario with EVENTS events; prints wall time and events/s."""
    from dispatch.exercises.bench import generated_scenario
    from dispatch.exercises.replay import Options, replay, with_pool

    scenario = generated_scenario(events, seed)
    console.print(
        f"generated scenario: {len(scenario.events)} events over 24h, seed {seed}, {policy}"
    )
    options = Options(policy=policy)
    report = _run(with_pool(lambda: replay(scenario, options)))
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
