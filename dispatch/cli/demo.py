"""`dispatch demo`: migrate, load Dongcheng with its stock, synthetic people and illustrative
fleet, make the demo users and serve with a live drill."""

from __future__ import annotations

import asyncio
import os
import secrets
from typing import Annotated, Any

import typer
from rich.table import Table

from dispatch.accounts.policy import Role
from dispatch.accounts.schemas import UserCreate
from dispatch.accounts.service import create_user, list_users
from dispatch.branches import service as branches
from dispatch.branches.schemas import ReportBy
from dispatch.cli.base import app, console, run
from dispatch.cli.setup import export_database_url, serve, stop_embedded_we_started
from dispatch.db import embedded_running, migrate_database, system_context
from dispatch.fleet.service import seed_demo_fleet
from dispatch.people.service import (
    load_synthetic,
    on_duty_by_community,
    pairings_by_community,
    people_tables_empty,
)
from dispatch.places import service as places
from dispatch.preparedness.service import seed_demo_preparedness
from dispatch.settings import get_settings
from dispatch.stock.service import load_catalogue, seed_demo_stock

__all__ = ["DEMO_DRILL_FILE", "demo"]


async def _demo_users() -> list[tuple[str, str, str]]:
    """A commander and one leader per street; returns (username, role, password) made now."""
    ctx = system_context()
    existing = {u.username for u in await list_users(ctx)}
    wanted: list[tuple[str, Role, str | None]] = [("commander", Role.COMMANDER, None)]
    wanted += [
        (f"leader{s.code[-3:]}", Role.STREET_LEADER, s.code) for s in await places.list_streets(ctx)
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
    ctx = system_context()
    if run(people_tables_empty(ctx)):
        loaded = run(load_synthetic(ctx))
        console.print(
            f"people (synthetic): {loaded.units} partner units, {loaded.pairings} pairings, "
            f"{loaded.people} people, {loaded.squads} street squads, "
            f"{loaded.care_households} care households, {loaded.checked_in} checked in"
        )
    else:
        console.print("people: tables hold data already (synthetic district not loaded)")
    duty = run(on_duty_by_community(ctx))
    pairings = {p.community: p for p in run(pairings_by_community(ctx))}
    names = {s.code: s.name for s in run(_streets())}
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


def _demo_branches() -> None:
    """The synthetic Party branches and their pairings (into empty branch tables), the
    community activities (into an empty activity table), then the figures the district
    reports: branches, households assisted, coverage, hours, activity hours."""
    ctx = system_context()
    seeded = run(branches.seed_demo_branches(ctx))
    if seeded.loaded:
        console.print(
            f"branches (synthetic): {seeded.employer} employer + {seeded.two_new} two-new, "
            f"{seeded.members} members, {seeded.visits} visits, "
            f"{seeded.added_households} low-income households added"
        )
    coverage = run(branches.street_coverage(ctx))
    count = run(branches.count_branches(ctx))
    assisted = sum(c.assisted for c in coverage)
    students = sum(c.students for c in coverage if c.assisted)
    lowest = min((c.coverage_pct for c in coverage), default=100.0)
    each = "100 % per street" if lowest == 100.0 else f"lowest {lowest:g} % in a street"
    console.print(
        f"branches {count}, assisted households {assisted} ({students} students), "
        f"pairing coverage {each}"
    )
    activities = run(branches.seed_demo_activities(ctx))
    if activities.loaded:
        console.print(
            f"community activities (synthetic): {activities.activities} activities, "
            f"{activities.signups} sign-ups, {activities.attended} attended"
        )
    report = run(branches.service_report(ctx, ReportBy.STREET))
    hours = ", ".join(f"{r.name} {r.hours:g}" for r in report.rows)
    console.print(f"hours per street, {report.date_from} to {report.date_to}: {hours}")
    attended = ", ".join(f"{r.name} {r.activity_hours:g}" for r in report.rows)
    console.print(f"activity hours per street, {report.date_from} to {report.date_to}: {attended}")


async def _streets() -> list[Any]:

    return list(await places.list_streets(system_context()))


DEMO_DRILL_FILE = "rainstorm_pingfang.yaml"


@app.command()
def demo(
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
) -> None:
    """Migrate, load Dongcheng, create demo users (passwords printed once) and serve."""
    settings = get_settings()
    started_here = settings.database_url is None and not embedded_running(settings.data_dir)
    export_database_url()
    asyncio.run(migrate_database())
    report = run(places.load_reference(system_context(), get_settings().reference_dir))
    console.print(f"reference data: {report.changes} changes")

    catalogue = run(load_catalogue(system_context(), get_settings().reference_dir))
    console.print(f"catalogue and reserve standards: {catalogue.changes} changes")
    seeded = run(seed_demo_stock(system_context()))
    console.print(f"demo stock: {seeded} receipts" if seeded else "demo stock: ledger not empty")
    _demo_people()
    vehicles = run(seed_demo_fleet(system_context()))  # after the people: crews are theirs
    console.print(
        f"demo fleet (illustrative): {vehicles} vehicles" if vehicles else "fleet: not empty"
    )
    _demo_branches()
    prepared = run(seed_demo_preparedness(system_context()))  # from the people and pairings
    console.print(
        f"preparedness (illustrative): plans {prepared.with_plan}/{prepared.communities} "
        f"communities, shelters {prepared.shelters}"
        + ("" if prepared.seeded else " (tables held data already)")
    )
    made = run(_demo_users())
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
            stop_embedded_we_started(started_here)
