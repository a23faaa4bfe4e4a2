"""Set-up and serving: migrations, reference data, a road network, the embedded PostgreSQL
and the server itself."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.table import Table

from dispatch.cli.base import app, console, db_app, run
from dispatch.db import (
    embedded_running,
    migrate_database,
    resolve_database_url,
    stop_embedded,
    system_context,
)
from dispatch.places import service as places
from dispatch.settings import get_settings
from dispatch.stock.service import load_catalogue
from geo.network import load_graphml, load_osmnx_csv

__all__ = [
    "db_stop",
    "export_database_url",
    "load_reference",
    "load_roads",
    "migrate",
    "serve",
    "stop_embedded_we_started",
]


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
    source = folder or get_settings().reference_dir
    report = run(places.load_reference(system_context(), source))
    stock = run(load_catalogue(system_context(), source))
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
    if file.suffix.lower() == ".graphml":
        graph = load_graphml(file)
    elif edges is not None:
        graph = load_osmnx_csv(file, edges)
    else:
        console.print("[red]give a .graphml file, or a nodes CSV with --edges EDGES.csv")
        raise typer.Exit(code=2)
    report = run(places.load_roads(system_context(), graph, name or file.stem, str(file), False))
    state = "loaded and active" if report.changed else "already active: 0 changes"
    console.print(
        f"road network {report.name}: {report.nodes} nodes, {report.edges} edges, {state}"
    )


def export_database_url() -> None:
    """Resolve (and start, if embedded) the database once, so workers share it."""
    settings = get_settings()
    os.environ["DATABASE_URL"] = resolve_database_url(settings.database_url, settings.data_dir)


def stop_embedded_we_started(started_here: bool) -> None:
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
    settings = get_settings()
    export_database_url()
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
