"""The audit trail: one append-only row per mutation, written inside the mutation's transaction.

The table refuses UPDATE, DELETE and TRUNCATE through a trigger (see the foundation
migration), so not even a bug in this code can rewrite history.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import asyncpg
from piccolo.columns import JSONB, BigSerial, Integer, Timestamptz, Varchar
from piccolo.table import Table

if TYPE_CHECKING:
    from dispatch.db import Command


class AuditEntry(Table, tablename="audit_entry"):
    id = BigSerial(primary_key=True)
    at = Timestamptz()
    actor = Varchar(length=64)
    actor_id = Integer(null=True)
    role = Varchar(length=20)
    action = Varchar(length=80)
    entity = Varchar(length=40)
    entity_id = Varchar(length=80, null=True)
    before = JSONB(null=True)
    after = JSONB(null=True)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def to_json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, default=_plain, ensure_ascii=False)


AuditRow = tuple[
    datetime, str, int | None, str, str, str, str | None, str | None, str | None
]  # at, actor, actor_id, role, action, entity, entity_id, before, after (JSON text)


def audit_row(
    cmd: Command,
    action: str,
    entity: str,
    entity_id: str | int | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditRow:
    actor = cmd.ctx.actor
    return (
        cmd.now,
        actor.username,
        actor.user_id,
        actor.role.value,
        action,
        entity,
        None if entity_id is None else str(entity_id),
        to_json(before),
        to_json(after),
    )


def audits_insert(first: int) -> str:
    """The INSERT of a batch of audit rows given as nine arrays, numbered from `$first`:
    a statement of its own, or a part of another (the answer of a keyed request)."""
    n = [f"${first + i}" for i in range(9)]
    return f"""
    INSERT INTO audit_entry (at, actor, actor_id, role, action, entity, entity_id, before, after)
    SELECT a.at, a.actor, a.actor_id, a.role, a.action, a.entity, a.entity_id,
        a.before::jsonb, a.after::jsonb
    FROM unnest({n[0]}::timestamptz[], {n[1]}::varchar[], {n[2]}::integer[], {n[3]}::varchar[],
                {n[4]}::varchar[], {n[5]}::varchar[], {n[6]}::varchar[], {n[7]}::text[],
                {n[8]}::text[])
        WITH ORDINALITY AS a(at, actor, actor_id, role, action, entity, entity_id, before,
                             after, n)
    ORDER BY a.n
    """


def audit_columns(rows: Sequence[AuditRow]) -> list[list[Any]]:
    """The rows as the nine arrays `audits_insert` takes."""
    return [[row[i] for row in rows] for i in range(9)]


async def write_audits(conn: asyncpg.Connection, rows: Sequence[AuditRow]) -> None:
    if rows:
        await conn.execute(audits_insert(1), *audit_columns(rows))
