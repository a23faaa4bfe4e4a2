"""Deadlines of 接诉即办: a response deadline and a resolution deadline per urgency and
category, set by commanders, judged on the service's clock (so a drill judges them on its
simulated time).

The defaults (migration 0016) are illustrative, not the city's official figures, and every
rule says so (`illustrative`) until a commander sets it: 特急 15 min / 2 h for emergency
supplies and evacuation, 30 min / 4 h otherwise; 紧急 1 h / 8 h and 2 h / 24 h; 一般 4 h /
24 h and 24 h / 7 days.

A ticket is *responded* when the street or community takes it up (in progress: they have
contacted the caller), *resolved* when the reply is given. Met in time means at or before
the due moment; "nearly due" means a quarter of the window or less is left.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from dispatch.clock import local
from dispatch.db import Context, command, query, view_of
from dispatch.errors import InvalidInput
from dispatch.hotline.access import allow
from dispatch.hotline.schemas import (
    Category,
    DeadlineRule,
    DeadlineSet,
    DeadlineState,
    DeadlineView,
    Urgency,
)

NEARLY_DUE_SHARE = 0.25  # of the window left: "nearly due" from then on
RULES = "SELECT * FROM hotline_deadline"


async def windows(
    conn: asyncpg.Connection, urgency: Urgency, category: Category
) -> tuple[timedelta, timedelta]:
    """The (response, resolution) windows in force for this urgency and category."""
    row = await conn.fetchrow(
        RULES + " WHERE urgency=$1 AND category=$2", urgency.value, category.value
    )
    if row is None:  # the migration seeds every pair; a missing one is a broken database
        raise RuntimeError(f"no deadline rule for {urgency.value}/{category.value}")
    return timedelta(minutes=row["response_minutes"]), timedelta(minutes=row["resolution_minutes"])


async def dues(
    conn: asyncpg.Connection, received_at: datetime, urgency: Urgency, category: Category
) -> tuple[datetime, datetime]:
    response, resolution = await windows(conn, urgency, category)
    return received_at + response, received_at + resolution


def judge(start: datetime, due: datetime, met_at: datetime | None, now: datetime) -> DeadlineView:
    """One deadline on the clock's `now`: met (in time or late), else on time, nearly due
    or overdue; minutes left (negative past due) while not met."""
    shown = local(due) or due
    if met_at is not None:
        state = DeadlineState.MET if met_at <= due else DeadlineState.LATE
        return DeadlineView(due=shown, state=state, minutes_left=None)
    left = due - now
    minutes = int(left.total_seconds() // 60)
    if left < timedelta(0):
        return DeadlineView(due=shown, state=DeadlineState.OVERDUE, minutes_left=minutes)
    if left <= (due - start) * NEARLY_DUE_SHARE:
        return DeadlineView(due=shown, state=DeadlineState.NEARLY_DUE, minutes_left=minutes)
    return DeadlineView(due=shown, state=DeadlineState.ON_TIME, minutes_left=minutes)


def judged(
    row: asyncpg.Record | dict[str, Any], now: datetime
) -> tuple[DeadlineView, DeadlineView]:
    """The ticket's (response, resolution) deadlines; a ticket returned to the district
    runs on (the district still owes the caller an answer), one closed has met both or
    not."""
    received = row["received_at"]
    response = judge(received, row["response_due"], row["responded_at"] or row["replied_at"], now)
    resolution = judge(received, row["resolution_due"], row["replied_at"], now)
    return response, resolution


async def list_rules(ctx: Context) -> list[DeadlineRule]:
    allow(ctx.actor, "hotline.read")
    order = {u.value: i for i, u in enumerate(Urgency)}
    async with query(ctx) as conn:
        rows = await conn.fetch(RULES)
    rows = sorted(rows, key=lambda r: (order[r["urgency"]], list(Category).index(r["category"])))
    return [view_of(DeadlineRule, r) for r in rows]


async def set_rule(
    ctx: Context, urgency: Urgency, category: Category, data: DeadlineSet
) -> DeadlineRule:
    """A commander's deadlines for tickets received from now on (running ones keep
    theirs); audited."""
    allow(ctx.actor, "hotline.deadlines")
    if data.resolution_minutes < data.response_minutes:
        raise InvalidInput(
            "the resolution deadline cannot come before the response deadline",
            field="resolution_minutes",
            code="hotline.resolution_before_response",
            params={"response": data.response_minutes, "resolution": data.resolution_minutes},
        )
    async with command(ctx) as cmd:
        before = await cmd.connection.fetchrow(
            RULES + " WHERE urgency=$1 AND category=$2 FOR UPDATE", urgency.value, category.value
        )
        row = await cmd.connection.fetchrow(
            "UPDATE hotline_deadline SET response_minutes=$3, resolution_minutes=$4, "
            "illustrative=false, updated_at=$5, updated_by=$6 "
            "WHERE urgency=$1 AND category=$2 RETURNING *",
            urgency.value,
            category.value,
            data.response_minutes,
            data.resolution_minutes,
            cmd.now,
            ctx.actor.username,
        )
        key = f"{urgency.value}/{category.value}"
        await cmd.audit("hotline.deadlines", "hotline_deadline", key, dict(before), dict(row))
        cmd.emit("hotline.deadline_set", {"urgency": urgency.value, "category": category.value})
    return view_of(DeadlineRule, row)
