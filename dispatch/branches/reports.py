"""Service records: the time people gave in a period, from tasks done and assistance visits,
reported per person, home community, street, branch or unit.

ATTRIBUTION. Every figure goes to the people who gave the time: a task done counts its
minutes for each person assigned to it (finished inside the period, in Beijing days); a
visit counts its hours for each person who went; a community activity (starting inside the
period) counts, for each person who checked in, the time from check-in to check-out inside
the activity's hours (`activities.ATTENDED_HOURS`); a duty check-in (在岗) counts its time
on duty inside the period as `duty_hours`, beside the total and not in it (tasks are done
while on duty: adding both would count that time twice). A person's time counts for their home
community (双报到) and street, their branch and the branch's unit (else their own partner
unit). `people` counts those who gave any time (or checked in), `visits` and `households`
the distinct visits and households reached, `activities` the distinct activities attended.
A street leader's report holds their street's people only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import asyncpg

from dispatch.branches.activities import ATTENDED_HOURS
from dispatch.branches.schemas import ReportBy, ReportRow, ServiceReport
from dispatch.branches.scope import limited_street
from dispatch.clock import SHANGHAI
from dispatch.db import Context, query
from dispatch.errors import InvalidInput

LONGEST = 3660  # days a report may span
# a duty check-in's hours inside the period: from check-in to check-out (or now, while on
# duty), clipped to the period ($1, $2; $6 the clock's moment)
DUTY_HOURS = (
    "greatest(0.0, extract(epoch FROM least(coalesce(d.checked_out_at, $6), $2)"
    " - greatest(d.checked_in_at, $1)) / 3600.0)::float8"
)
CONTRIBUTIONS = f"""
    WITH c AS (
        SELECT a.person::int AS person_id, t.minutes / 60.0 AS task_hours, 0.0 AS visit_hours,
               0.0 AS activity_hours, NULL::bigint AS visit_id, NULL::int AS household_id,
               NULL::int AS activity_id, 0.0 AS duty_hours
        FROM task t JOIN task_assignee a ON a.task = t.id
        WHERE t.status = 'done' AND t.finished_at >= $1 AND t.finished_at < $2
        UNION ALL
        SELECT vp.person_id, 0.0, v.hours, 0.0, v.id, s.household_id, NULL, 0.0
        FROM assistance_visit v JOIN visit_person vp ON vp.visit_id = v.id
        JOIN assistance s ON s.id = v.assistance_id
        WHERE v.visited_on >= $3 AND v.visited_on <= $4
        UNION ALL
        SELECT x.person_id, 0.0, 0.0, {ATTENDED_HOURS.format(now="$6")}, NULL, NULL, a.id, 0.0
        FROM activity_signup x JOIN activity a ON a.id = x.activity_id
        WHERE x.checked_in_at IS NOT NULL AND a.starts_at >= $1 AND a.starts_at < $2
        UNION ALL
        SELECT d.person_id, 0.0, 0.0, 0.0, NULL, NULL, NULL, {DUTY_HOURS}
        FROM check_in d
        WHERE d.checked_in_at < $2 AND coalesce(d.checked_out_at, $6) > $1
    )
    SELECT {{key}}::varchar AS key, {{name}}::varchar AS name,
           count(DISTINCT c.person_id)::int AS people,
           coalesce(sum(c.task_hours + c.visit_hours + c.activity_hours), 0)::float8 AS hours,
           coalesce(sum(c.task_hours), 0)::float8 AS task_hours,
           coalesce(sum(c.visit_hours), 0)::float8 AS visit_hours,
           coalesce(sum(c.activity_hours), 0)::float8 AS activity_hours,
           coalesce(sum(c.duty_hours), 0)::float8 AS duty_hours,
           count(DISTINCT c.visit_id)::int AS visits,
           count(DISTINCT c.household_id)::int AS households,
           count(DISTINCT c.activity_id)::int AS activities
    FROM c JOIN person p ON p.id = c.person_id
    LEFT JOIN branch_member m ON m.person_id = p.id
    LEFT JOIN party_branch b ON b.id = m.branch_id
    LEFT JOIN partner_unit ub ON ub.id = b.unit_id
    LEFT JOIN partner_unit up ON up.id = p.unit_id
    LEFT JOIN community co ON co.code = p.community
    LEFT JOIN street st ON st.code = p.street
    WHERE ($5::varchar IS NULL OR p.street = $5)
