"""`dispatch users …`: create, disable and list accounts, as the system actor."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer
from rich.table import Table

from dispatch.accounts.policy import Role
from dispatch.accounts.schemas import UserCreate
from dispatch.accounts.service import create_user, disable_user, find_user_id, list_users
from dispatch.cli.base import console, run, users_app
from dispatch.db import system_context

__all__ = ["users_create", "users_disable", "users_list"]


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
    chosen = password or secrets.token_urlsafe(12)
    new = UserCreate(
        username=username,
        password=chosen,
        role=role,
        display_name=display_name,
        street=street,
        community=community,
    )
    view = run(create_user(system_context(), new))
    console.print(f"created user {view.id} {view.username} ({view.role.value})")
    if password is None:
        console.print(f"password (shown once): {chosen}")


@users_app.command("disable")
def users_disable(username: str) -> None:
    """Disable a user; their tokens stop working on the next request."""

    async def go() -> str:
        ctx = system_context()
        view = await disable_user(ctx, await find_user_id(ctx, username))
        return view.username

    console.print(f"disabled {run(go())}")


@users_app.command("list")
def users_list() -> None:
    """List users with role and scope."""
    table = Table("id", "username", "role", "street", "community", "disabled")
    for u in run(list_users(system_context())):
        table.add_row(
            str(u.id), u.username, u.role.value, u.street or "", u.community or "", str(u.disabled)
        )
    console.print(table)
