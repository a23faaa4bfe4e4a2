"""The service-record report as a CSV or XLSX sheet: the same rows as the API, a total row
last; figures only (names of people when grouped by person, never a phone). The export is
audited like every export."""

from __future__ import annotations

from datetime import date
from typing import Any

from dispatch import spreadsheets
from dispatch.branches.reports import service_report
from dispatch.branches.schemas import ReportBy, ReportRow
from dispatch.db import Context, command
from dispatch.people.sheets import Export

REPORT_COLUMNS = (
    "key",
    "name",
    "people",
    "hours",
    "task_hours",
    "visit_hours",
    "activity_hours",
    "duty_hours",
    "visits",
    "households",
    "activities",
)
TOTAL = "合计 / total"


def _cells(row: ReportRow) -> list[Any]:
    return [getattr(row, c) for c in REPORT_COLUMNS]


async def export_report(
    ctx: Context,
    by: ReportBy,
    fmt: str,
    first: date | None = None,
    last: date | None = None,
    street: str | None = None,
) -> Export:
    report = await service_report(ctx, by, first, last, street)
    rows = [_cells(r) for r in report.rows]
    rows.append([TOTAL, None, *_cells(report.total)[2:]])
    async with command(ctx) as cmd:
        await cmd.audit(
            "service.export",
            "export",
            by.value,
            None,
            {"format": fmt, "rows": len(report.rows), "street": report.street},
        )
    name = f"service-{by.value}-{report.date_from}-{report.date_to}.{fmt}"
    columns = list(REPORT_COLUMNS)
    if fmt == "csv":
        return Export(name, spreadsheets.CSV_MEDIA, spreadsheets.write_csv(columns, rows))
    content = spreadsheets.write_xlsx([(f"service-{by.value}", columns, rows)])
    return Export(name, spreadsheets.XLSX_MEDIA, content)
