"""The administration's service-hours tab in a real browser: for the period chosen, one
bar per street in an inline SVG, as long as the street's hours, the hours attended at a
community activity among them; and the report downloaded as CSV and XLSX."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest

from dispatch.accounts.policy import SYSTEM, Role
from dispatch.branches import service
from dispatch.branches.schemas import ActivityCreate, ActivityKind, AttendanceMark, SignupCreate
from dispatch.clock import SHANGHAI, FixedClock
from dispatch.db import Context
from tests.dispatch.incidents.helpers import community_of
from tests.e2e.pages.conftest import Watched, assert_accessible, login, shot, untranslated
from tests.support import create_user, run, system_context

pytestmark = pytest.mark.e2e

STREET = "110101015"
DAY = date(2023, 3, 11)  # a Saturday no other test records time on


def _attended_clean_up() -> None:
    """Three hours of a clean-up on DAY in STREET, on a clock of that day."""
    from dispatch.people.schemas import PersonCreate, PersonKind
    from dispatch.people.service import create_person

    community = community_of(STREET)
    person = run(
        create_person(
            system_context(),
            PersonCreate(
                code=f"P{uuid.uuid4().hex[:10]}",
                name="图表居民",
                kind=PersonKind.SQUAD_MEMBER,
                community=community,
            ),
        )
    ).id
    clock = FixedClock(datetime(2023, 3, 11, 7, 0, tzinfo=SHANGHAI))
    ctx = Context(SYSTEM, clock)
    new = ActivityCreate(
        community=community,
        title="周末卫生大扫除",
        kind=ActivityKind.CLEAN_UP,
        starts_at=datetime(2023, 3, 11, 9, 0, tzinfo=SHANGHAI),
        ends_at=datetime(2023, 3, 11, 12, 0, tzinfo=SHANGHAI),
        place="居委会门前",
        capacity=5,
        organiser_id=person,
    )
    activity = run(service.create_activity(ctx, new)).id
    run(service.sign_up(ctx, activity, SignupCreate(person_id=person)))
    clock.set(datetime(2023, 3, 11, 9, 0, tzinfo=SHANGHAI))
    run(service.check_in(ctx, activity, person, AttendanceMark()))
    clock.set(datetime(2023, 3, 11, 12, 0, tzinfo=SHANGHAI))
    run(service.check_out(ctx, activity, person, AttendanceMark()))


def test_hours_per_street_as_bars_and_the_report_as_sheets(
    open_page: Callable[..., Watched],
) -> None:
    _attended_clean_up()
    commander = create_user(Role.COMMANDER)
    watched = open_page("wall")
    page = watched.page
    login(page, commander, next_path="/admin")
    page.locator("main[data-ready]").wait_for(state="attached")
    page.get_by_role("tab", name="服务时长").click()
    page.locator("#service-chart svg").wait_for()
    page.fill("#sv-from", DAY.isoformat())
    page.fill("#sv-to", DAY.isoformat())
    page.get_by_role("button", name="查看").click()
    bar = page.locator(f"#service-chart g.street-bar[data-street='{STREET}']")
    page.wait_for_function(
        "s => document.querySelector(`g.street-bar[data-street='${s}']`)?.dataset.hours === '3'",
        arg=STREET,
    )
    assert page.locator("#service-chart g.street-bar").count() == 17  # every street, 0 or more
    assert bar.locator("rect.activity_hours").count() == 1
    assert "3 小时" in (bar.text_content() or "")
    assert "2023-03-11 至 2023-03-11" in (page.locator("#service-chart-title").text_content() or "")
    assert "社区活动" in page.locator(".service-legend").inner_text()
    assert_accessible(page)
    assert not untranslated(page)
    shot(page, "admin-service-wall")
    with page.expect_download() as download:
        page.get_by_role("button", name="下载 CSV").click()
    path = download.value.path()
    assert path is not None and download.value.suggested_filename.endswith(".csv")
    rows = list(csv.reader(io.StringIO(Path(path).read_text(encoding="utf-8-sig"))))
    assert "activity_hours" in rows[0]
    mine = next(r for r in rows if r[0] == STREET)
    assert float(mine[rows[0].index("activity_hours")]) == 3.0
    page.select_option("#sv-by", "community")
    with page.expect_download() as download:
        page.get_by_role("button", name="下载 XLSX").click()
    assert download.value.suggested_filename.startswith("service-community-")
