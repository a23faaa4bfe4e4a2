"""The command tree and what every command shares: the Typer apps, the console and `run`,
which turns a refusal into a message and exit code 2."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

import typer
from rich.console import Console

from dispatch.errors import DomainError

__all__ = ["app", "bench_app", "console", "db_app", "run", "scenario_app", "users_app"]

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


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one service call; a refusal is printed with its title and exits 2, as the API's
    would be a 4xx."""
    try:
        return asyncio.run(coro)
    except DomainError as exc:
        console.print(f"[red]{exc.title}:[/red] {exc.detail}")
        raise typer.Exit(code=2) from exc
