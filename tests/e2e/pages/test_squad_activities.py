"""The squad tablet's activities tab in a real browser: a volunteer signs up for an
upcoming clean-up with one tap, and as the organiser of today's patrol checks a neighbour in
and, offline, out — each tap sent once through the outbox, at the moment it was made."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from dispatch.accounts.policy import Role
from tests.dispatch.incidents.helpers import community_of
from tests.e2e.pages.conftest import Watched, assert_accessible, shot, untranslated
from tests.e2e.pages.test_squad import open_squad
from tests.support import client, create_user, run, sql, system_context

pytestmark = pytest.mark.e2e

STREET = "110101012"
OFFLINE = ("ERR_INTERNET_DISCONNECTED", "ERR_FAILED", "/api/live")


def _resident(community: str, name: str) -> int:
    from dispatch.people.schemas import PersonCreate, PersonKind
    from dispatch.people.service import create_person

    body = PersonCreate(
        code=f"P{uuid.uuid4().hex[:10]}",
        name=name,
        kind=PersonKind.SQUAD_MEMBER,
        community=community,
    )
    return run(create_person(system_context(), body)).id


def _activity(http: httpx.Client, community: str, organiser: int, title: str, hours: float) -> int:
    """An activity starting `hours` from now (negative: under way), two hours long."""
    starts = datetime.now(UTC) + timedelta(hours=hours)
    made = http.post(
        "/api/activities",
        json={
            "community": community,
            "title": title,
            "kind": "patrol" if hours < 0 else "clean_up",
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "place": "居委会门前",
            "capacity": 8,
            "organiser_id": organiser,
        },
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def _signup(activity: int, person: int) -> dict[str, object]:
    rows = sql(
        "SELECT cancelled_at, checked_in_at, checked_out_at FROM activity_signup"
        " WHERE activity_id=$1 AND person_id=$2",
        activity,
        person,
    )
    return rows[0] if rows else {}


def _two_activities(server: str) -> tuple[int, int, str, int, int]:
    """A volunteer (me) and a neighbour of one community; today's patrol organised by me,
    the neighbour signed up; tomorrow's clean-up organised by the neighbour. Returns me,
    the neighbour, my login, the patrol and the clean-up."""
    community = community_of(STREET)
    me = _resident(community, "平板志愿者")
    neighbour = _resident(community, "邻居张")
    volunteer = create_user(Role.VOLUNTEER, community=community, person=me)
    with client(server, create_user(Role.COMMANDER)) as http:
        patrol = _activity(http, community, me, "今晚治安巡逻", -0.5)
        cleanup = _activity(http, community, neighbour, "周六卫生大扫除", 26)
        signed = http.post(f"/api/activities/{patrol}/signups", json={"person_id": neighbour})
        assert signed.status_code == 201, signed.text
    return me, neighbour, volunteer, patrol, cleanup


def test_a_volunteer_signs_up_and_the_organiser_checks_people_in_and_out(
    server: str, open_page: Callable[..., Watched]
) -> None:
    me, neighbour, volunteer, patrol, cleanup = _two_activities(server)
    watched = open_page("tablet")
    for fragment in OFFLINE:
        watched.allow(fragment)
    page = open_squad(watched, volunteer, tab="activities")
    card = page.locator(f"#activity-{cleanup}")
    card.wait_for()
    assert page.locator(f"#activity-today #activity-{patrol}").count() == 1
    assert page.locator(f"#activity-upcoming #activity-{cleanup}").count() == 1
    assert "组织人：邻居张" in card.inner_text()

    card.get_by_role("button", name="报名").click()  # one tap, through the outbox
    card.locator(".my-status").wait_for()
    assert card.locator(".my-status").inner_text() == "已报名"
    page.wait_for_function("document.getElementById('outbox-count').dataset.waiting === '0'")
    assert _signup(cleanup, me)["cancelled_at"] is None
    assert card.get_by_role("button", name="签到名单").count() == 0  # not its organiser

    today = page.locator(f"#activity-{patrol}")
    today.get_by_role("button", name="签到名单（已签到 0 人）").click()
    row = today.locator(f"li.attendee[data-person='{neighbour}']")
    row.wait_for()
    assert "邻居张" in row.inner_text() and "已报名" in row.inner_text()
    assert_accessible(page)
    row.get_by_role("button", name="签到").click()
    page.wait_for_selector(
        f"#activity-{patrol} li.attendee[data-person='{neighbour}'][data-status=checked_in]"
    )
    page.wait_for_function("document.getElementById('outbox-count').dataset.waiting === '0'")
    assert _signup(patrol, neighbour)["checked_in_at"] is not None

    watched.context.set_offline(True)  # the check-out tap waits in the outbox
    tapped = datetime.now(UTC)
    page.locator(f"#activity-{patrol} li.attendee[data-person='{neighbour}']").get_by_role(
        "button", name="签退"
    ).click()
    page.wait_for_function("document.getElementById('outbox-count').dataset.waiting === '1'")
    assert page.locator(f"#activity-{patrol} li.attendee[data-status=checked_out]").count() == 1
    assert _signup(patrol, neighbour)["checked_out_at"] is None
    assert not untranslated(page)
    shot(page, "squad-activities")
    back = datetime.now(UTC)
    watched.context.set_offline(False)
    page.wait_for_function(
        "document.getElementById('outbox-count').dataset.waiting === '0'", timeout=25_000
    )
    left = _signup(patrol, neighbour)["checked_out_at"]
    # the moment of the tap, made offline, not of the send once the network came back
    assert isinstance(left, datetime) and tapped - timedelta(seconds=1) <= left <= back
    audits = sql(
        "SELECT action FROM audit_entry WHERE entity='activity_signup' AND actor=$1 ORDER BY id",
        volunteer,
    )
    assert [a["action"] for a in audits] == [
        "activity.signup",
        "activity.check_in",
        "activity.check_out",
    ]