"""
KEYS: dict[ReportBy, tuple[str, str]] = {
    ReportBy.PERSON: ("p.code", "p.name"),
    ReportBy.COMMUNITY: ("p.community", "co.name"),
    ReportBy.STREET: ("p.street", "st.name"),
    ReportBy.BRANCH: ("b.code", "b.name"),
    ReportBy.UNIT: (
        "coalesce(ub.code, up.code, b.organisation)",
        "coalesce(ub.name, up.name, b.organisation)",
    ),
}


@dataclass(frozen=True)
class Period:
    """Beijing days, both ends included."""

    first: date
    last: date

    @property
    def starts(self) -> datetime:
        return datetime(self.first.year, self.first.month, self.first.day, tzinfo=SHANGHAI)

    @property
    def ends(self) -> datetime:
        after = self.last + timedelta(days=1)
        return datetime(after.year, after.month, after.day, tzinfo=SHANGHAI)


def period_of(first: date | None, last: date | None, today: date) -> Period:
    """The days asked for; by default the 30 days up to today."""
    last = last or today
    first = first or last - timedelta(days=29)
    if first > last:
        raise InvalidInput(
            "the period ends before it starts", field="date_from", code="branches.period_order"
        )
    if (last - first).days >= LONGEST:
        raise InvalidInput(
            f"a report spans at most {LONGEST} days",
            field="date_from",
            code="branches.period_long",
            params={"days": LONGEST},
        )
    return Period(first, last)


def _row(r: asyncpg.Record) -> ReportRow:
    return ReportRow(
        key=r["key"],
        name=r["name"],
        people=r["people"],
        hours=round(r["hours"], 2),
        task_hours=round(r["task_hours"], 2),
        visit_hours=round(r["visit_hours"], 2),
        activity_hours=round(r["activity_hours"], 2),
        duty_hours=round(r["duty_hours"], 2),
        visits=r["visits"],
        households=r["households"],
        activities=r["activities"],
    )


async def report_rows(
    conn: asyncpg.Connection, by: ReportBy, period: Period, street: str | None, now: datetime
) -> tuple[list[ReportRow], ReportRow]:
    """The grouped rows (most hours first) and the total over the same contributions;
    `now`: the clock's moment (a person not checked out counts once the activity ended)."""
    args = (period.starts, period.ends, period.first, period.last, street, now)
    key, name = KEYS[by]
    grouped = CONTRIBUTIONS.format(key=key, name=name) + " GROUP BY 1, 2 ORDER BY 4 DESC, 1"
    rows = await conn.fetch(grouped, *args)
    total = await conn.fetchrow(CONTRIBUTIONS.format(key="NULL", name="NULL"), *args)
    return [_row(r) for r in rows], _row(total)


async def service_report(
    ctx: Context,
    by: ReportBy,
    first: date | None = None,
    last: date | None = None,
    street: str | None = None,
) -> ServiceReport:
    """People active, hours, visits and households reached in a period, per `by`."""
    limited = limited_street(ctx.actor, "service.report", street)
    period = period_of(first, last, ctx.now().astimezone(SHANGHAI).date())
    async with query(ctx) as conn:
        rows, total = await report_rows(conn, by, period, limited, ctx.now())
    return ServiceReport(
        by=by, date_from=period.first, date_to=period.last, street=limited, rows=rows, total=total
    )
