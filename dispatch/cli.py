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

from dispatch.accounts.policy import SYSTEM, Role
from dispatch.accounts.schemas import UserCreate
from dispatch.clock import WallClock
from dispatch.db import Context
from dispatch.errors import DomainError
from dispatch.settings import get_settings

app = typer.Typer(help="Dongcheng emergency supplies and volunteer dispatch.", no_args_is_help=True)
users_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
app.add_typer(users_app, name="users")
console = Console(width=None if sys.stdout.isatty() else 160)  # files get whole names
T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except DomainError as exc:
        console.print(f"[red]{exc.title}:[/red] {exc.detail}")
        raise typer.Exit(code=2) from exc


def system_context() -> Context:
    return Context(actor=SYSTEM, clock=WallClock())


async def migrate_database() -> None:
    """Apply every migration not yet applied; raise if any fails."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    import dispatch.piccolo_conf  # noqa: F401  (resolves the database first)

    result = await run_forwards("all")
    if not result.success:
        raise RuntimeError(f"migration failed: {result.message}")


@app.command()
def migrate() -> None:
    """Apply the database migrations."""
    asyncio.run(migrate_database())
    console.print("[green]database is up to date[/green]")


@app.command("load-reference")
def load_reference(
    folder: Annotated[Path | None, typer.Argument(help="reference folder")] = None,
) -> None:
    """Load streets, communities and depots; a second run changes nothing and says so."""
    from dispatch.places.service import load_reference as load

    report = _run(load(system_context(), folder or get_settings().reference_dir))
    table = Table("table", "created", "updated", "unchanged")
    for name in report.created:
        table.add_row(
            name,
            str(report.created[name]),
            str(report.updated[name]),
            str(report.unchanged[name]),
        )
    console.print(table)
    console.print(f"{report.changes} changes")


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


@app.command()
def demo(
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
) -> None:
    """Migrate, load Dongcheng, create demo users (passwords printed once) and serve."""
    from dispatch.places.service import load_reference as load

    _export_database_url()
    asyncio.run(migrate_database())
    report = _run(load(system_context(), get_settings().reference_dir))
    console.print(f"reference data: {report.changes} changes")
    made = _run(_demo_users())
    if made:
        table = Table("username", "role", "password (shown once)")
        for row in made:
            table.add_row(*row)
        console.print(table)
    else:
        console.print("demo users exist already (passwords were printed when they were made)")
    if serve_after:
        serve(host=None, port=None, workers=1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
