"""The three rates of 接诉即办 (响应率、解决率、满意率) per street and community, for any
period of receipt, judged on the service's clock (a drill's figures on its simulated
time), with median response and resolution minutes and what is overdue now. The
definitions are in `schemas.Figures`.

A street leader gets their street and its communities; a community worker their
community; district roles everything, and the district's total.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from dispatch.clock import local
from dispatch.db import Context, query
from dispatch.hotline.access import allow, scope_clause
from dispatch.hotline.schemas import Figures, FiguresReport, PlaceFigures

HELD = "区级（未派单）"  # tickets no street holds: not dispatched yet, or returned
MEASURES = """
    count(*) AS tickets,
    count(*) FILTER (WHERE coalesce(t.responded_at, t.replied_at) <= t.response_due)
        AS responded_in_time,
    count(*) FILTER (WHERE coalesce(t.responded_at, t.replied_at) IS NOT NULL
                        OR t.response_due < $1) AS response_decided,
    count(t.rating) AS rated,
    count(*) FILTER (WHERE t.solved) AS solved,
    count(*) FILTER (WHERE t.rating IN ('satisfied', 'basically_satisfied')) AS satisfied,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM
        coalesce(t.responded_at, t.replied_at) - t.received_at) / 60) AS median_response,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM
        t.replied_at - t.received_at) / 60) AS median_resolution,
    count(*) FILTER (WHERE t.replied_at IS NULL AND (t.resolution_due < $1 OR
        (coalesce(t.responded_at, t.replied_at) IS NULL AND t.response_due < $1)))
        AS overdue_now
"""
WHERE = """
    WHERE t.status <> 'merged'
      AND ($2::timestamptz IS NULL OR t.received_at >= $2)
      AND ($3::timestamptz IS NULL OR t.received_at < $3)
      AND {scope}
"""


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def _minutes(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def figures_of(r: asyncpg.Record) -> Figures:
    return Figures(
        tickets=r["tickets"],
        responded_in_time=r["responded_in_time"],
        response_decided=r["response_decided"],
        response_rate=_rate(r["responded_in_time"], r["response_decided"]),
        rated=r["rated"],
        solved=r["solved"],
        resolution_rate=_rate(r["solved"], r["rated"]),
        satisfied=r["satisfied"],
        satisfaction_rate=_rate(r["satisfied"], r["rated"]),
        median_response_minutes=_minutes(r["median_response"]),
        median_resolution_minutes=_minutes(r["median_resolution"]),
        overdue_now=r["overdue_now"],
    )


async def _grouped(
    conn: asyncpg.Connection, by: str, where: str, args: list[Any]
) -> list[PlaceFigures]:
    """Figures per street (`by`='street') or community, named, in code order."""
    names = "street" if by == "street" else "community"
    sql = f"""
        SELECT t.{by} AS code, p.name, {"t.street" if by == "community" else "NULL"} AS street,
               {MEASURES}
        FROM hotline_ticket t LEFT JOIN {names} p ON p.code = t.{by}
        {where} GROUP BY t.{by}, p.name{", t.street" if by == "community" else ""}
        ORDER BY t.{by} NULLS LAST
    """
    rows = await conn.fetch(sql, *args)
    return [
        PlaceFigures(
            code=r["code"], name=r["name"] or HELD, street=r["street"], figures=figures_of(r)
        )
        for r in rows
        if by == "street" or r["code"] is not None
    ]


async def hotline_figures(
    ctx: Context, received_from: datetime | None, received_to: datetime | None
) -> FiguresReport:
    """The figures of calls received in [from, to), as the clock stands now."""
    allow(ctx.actor, "hotline.read")
    now = ctx.now()
    args: list[Any] = [now, received_from, received_to]
    where = WHERE.format(scope=scope_clause(ctx.actor, args))
    async with query(ctx) as conn:
        total = await conn.fetchrow(f"SELECT {MEASURES} FROM hotline_ticket t {where}", *args)
        streets = await _grouped(conn, "street", where, args)
        communities = await _grouped(conn, "community", where, args)
    return FiguresReport(
        received_from=local(received_from),
        received_to=local(received_to),
        at=local(now) or now,
        district=figures_of(total),
        streets=streets,
        communities=communities,
    )


EXPORT_COLUMNS = (
    "level",
    "code",
    "name",
    "tickets",
    "responded_in_time",
    "response_decided",
    "response_rate",
    "rated",
    "solved",
    "resolution_rate",
    "satisfied",
    "satisfaction_rate",
    "median_response_minutes",
    "median_resolution_minutes",
    "overdue_now",
)


def _row(level: str, code: str | None, name: str, f: Figures) -> list[Any]:
    measures = [getattr(f, c) for c in EXPORT_COLUMNS[3:]]
    return [level, code or "", name, *measures]


def export_rows(report: FiguresReport) -> list[list[Any]]:
    """The report as sheet rows: the district (全区), its streets (街道), its communities
    (社区); the columns are `EXPORT_COLUMNS`."""
    rows = [_row("全区", None, "东城区", report.district)]
    rows += [_row("街道", s.code, s.name, s.figures) for s in report.streets]
    rows += [_row("社区", c.code, c.name, c.figures) for c in report.communities]
    return rows
