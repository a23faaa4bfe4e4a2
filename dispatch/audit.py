"""The audit trail: one append-only row per mutation, written inside the mutation's transaction.

The table refuses UPDATE, DELETE and TRUNCATE through a trigger (see the foundation
migration), so not even a bug in this code can rewrite history.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

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


async def write_audit(
    cmd: Command,
    action: str,
    entity: str,
    entity_id: str | int | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    actor = cmd.ctx.actor
    await cmd.connection.execute(
        """
        INSERT INTO audit_entry
            (at, actor, actor_id, role, action, entity, entity_id, before, after)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb)
        """,
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
