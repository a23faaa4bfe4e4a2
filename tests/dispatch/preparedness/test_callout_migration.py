"""Migration 0023 on a sandbox copied before it: the two old checks of `plan_callout` (that
knew no `delivered`) are gone and everything 0023 added is there, as in a fresh copy; the
new tables are the sandbox's own, empty."""

from __future__ import annotations

import os
from typing import Any

import asyncpg

from dispatch.exercises.catch_up import catch_up_world
from dispatch.exercises.service import SCHEMA_PREFIX, copy_world
from migrations.m_2026_12_04_0023_callout_channels import _sandboxes_forget_old_checks
from tests.dispatch.exercises.test_catch_up import _shape
from tests.support import run

OLD = f"{SCHEMA_PREFIX}callouts_old"
FRESH = f"{SCHEMA_PREFIX}callouts_fresh"
BEFORE_0023 = f"""
DROP TABLE {OLD}.callout_reply, {OLD}.callout_sms;
ALTER TABLE {OLD}.plan_callout
    DROP CONSTRAINT plan_callout_state_known,
    DROP CONSTRAINT plan_callout_answered_when_final,
    DROP COLUMN plan_role_id, DROP COLUMN step, DROP COLUMN escalated_from,
    DROP COLUMN origin_id, DROP COLUMN person_id, DROP COLUMN ack_minutes, DROP COLUMN due_at,
    DROP COLUMN delivered_at, DROP COLUMN delivered_via, DROP COLUMN answered_via,
    DROP COLUMN escalated_at,
    ADD CONSTRAINT plan_callout_check CHECK ((state = 'sent') = (answered_at IS NULL)),
    ADD CONSTRAINT plan_callout_state_check
        CHECK (state IN ('sent', 'acknowledged', 'declined', 'no_answer'));
ALTER TABLE {OLD}.plan_role DROP COLUMN ack_minutes;
"""


class _RollBack(Exception):
    """Leaves the database as it was."""


async def _check() -> dict[str, Any]:
    conn = await asyncpg.connect(dsn=os.environ["DATABASE_URL"])
    seen: dict[str, Any] = {}
    try:
        async with conn.transaction(isolation="repeatable_read"):
            await copy_world(conn, FRESH)
            await copy_world(conn, OLD)
            await conn.execute(BEFORE_0023)
            await _sandboxes_forget_old_checks(conn)
            seen["added"] = await catch_up_world(conn, OLD)
            seen["old"] = await _shape(conn, OLD)
            seen["fresh"] = await _shape(conn, FRESH)
            seen["rows"] = await conn.fetchval(f"SELECT count(*) FROM {OLD}.callout_sms")
            raise _RollBack
    except _RollBack:
        pass
    finally:
        await conn.close()
    return seen


def test_a_sandbox_from_before_0023_is_brought_to_its_shape() -> None:
    seen = run(_check())
    assert sorted(seen["added"]) == ["callout_reply", "callout_sms"]
    for part in seen["fresh"]:
        old, fresh = set(seen["old"][part]), set(seen["fresh"][part])
        assert old == fresh, (part, sorted(old - fresh), sorted(fresh - old))
    assert seen["rows"] == 0
