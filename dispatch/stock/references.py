"""The references a ledger row cites, checked before it is written.

The stock ledger is append-only, so a wrong reference written into it can never be
corrected: a receipt citing a task that does not exist, an issue citing another street's
request. Every incident, task, request, transfer and stocktake a command cites must
exist, lie in the actor's scope, and agree with the rest of what it cites (a task of
the cited incident, a request of the community the stock goes to, for an item moved);
otherwise the command is refused with 422 naming the field, before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from dispatch.accounts.policy import Actor, Target
from dispatch.db import Command
from dispatch.errors import InvalidInput
from dispatch.stock.schemas import IssueCreate, ReceiptCreate, TransferCreate


@dataclass(frozen=True)
class Cited:
    """What a stock command cites, and what the cited rows must agree with."""

    incident: int | None = None
    task: int | None = None
    request: int | None = None
    transfer: int | None = None
    stocktake: int | None = None
    depot: str | None = None  # the depot the rows are written for (a stocktake's must match)
    community: str | None = None  # where the stock goes: a cited request must be of it
    items: frozenset[str] = frozenset()  # the items moved: a cited request's must be one


def items_of(data: ReceiptCreate | IssueCreate | TransferCreate) -> frozenset[str]:
    """The items a command's lines move."""
    return frozenset(line.item for line in data.lines)


def cites(data: IssueCreate | TransferCreate, community: str | None) -> Cited:
    """What an issue or a transfer cites, checked by `references` before any row is written."""
    return Cited(data.incident, data.task, data.request, community=community, items=items_of(data))


def _unknown(kind: str, field: str, ref: int) -> InvalidInput:
    return InvalidInput(
        f"no {kind} {ref}: the ledger cites only what exists",
        field=field,
        code="reference.unknown",
        params={"kind": kind, "id": ref},
    )


def _outside(kind: str, field: str, ref: int, actor: Actor) -> InvalidInput:
    return InvalidInput(
        f"{kind} {ref} is outside the scope of {actor.username}",
        field=field,
        code="reference.out_of_scope",
        params={"kind": kind, "id": ref},
    )


def _mismatch(kind: str, field: str, ref: int, why: str, **params: Any) -> InvalidInput:
    return InvalidInput(
        f"{kind} {ref} {why}",
        field=field,
        code="reference.mismatch",
        params={"kind": kind, "id": ref, "why": why, **params},
    )


def _covers_any(actor: Actor, places: Sequence[asyncpg.Record]) -> bool:
    return actor.is_district_wide or any(
        actor.covers(Target(p["street"], p["community"])) for p in places
    )


async def _incident(cmd: Command, cited: Cited, field: str) -> None:
    assert cited.incident is not None
    conn, ref = cmd.connection, cited.incident
    status = await conn.fetchval("SELECT status FROM incident WHERE id=$1", ref)
    if status is None:
        raise _unknown("incident", field, ref)
    places = await conn.fetch(
        "SELECT street, community FROM incident_community WHERE incident=$1", ref
    )
    if not _covers_any(cmd.ctx.actor, places):
        raise _outside("incident", field, ref, cmd.ctx.actor)
    if status == "closed":
        raise _mismatch("incident", field, ref, "is closed: nothing more is done in it")


async def _task(cmd: Command, cited: Cited, field: str) -> None:
    assert cited.task is not None
    ref = cited.task
    row = await cmd.connection.fetchrow(
        "SELECT incident, street, community, request_id FROM task WHERE id=$1", ref
    )
    if row is None:
        raise _unknown("task", field, ref)
    if not _covers_any(cmd.ctx.actor, [row]):
        raise _outside("task", field, ref, cmd.ctx.actor)
    if cited.incident is not None and row["incident"] != cited.incident:
        raise _mismatch("task", field, ref, f"is not of incident {cited.incident}")
    if cited.request is not None and row["request_id"] not in (None, cited.request):
        raise _mismatch("task", field, ref, f"carries request {row['request_id']}")


async def _request(cmd: Command, cited: Cited, field: str) -> None:
    assert cited.request is not None
    ref = cited.request
    row = await cmd.connection.fetchrow(
        "SELECT incident, street, community, item FROM supply_request WHERE id=$1", ref
    )
    if row is None:
        raise _unknown("request", field, ref)
    if not _covers_any(cmd.ctx.actor, [row]):
        raise _outside("request", field, ref, cmd.ctx.actor)
    if cited.incident is not None and row["incident"] != cited.incident:
        raise _mismatch("request", field, ref, f"is not of incident {cited.incident}")
    if cited.community is not None and row["community"] != cited.community:
        raise _mismatch("request", field, ref, f"is for community {row['community']}")
    if cited.items and row["item"] not in cited.items:
        raise _mismatch("request", field, ref, f"asks for {row['item']}", item=row["item"])


async def _transfer(cmd: Command, cited: Cited, field: str) -> None:
    assert cited.transfer is not None
    ref = cited.transfer
    row = await cmd.connection.fetchrow(
        """
        SELECT t.incident_id, t.task_id, t.request_id, s.street AS source_street,
               coalesce(d.street, c.street) AS dest_street, t.dest_community
        FROM stock_transfer t JOIN depot s ON s.code = t.source
        LEFT JOIN depot d ON d.code = t.dest_depot
        LEFT JOIN community c ON c.code = t.dest_community WHERE t.id=$1
        """,
        ref,
    )
    if row is None:
        raise _unknown("transfer", field, ref)
    ends = [
        {"street": row["source_street"], "community": None},
        {"street": row["dest_street"], "community": row["dest_community"]},
    ]
    if not any(cmd.ctx.actor.covers(Target(e["street"], e["community"])) for e in ends):
        raise _outside("transfer", field, ref, cmd.ctx.actor)
    for name, column in (
        ("incident", "incident_id"),
        ("task", "task_id"),
        ("request", "request_id"),
    ):
        wanted = getattr(cited, name)
        if wanted is not None and row[column] not in (None, wanted):
            raise _mismatch("transfer", field, ref, f"is not of {name} {wanted}")


async def _stocktake(cmd: Command, cited: Cited, field: str) -> None:
    assert cited.stocktake is not None
    ref = cited.stocktake
    row = await cmd.connection.fetchrow(
        "SELECT s.depot, d.street FROM stocktake s JOIN depot d ON d.code = s.depot WHERE s.id=$1",
        ref,
    )
    if row is None:
        raise _unknown("stocktake", field, ref)
    if not cmd.ctx.actor.covers(Target(street=row["street"])):
        raise _outside("stocktake", field, ref, cmd.ctx.actor)
    if cited.depot is not None and row["depot"] != cited.depot:
        raise _mismatch("stocktake", field, ref, f"counted depot {row['depot']}")


CHECKS = (
    ("incident", _incident),
    ("task", _task),
    ("request", _request),
    ("transfer", _transfer),
    ("stocktake", _stocktake),
)


async def check_references(cmd: Command, cited: Cited, prefix: str = "") -> None:
    """Refuse (422, `field` naming the reference) unless every cited row exists, is in the
    actor's scope and agrees with the rest; called before a command writes any row."""
    for name, check in CHECKS:
        if getattr(cited, name) is not None:
            await check(cmd, cited, prefix + name)
