"""The one-time link's page in a real browser: opened with no account, it says what the
call-out is, acknowledges in one tap with the minutes to arrive, and refuses a second use;
labelled, reachable by keyboard, and fully Chinese (or English on request)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from dispatch.accounts.policy import SYSTEM, Role
from dispatch.clock import FixedClock
from dispatch.db import Context
from dispatch.incidents.schemas import IncidentCreate, IncidentType, Level
from dispatch.incidents.service import declare_incident
from dispatch.preparedness.schemas import HazardSpec, Holder, HolderKind, PlanCreate, RoleSpec
from dispatch.preparedness.service import approve_plan, create_plan
from tests.dispatch.people.seed import ensure_district
from tests.dispatch.preparedness.helpers import community_of, people_of
from tests.e2e.pages.conftest import Watched, assert_accessible, shot, untranslated
from tests.support import client, create_user, run, sql

pytestmark = pytest.mark.e2e

STREET = "110101009"


def _link(server: str) -> tuple[str, int]:
    """A call-out of a fresh plan's one role; its link's path and the step's id."""
    ensure_district()
    community = community_of(STREET, 0)
    holder, deputy = people_of(STREET, 2)
    ctx = Context(SYSTEM, FixedClock(datetime.now(UTC)))
    role = RoleSpec("巡查组", Holder(HolderKind.PERSON, holder), Holder(HolderKind.PERSON, deputy))
    hazards = [HazardSpec(IncidentType.RAINSTORM, Level.IV)]
    plan = run(create_plan(ctx, PlanCreate(community, "页面测试预案", hazards, [role])))
    run(approve_plan(ctx, plan.id))
    body = IncidentCreate(IncidentType.RAINSTORM, Level.III, "页面测试暴雨", [community])
    incident = run(declare_incident(ctx, body)).id
    callout = int(sql("SELECT id FROM plan_callout WHERE incident=$1", incident)[0]["id"])
    sql("UPDATE community_plan SET status='superseded', superseded_at=now() WHERE id=$1", plan.id)
    with client(server, create_user(Role.COMMANDER)) as http:
        url = http.get(f"/api/callouts/{callout}/link").json()["url"]
    return urlsplit(url).path, callout


def test_the_link_acknowledges_in_one_tap_and_only_once(
    open_page: Callable[..., Watched], server: str
) -> None:
    path, callout = _link(server)
    watched = open_page("tablet")
    watched.allow("409")
    page = watched.page
    page.goto(path)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("#ack-incident").inner_text() == "页面测试暴雨"
    assert page.locator("#ack-role").inner_text() == "巡查组"
    assert not untranslated(page)
    assert_accessible(page)
    shot(page, "ack-open-tablet")
    page.get_by_label("预计多少分钟后到达").fill("25")
    page.get_by_role("button", name="我到场").click()
    page.locator("#ack-done").wait_for()
    assert "约 25 分钟后到达" in page.locator("#ack-done").inner_text()
    assert page.locator("#ack-state").inner_text() == "已确认到场"
    row = sql("SELECT state, eta_minutes FROM plan_callout WHERE id=$1", callout)[0]
    assert (row["state"], row["eta_minutes"]) == ("acknowledged", 25)

    page.goto(path)  # the link again: nothing left to answer
    assert page.locator("#ack-used").is_visible()
    assert page.get_by_role("button", name="我到场").count() == 0
    page.get_by_role("link", name="切换语言").click()
    page.wait_for_url(f"**{path}?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#ack-state").inner_text() == "coming"
    assert not untranslated(page)
