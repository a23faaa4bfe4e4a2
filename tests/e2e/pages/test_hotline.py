"""The 12345 pages in a real browser: the command center's board (a ticket in its street's
group, the caller's phone masked, a new ticket dispatched from the board, a call arriving
on the live feed) and the squad tablet's tab (a street leader takes a ticket up and
replies offline: the reply waits in the outbox and is sent once; the district's return
visit records the caller's rating on the tablet)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from dispatch.accounts.policy import Role
from tests.dispatch.hotline.helpers import make, phone, step
from tests.dispatch.incidents.helpers import community_of, incident
from tests.e2e.pages.conftest import Watched, assert_accessible, login, shot, untranslated
from tests.e2e.pages.test_squad import OFFLINE, controlled_by_worker, open_squad
from tests.support import client, create_user, sql

pytestmark = pytest.mark.e2e

BOARD_STREET = "110101005"
TABLET_STREET = "110101006"


def _number() -> str:
    return f"12345{random.randrange(10**9):09d}"


def _ticket(http: httpx.Client, **body: Any) -> dict[str, Any]:
    return make(http, number=_number(), **body)


def _masked(whole: str) -> str:
    return f"{whole[:3]}****{whole[-4:]}"


def _row(page: Any, ticket: dict[str, Any], street: str = "") -> Any:
    group = f"#hotline-board section[data-street='{street}']"
    return page.locator(f"{group} tr[data-ticket='{ticket['id']}']")


def test_the_board_groups_tickets_by_street_masks_phones_and_dispatches(
    server: str, open_page: Callable[..., Watched]
) -> None:
    commander = create_user(Role.COMMANDER)
    community = community_of(BOARD_STREET)
    flood = incident([community])
    caller = phone()
    with client(server, commander) as http:
        placed = _ticket(http, community=community, caller_phone=caller, urgency="critical")
        held = _ticket(http, address="某小区门口", category="road", content="路面塌陷")
        assert held["street"] is None
        watched = open_page("wall")
        page = watched.page
        login(page, commander, next_path="/command")
        page.wait_for_selector("body[data-ready=true]")
        page.click("#tab-hotline")
        row = _row(page, placed, BOARD_STREET)
        row.wait_for()
        text = row.inner_text()
        assert _masked(caller) in text and caller not in text
        assert "应急物资" in text and "特急" in text and "已受理" in text
        assert placed["community_name"] in text and community not in text
        assert "响应" in text  # the response deadline is the one that matters yet
        figures = page.locator("#hotline-figures-table").inner_text()
        assert "全区" in figures and "响应率" in figures and "满意率" in figures
        shot(page, "command-hotline")
        refusal = page.evaluate(
            "async () => (await import('/static/js/dom.js')).codedText({code: 'hotline."
            "illegal_step', params: {ticket: 'X1', status: 'in_progress', step: 'assign'}})"
        )
        assert refusal == "工单 X1 当前为“办理中”，不能执行“派单”"  # statuses and steps by name

        _row(page, held).locator("button.hotline-act").click()
        page.select_option("#hotline-place", f"community:{community}")
        page.click("#hotline-assign")
        _row(page, held, BOARD_STREET).wait_for()
        assert "已派单" in _row(page, held, BOARD_STREET).inner_text()
        assert sql("SELECT status, community FROM hotline_ticket WHERE id=$1", held["id"]) == [
            {"status": "assigned", "community": community}
        ]

        # a repeated call from the same phone is merged, on confirmation, into the first
        again = _ticket(http, community=community, caller_phone=caller, content="再次来电催问")
        _row(page, again, BOARD_STREET).wait_for()
        _row(page, again, BOARD_STREET).locator("button.hotline-act").click()
        assert page.locator("#hotline-merge-row").is_visible()
        page.select_option("#hotline-into", str(placed["id"]))
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#hotline-merge")
        page.wait_for_function(
            "id => !document.querySelector(`tr[data-ticket='${id}'] button.hotline-act`)",
            arg=again["id"],
        )
        merged = sql("SELECT merged_into FROM hotline_ticket WHERE id=$1", again["id"])
        assert merged == [{"merged_into": placed["id"]}]

        # and the first becomes a supply request in one step
        _row(page, placed, BOARD_STREET).locator("button.hotline-act").click()
        page.select_option("#hotline-item", "WATER")
        page.fill("#hotline-qty", "6")
        page.select_option("#hotline-incident", str(flood))
        page.click("#hotline-request")
        page.locator("#toast", has_text="已由工单").wait_for()
        asked = http.get(f"/api/hotline/tickets/{placed['id']}").json()["links"]
        assert [link["kind"] for link in asked] == ["request"]
        requested = sql("SELECT item, quantity FROM supply_request WHERE id=$1", asked[0]["id"])
        assert requested == [{"item": "WATER", "quantity": 6}]
        _row(page, placed, BOARD_STREET).locator("button.hotline-act").click()
        page.select_option("#hotline-task-kind", "door_check")
        page.click("#hotline-task")
        page.locator("#toast", has_text="入户排查任务").wait_for()
        links = http.get(f"/api/hotline/tickets/{placed['id']}").json()["links"]
        assert sorted(link["kind"] for link in links) == ["request", "task"]

        later = _ticket(http, community=community, content="家中停水")  # on the live feed
        _row(page, later, BOARD_STREET).wait_for()
        assert "家中停水" in _row(page, later, BOARD_STREET).inner_text()

    page.goto("/command?lang=en")
    page.wait_for_selector("body[data-ready=true]")
    page.click("#tab-hotline")
    _row(page, later, BOARD_STREET).wait_for()
    board = page.locator("#panel-hotline").inner_text()
    assert "Response rate" in board and "Emergency supplies" in board and "Received" in board
    assert not untranslated(page)


def _trail(ticket: int) -> list[str]:
    rows = sql("SELECT step FROM hotline_ticket_step WHERE ticket=$1 ORDER BY id", ticket)
    return [str(r["step"]) for r in rows]


def _card(page: Any, ticket: dict[str, Any]) -> Any:
    return page.locator(f"#ticket-{ticket['id']}")


def test_a_leader_replies_offline_once_and_the_district_records_the_rating(
    server: str, open_page: Callable[..., Watched]
) -> None:
    commander = create_user(Role.COMMANDER)
    leader = create_user(Role.STREET_LEADER, street=TABLET_STREET)
    with client(server, commander) as http:
        made = _ticket(http, community=community_of(TABLET_STREET))
        ticket = step(http, made, "assign", street=TABLET_STREET)
    watched = open_page("tablet")
    for fragment in OFFLINE:
        watched.allow(fragment)
    page = open_squad(watched, leader)
    controlled_by_worker(page)
    page.click("#tab-hotline")
    card = _card(page, ticket)
    rates = page.locator("#ticket-figures")
    page.wait_for_function("() => document.getElementById('ticket-figures').textContent")
    assert "响应率" in rates.inner_text() and "满意率" in rates.inner_text()  # the street's own
    card.wait_for()
    assert_accessible(page)
    assert not untranslated(page)
    card.get_by_role("button", name="开始办理").click()
    page.wait_for_selector(f"#ticket-{ticket['id']}[data-status=in_progress]")
    shot(page, "squad-hotline")
    page.wait_for_function("document.getElementById('outbox-count').dataset.waiting === '0'")

    watched.context.set_offline(True)
    card.get_by_label("答复方式").select_option("visit")
    card.get_by_label("答复内容").fill("已上门送水两箱")
    card.get_by_role("button", name="答复来电人").click()
    page.wait_for_function("document.getElementById('outbox-count').dataset.waiting === '1'")
    assert "答复" in page.locator("#outbox-waiting").inner_text()
    assert card.get_attribute("data-status") == "replied"  # as it will be once sent
    assert "回访评价由区级记录" in card.inner_text()  # the assessed street does not rate itself
    assert _trail(ticket["id"]) == ["create", "assign", "start"]

    watched.context.set_offline(False)
    page.wait_for_function("document.getElementById('outbox-count').dataset.waiting === '0'")
    page.evaluate("window.dispatchEvent(new Event('online'))")  # a second flush sends nothing
    page.wait_for_timeout(300)
    assert _trail(ticket["id"]) == ["create", "assign", "start", "reply"]
    replied = sql(
        "SELECT status, reply_channel, replied_by FROM hotline_ticket WHERE id=$1", ticket["id"]
    )
    assert replied == [{"status": "replied", "reply_channel": "visit", "replied_by": leader}]

    district = open_page("tablet")
    page = district.page
    login(page, commander, next_path="/squad")
    page.wait_for_selector("body[data-ready=true]")
    page.select_option("#street-select", TABLET_STREET)
    page.click("#tab-hotline")
    card = _card(page, ticket)
    card.get_by_label("基本满意").check()
    card.get_by_label("已解决", exact=True).check()
    card.get_by_role("button", name="记录回访").click()
    page.wait_for_selector(f"#ticket-{ticket['id']} .ticket-rating")
    assert "基本满意 · 已解决" in card.inner_text()
    page.wait_for_function("document.getElementById('outbox-count').dataset.waiting === '0'")
    rated = sql("SELECT rating, solved, rated_by FROM hotline_ticket WHERE id=$1", ticket["id"])
    assert rated == [{"rating": "basically_satisfied", "solved": True, "rated_by": commander}]
