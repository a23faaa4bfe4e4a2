"""A delivery run on the squad tablet, in a real browser: the run card lists its stops in
order (community, ETA, what to unload), completing a stop goes through the outbox and
receives that stop's transfers once; the printable run sheet has a delivery note per stop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dispatch.accounts.policy import Role
from tests.dispatch.incidents.helpers import (
    community_of,
    crewed_van,
    incident,
    request,
    retire_van,
    stock,
)
from tests.e2e.pages.conftest import Watched, login, shot, untranslated
from tests.support import client, create_user, sql

pytestmark = pytest.mark.e2e

STREET = "110101012"


def _run_on_its_way(server: str, leader: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two communities of the street ask for cots (which no other test stocks, so the
    street's own depot sends them); the plan's run from that depot is approved, accepted
    and picked up. Returns the run task and the van."""
    commander = create_user(Role.COMMANDER)
    first, second = community_of(STREET, 0), community_of(STREET, 1)
    stock(f"D{STREET}", "COT", 1000)
    with client(server, commander) as boss:
        van = crewed_van(boss, STREET)
        made = incident([first, second])
        request(made, first, "COT", 12)
        request(made, second, "COT", 8)
        plan = boss.post(f"/api/incidents/{made}/plans", json={}).json()
        assert boss.post(f"/api/plans/{plan['id']}/approve", json={}).status_code == 200
        tasks = boss.get("/api/tasks", params={"incident": made}).json()
    (task,) = [t for t in tasks if t["vehicle"] and t["vehicle"]["code"] == van["code"]]
    with client(server, leader) as squad:
        for action in ("accept", "start"):
            moved = squad.post(
                f"/api/tasks/{task['id']}/{action}", json={"version": task["version"]}
            )
            assert moved.status_code == 200, moved.text
            task = moved.json()
    return task, van


def test_the_tablet_shows_a_run_as_stops_and_receives_a_stop_through_the_outbox(
    open_page: Callable[..., Watched], server: str
) -> None:
    leader = create_user(Role.STREET_LEADER, street=STREET)
    task, van = _run_on_its_way(server, leader)
    assert len(task["stops"]) >= 2
    watched = open_page("tablet")
    page = watched.page
    login(page, leader, next_path="/squad")
    page.wait_for_selector("body[data-ready=true]")
    page.click("#tab-tasks")
    card = page.locator(f"#task-{task['id']}")
    card.locator(".run-stop").first.wait_for()
    assert card.locator(".run-stop").count() == len(task["stops"])
    for i, stop in enumerate(task["stops"]):
        text = card.locator(".run-stop").nth(i).inner_text()
        assert f"第 {stop['seq']} 站 · {stop['community_name']}" in text
        assert "预计" in text and "折叠床" in text and "批次" in text
    assert van["code"] in card.inner_text()
    assert not untranslated(page)
    shot(page, "squad-run-card")

    first = task["stops"][0]
    form = card.locator(f"#stop-{first['id']} form")
    form.get_by_label("签收人").fill("社区主任 张某")
    form.get_by_role("button", name="本站签收").click()
    page.wait_for_function(
        f"document.getElementById('stop-{first['id']}')?.dataset.status === 'done'"
    )
    page.wait_for_function("document.getElementById('outbox-count').dataset.waiting === '0'")
    (stop,) = sql("SELECT status, receiver FROM task_stop WHERE id=$1", first["id"])
    assert stop == {"status": "done", "receiver": "社区主任 张某"}
    statuses = sql(
        "SELECT stop_id, status FROM stock_transfer WHERE task_id=$1 ORDER BY id", task["id"]
    )
    assert {s["status"] for s in statuses if s["stop_id"] == first["id"]} == {"received"}
    assert {s["status"] for s in statuses if s["stop_id"] != first["id"]} == {"dispatched"}
    receipts = sql(
        "SELECT count(*)::int AS n FROM audit_entry WHERE action='tasks.stop' "
        "AND entity='task_stop' AND entity_id=$1",
        str(first["id"]),
    )
    assert receipts == [{"n": 1}]  # one receipt, however the outbox sent it

    with page.expect_popup() as opened:
        card.get_by_role("link", name="打印车次单/签收单").click()
    sheet = opened.value
    sheet.locator(".note-card").first.wait_for()
    assert sheet.locator(".note-card").count() == len(task["stops"])
    body = sheet.inner_text("body")
    assert f"配送车次单 · 任务 #{task['id']}" in body
    assert "送货人签字" in body and "收货人签字" in body and "发出数量" in body
    for stop in task["stops"]:
        for line in stop["lines"]:
            assert all(lot["lot_number"] in body for lot in line["lots"])
    assert "社区主任 张某" in body  # the stop already received says who signed
    assert not untranslated(sheet)
    shot(sheet, "run-sheet")
    sheet.emulate_media(media="print")
    assert sheet.locator(".topbar").is_hidden()
    with client(server, create_user(Role.COMMANDER)) as boss:
        retire_van(boss, van)


def test_the_command_map_shows_a_run_with_its_stops_and_its_vehicle_labelled(
    open_page: Callable[..., Watched], server: str
) -> None:
    leader = create_user(Role.STREET_LEADER, street=STREET)
    task, van = _run_on_its_way(server, leader)
    commander = create_user(Role.COMMANDER)
    watched = open_page("wall")
    page = watched.page
    login(page, commander, next_path="/command")
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("path.cc-run-route", state="attached")  # a line due north is 0 px wide
    assert page.locator("path.cc-run-stop").count() >= len(task["stops"])
    label = page.locator(".map-label-transfer > span", has_text=f"任务#{task['id']}")
    label.first.wait_for(state="attached")
    text = label.first.inner_text()
    assert van["code"] in text and f"/{len(task['stops'])} 站" in text, text
    try:
        shot(page, "command-run-wall")
    finally:
        with client(server, commander) as boss:  # the van off the road for the tests after
            retire_van(boss, van)
