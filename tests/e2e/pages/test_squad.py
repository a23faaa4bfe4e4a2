"""The squad tablet in a real browser: stock, recording, tasks, people on duty, and the
offline outbox (actions recorded without network are sent once each when it returns)."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dispatch.accounts.policy import PERMISSIONS, Role
from tests.dispatch.incidents.helpers import community_of, incident, person, stock, task
from tests.dispatch.stock.helpers import in_days
from tests.e2e.pages.conftest import (
    VIEWPORTS,
    Watched,
    assert_accessible,
    login,
    shot,
    untranslated,
)
from tests.support import client, create_user, run, sql, system_context

pytestmark = pytest.mark.e2e

SQUAD_DIR = Path(__file__).resolve().parents[3] / "dispatch" / "web" / "static" / "js" / "squad"
# what the browser logs for requests the test makes fail on purpose
OFFLINE = ("ERR_INTERNET_DISCONNECTED", "ERR_FAILED", "/api/live")


def depot_of(street: str) -> str:
    return f"D{street}"


def open_squad(watched: Watched, username: str, tab: str = "stock") -> Any:
    """Log in through the form, land on the tablet, wait until its data is on screen."""
    page = watched.page
    login(page, username, next_path="/squad")
    page.wait_for_selector("body[data-ready=true]")
    if tab != "stock":
        page.click(f"#tab-{tab}")
    return page


def on_hand(page: Any, depot: str, item: str) -> str:
    cell = page.locator(f"tr.item-row[data-depot='{depot}'][data-item='{item}'] .on-hand")
    return str(cell.get_attribute("data-qty"))


def wait_on_hand(page: Any, depot: str, item: str, qty: int) -> None:
    page.wait_for_function(
        "([depot, item, qty]) => document.querySelector("
        "`tr.item-row[data-depot='${depot}'][data-item='${item}'] .on-hand`)"
        "?.dataset.qty === String(qty)",
        arg=[depot, item, qty],
    )


def record_issue(page: Any, community: str, item: str, qty: int, purpose: str = "防汛") -> None:
    page.click("#tab-record")
    page.select_option("#issue-community", community)
    page.select_option("#issue-item", item)
    page.fill("#issue-qty", str(qty))
    page.fill("#issue-purpose", purpose)
    page.get_by_role("button", name="登记发放").click()


def controlled_by_worker(page: Any) -> None:
    """The service worker installed, then a reload so it controls the page (and caches
    the page's answers) before the network goes."""
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.wait_for_selector("body[data-ready=true]")


def _leader_with_water(
    open_page: Callable[..., Watched], street: str, qty: int
) -> tuple[Watched, Any]:
    """A street leader's tablet on `street`, its depot holding `qty` WATER, with the
    browser's messages about failed sends allowed (those tests fail them on purpose)."""
    leader = create_user(Role.STREET_LEADER, street=street)
    stock(depot_of(street), "WATER", qty)
    watched = open_page("tablet")
    for fragment in OFFLINE:
        watched.allow(fragment)
    return watched, open_squad(watched, leader)


def test_squad_flow_offline_actions_are_sent_once_each(open_page: Callable[..., Watched]) -> None:
    street = "110101014"
    depot = depot_of(street)
    community = community_of(street)
    watched, page = _leader_with_water(open_page, street, 100)
    controlled_by_worker(page)
    assert on_hand(page, depot, "WATER") == "100"

    record_issue(page, community, "WATER", 5)  # online: sent at once
    page.click("#tab-stock")
    wait_on_hand(page, depot, "WATER", 95)
    assert page.locator("#outbox-count").inner_text() == "全部已发送"

    watched.context.set_offline(True)
    record_issue(page, community, "WATER", 3)
    page.click("#tab-record")
    page.select_option("#receipt-item", "WATER")
    page.fill("#receipt-lot", "OFF-1")
    page.fill("#receipt-expires", "2099-06-30")
    page.fill("#receipt-qty", "7")
    page.get_by_role("button", name="登记入库").click()
    count = page.locator("#outbox-count")
    page.wait_for_function("document.getElementById('outbox-count').dataset.waiting === '2'")
    assert count.inner_text() == "2 条待发送"
    keys = page.locator("#outbox-waiting li[data-key]").evaluate_all(
        "items => items.map(li => li.dataset.key)"
    )
    assert len(keys) == 2
    page.click("#tab-stock")
    delta = page.locator(f"tr.item-row[data-depot='{depot}'][data-item='WATER'] .pending-delta")
    assert delta.inner_text() == "待发送 +4"  # -3 issued, +7 received, not yet sent
    assert on_hand(page, depot, "WATER") == "95"

    page.reload()  # the shell and the last answers come from the service worker's cache
    page.wait_for_selector("body[data-ready=true]")
    assert "离线中" in page.locator("#squad-stale").inner_text()
    assert count.inner_text() == "2 条待发送"
    assert on_hand(page, depot, "WATER") == "95"
    moved = "SELECT count(*) AS n FROM stock_movement WHERE idempotency_key = ANY($1::text[])"
    assert sql(moved, keys)[0]["n"] == 0

    watched.context.set_offline(False)
    page.wait_for_function("document.getElementById('outbox-count').dataset.waiting === '0'")
    assert count.inner_text() == "全部已发送"
    wait_on_hand(page, depot, "WATER", 99)
    per_key = sql(
        "SELECT idempotency_key AS key, kind, qty FROM stock_movement "
        "WHERE idempotency_key = ANY($1::text[]) ORDER BY id",
        keys,
    )
    assert [(r["key"], r["kind"], r["qty"]) for r in per_key] == [
        (keys[0], "issue", -3),
        (keys[1], "receipt", 7),
    ]
    ledger = sql(
        "SELECT kind, qty FROM stock_movement WHERE depot=$1 AND item='WATER' ORDER BY id",
        depot,
    )
    assert [(r["kind"], r["qty"]) for r in ledger] == [
        ("receipt", 100),
        ("issue", -5),
        ("issue", -3),
        ("receipt", 7),
    ]


def _wait_until(page: Any, done: Callable[[], bool], seconds: float = 10) -> None:
    """Let the page run (and its routes answer) until `done()`, at most `seconds`."""
    for _ in range(int(seconds * 20)):
        if done():
            return
        page.wait_for_timeout(50)


def _moved_once(key: str) -> int:
    """The stock one action moved under its key: one issue, which may take from several
    lots (earliest expiry first) and so be several rows, each of the same command."""
    moved = sql("SELECT kind, qty, key_seq FROM stock_movement WHERE idempotency_key=$1", key)
    assert {m["kind"] for m in moved} == {"issue"}, moved
    assert sorted(m["key_seq"] for m in moved) == list(range(1, len(moved) + 1)), moved
    return sum(int(m["qty"]) for m in moved)


def test_a_send_that_failed_is_retried_every_15_s_without_the_online_event(
    open_page: Callable[..., Watched],
) -> None:
    # The tablet stays "online" while its requests fail (a dead access point, say): no
    # online event ever comes, so only the 15 s timer can send what waits, once, with its key.
    street = "110101009"  # no other test counts this depot's movements
    _, page = _leader_with_water(open_page, street, 40)
    dropped: list[str] = []

    def drop(route: Any) -> None:
        dropped.append(route.request.url)
        route.abort("failed")

    page.route("**/api/stock/issues", drop)
    record_issue(page, community_of(street), "WATER", 4)
    _wait_until(page, lambda: bool(dropped))  # it shows as waiting before it is first sent
    assert dropped  # it was sent at once, and the send failed
    page.wait_for_function("document.getElementById('outbox-count').dataset.waiting === '1'")
    key = page.locator("#outbox-waiting li[data-key]").get_attribute("data-key")
    page.unroute("**/api/stock/issues")
    page.wait_for_function(
        "document.getElementById('outbox-count').dataset.waiting === '0'", timeout=25_000
    )
    assert page.locator("#outbox-count").inner_text() == "全部已发送"
    assert _moved_once(key) == -4


def test_an_answer_marked_retry_is_sent_again_not_listed_as_refused(
    open_page: Callable[..., Watched],
) -> None:
    # A 409 with `retry` is the service's answer to a transaction that met a concurrent
    # one and was rolled back whole (see dispatch.errors): the outbox keeps the action and
    # sends it again, where another 409 would be a refusal listed for the user.
    from dispatch.errors import concurrent_change_handler

    street = "110101009"  # the movement is counted by its own key only
    watched, page = _leader_with_water(open_page, street, 40)
    watched.allow("409")
    answer = concurrent_change_handler(None, RuntimeError("could not serialize access"))  # type: ignore[arg-type]
    answered: list[str] = []

    def conflict(route: Any) -> None:
        answered.append(route.request.url)
        route.fulfill(
            status=answer.status_code,
            headers={"Content-Type": "application/problem+json"},
            body=json.dumps(answer.content),
        )
        page.unroute("**/api/stock/issues")  # the next send reaches the service

    page.route("**/api/stock/issues", conflict)
    record_issue(page, community_of(street), "WATER", 3)
    _wait_until(page, lambda: bool(answered))  # it shows as waiting before it is first sent
    assert answered  # the first send got the conflict, and the action still waits
    page.wait_for_function("document.getElementById('outbox-count').dataset.waiting === '1'")
    assert page.locator("#outbox-refused li").count() == 0
    key = page.locator("#outbox-waiting li[data-key]").get_attribute("data-key")
    page.wait_for_function(
        "document.getElementById('outbox-count').dataset.waiting === '0'", timeout=25_000
    )
    assert page.locator("#outbox-refused li").count() == 0
    assert page.locator("#outbox-count").inner_text() == "全部已发送"
    assert _moved_once(key) == -3


def test_the_next_user_of_a_shared_tablet_never_sees_the_last_ones_answers(
    open_page: Callable[..., Watched],
) -> None:
    first, second = "110101011", "110101012"
    stock(depot_of(first), "QUILT", 9)
    leader_a = create_user(Role.STREET_LEADER, street=first)
    leader_b = create_user(Role.STREET_LEADER, street=second)
    guard = task(incident([community_of(first)]), community_of(first), "guard")
    watched = open_page("tablet")
    for fragment in OFFLINE:
        watched.allow(fragment)
    page = open_squad(watched, leader_a)
    controlled_by_worker(page)
    assert on_hand(page, depot_of(first), "QUILT") == "9"
    assert page.locator(f"#task-{guard['id']}").count() == 1  # A's task, cached for A
    street_a = page.locator("#squad-street").inner_text()
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url("**/login")
    login(page, leader_b, next_path="/about")

    watched.context.set_offline(True)
    page.goto("/squad")  # the shell from the cache; B's token finds none of A's answers
    page.get_by_text("离线，且本机没有保存过这部分数据").first.wait_for()
    body = page.locator("body").inner_text()
    assert street_a not in body and depot_of(first) not in body
    assert page.locator(f"#task-{guard['id']}").count() == 0
    assert leader_b in page.locator("#who").inner_text()


def test_a_refused_action_is_listed_with_its_reason(open_page: Callable[..., Watched]) -> None:
    street = "110101015"
    depot = depot_of(street)
    leader = create_user(Role.STREET_LEADER, street=street)
    stock(depot, "TENT", 4)
    watched = open_page("tablet-landscape")
    watched.allow("409")
    page = open_squad(watched, leader)
    warned: list[str] = []  # more than the last known stock: the tablet asks first
    page.once("dialog", lambda dialog: (warned.append(dialog.message), dialog.accept()))
    record_issue(page, community_of(street), "TENT", 50)
    assert warned and "可用库存只有 4" in warned[0], warned
    refused = page.locator("#outbox-refused li")
    refused.wait_for()
    text = refused.inner_text()
    assert "被拒绝" in text and "发放 50" in text
    assert "可用 4" in text and "(409)" in text  # the shortage's figures, not retried
    assert page.locator("#outbox-count").inner_text() == "全部已发送"
    assert sql("SELECT count(*) AS n FROM stock_movement WHERE depot=$1", depot)[0]["n"] == 1
    page.get_by_role("button", name="知道了").click()
    refused.wait_for(state="detached")

    # a count that finds one tent missing becomes a count adjustment
    page.click("#tab-record")
    page.select_option("#count-depot", depot)
    page.get_by_label(re.compile(r"帐篷 · T")).fill("3")
    page.get_by_role("button", name="提交盘点").click()
    page.click("#tab-stock")
    wait_on_hand(page, depot, "TENT", 3)
    counted = sql("SELECT kind, reason, qty FROM stock_movement WHERE depot=$1 ORDER BY id", depot)
    assert [(r["kind"], r["reason"], r["qty"]) for r in counted] == [
        ("receipt", None, 4),
        ("adjustment", "count", -1),
    ]


def _delivery_task(server: str, street: str) -> dict[str, Any]:
    """A delivery for a community of `street`, planned and approved by a commander."""
    community = community_of(street, 1)
    stock("D110101000", "FOOD", 500)  # the district reserve may always be emptied
    commander = create_user(Role.COMMANDER)
    with client(server, commander) as boss:
        incident = boss.post(
            "/api/incidents",
            json={
                "type": "rainstorm",
                "level": "III",
                "title": f"平板测试 {uuid.uuid4().int % 10**4:04d}",
                "communities": [community],
            },
        ).json()["id"]
        made = boss.post(
            f"/api/incidents/{incident}/requests",
            json={"community": community, "item": "FOOD", "quantity": 12},
        )
        assert made.status_code == 201, made.text
        plan = boss.post(f"/api/incidents/{incident}/plans", json={}).json()
        assert boss.post(f"/api/plans/{plan['id']}/approve", json={}).status_code == 200
        (task,) = boss.get("/api/tasks", params={"incident": incident}).json()
    return dict(task)


def test_the_crew_shares_where_the_vehicle_is_only_when_asked(
    open_page: Callable[..., Watched], server: str
) -> None:
    street = "110101008"
    leader = create_user(Role.STREET_LEADER, street=street)
    task = _delivery_task(server, street)
    with client(server, leader) as squad:
        version = task["version"]
        for action, body in (
            ("assign", {"people": [person(street)]}),
            ("accept", {}),
            ("start", {}),
        ):
            moved = squad.post(
                f"/api/tasks/{task['id']}/{action}", json={"version": version, **body}
            )
            assert moved.status_code == 200, moved.text
            version = moved.json()["version"]
    coords = task["route"]["coordinates"]
    half = len(coords) // 2
    lon, lat = coords[half]
    watched = open_page("tablet", geolocation={"latitude": lat, "longitude": lon, "accuracy": 9})
    watched.context.grant_permissions(["geolocation"])
    page = open_squad(watched, leader, tab="tasks")
    card = page.locator(f"#task-{task['id']}")
    share = card.get_by_role("button", name="我在车上，共享位置")
    share.wait_for()
    page.wait_for_timeout(1500)
    assert not sql("SELECT 1 FROM task_position WHERE task=$1", task["id"])  # not unasked
    share.click()
    stop = card.get_by_role("button", name="正在共享位置（点击停止）")
    assert stop.get_attribute("aria-pressed") == "true"
    deadline, fixes = time.monotonic() + 15, []
    while not fixes and time.monotonic() < deadline:
        time.sleep(0.2)
        fixes = sql(
            "SELECT lat, lon, accuracy_m, next_node, recorded_by FROM task_position WHERE task=$1",
            task["id"],
        )
    assert fixes == [
        {"lat": lat, "lon": lon, "accuracy_m": 9.0, "next_node": half, "recorded_by": leader}
    ]
    assert not untranslated(page)
    stop.click()
    card.get_by_role("button", name="我在车上，共享位置").wait_for()
    assert len(sql("SELECT 1 FROM task_position WHERE task=$1", task["id"])) == 1


def test_task_assign_accept_pick_up_and_deliver(
    open_page: Callable[..., Watched], server: str
) -> None:
    street = "110101016"
    leader = create_user(Role.STREET_LEADER, street=street)
    crew = [person(street, ["driving"]), person(street, ["driving"])]
    task = _delivery_task(server, street)
    assert task["status"] == "open" and task["street"] == street
    _on_duty_with_phone(street, offset=1, worker=True)  # the receiving community's worker
    watched = open_page("tablet")
    watched.allow("412")
    page = open_squad(watched, leader, tab="tasks")
    card = page.locator(f"#task-{task['id']}")
    assert "12箱" in card.inner_text() and "待派人" in card.inner_text()

    card.get_by_role("button", name="派人").click()
    card.locator("fieldset input[type=checkbox]").first.wait_for()
    checked = card.locator("fieldset input:checked").evaluate_all(
        "boxes => boxes.map(b => Number(b.value))"
    )
    assert set(checked) <= set(crew) | {
        r["id"] for r in sql("SELECT id FROM person WHERE street=$1", street)
    }
    card.get_by_role("button", name="确认派人").click()
    page.wait_for_function(
        f"document.getElementById('task-{task['id']}')?.dataset.status === 'assigned'"
    )

    sent = "document.getElementById('outbox-count').dataset.waiting === '0'"
    page.wait_for_function(sent)  # shown at once (optimistic), then sent
    # someone else accepts first: the tablet's accept is stale (412), it reloads and says so
    current = sql("SELECT version FROM task WHERE id=$1", task["id"])[0]["version"]
    with client(server, leader) as other:
        taken = other.post(f"/api/tasks/{task['id']}/accept", json={"version": current})
        assert taken.status_code == 200, taken.text
    card.get_by_role("button", name="接受任务").click()
    page.locator("#outbox-refused li").wait_for()
    assert "(412)" in page.locator("#outbox-refused").inner_text()
    page.wait_for_function(
        f"document.getElementById('task-{task['id']}')?.dataset.status === 'accepted'"
    )
    page.get_by_role("button", name="知道了").click()

    card.get_by_role("button", name="已取货出发").click()
    page.wait_for_function(
        f"document.getElementById('task-{task['id']}')?.dataset.status === 'en_route'"
    )
    page.wait_for_function(sent)
    # where it goes, when it is due, the route, and who receives it (phone masked)
    facts = card.locator(".task-facts").inner_text()
    official = sql("SELECT official_name FROM community WHERE code=$1", task["community"])
    assert f"送往 {official[0]['official_name']}" in facts and "预计" in facts, facts
    assert card.locator("svg.route-sketch polyline").count() == 1
    card.get_by_role("button", name="查看收货联系人").click()
    contact = card.locator(".receiver li", has_text="收货测试员")
    contact.wait_for()
    assert MASKED.search(contact.locator(".phone").inner_text())
    card.locator("summary").click()  # the "cannot complete" box, for the picture
    shot(page, "squad-tasks-tablet")
    quantity = card.get_by_label("送达数量")
    assert quantity.input_value() == "12"
    quantity.fill("10")
    card.get_by_role("button", name="确认送达").click()
    error = card.locator(".complete-form .error")
    assert "短缺原因" in error.inner_text()  # less than planned needs a reason
    card.get_by_label("短缺原因").fill("两箱破损")
    card.get_by_role("button", name="确认送达").click()
    page.locator(f"#task-finished-list #task-{task['id']}").wait_for(state="attached")
    page.wait_for_function(sent)
    row = sql("SELECT status, delivered_qty FROM task WHERE id=$1", task["id"])[0]
    assert row == {"status": "done", "delivered_qty": 10}
    assert page.locator("#outbox-count").inner_text() == "全部已发送"


def _on_duty_with_phone(street: str, offset: int = 2, worker: bool = False) -> tuple[str, int]:
    from dispatch.people.schemas import CheckInRequest, PersonCreate, PersonKind
    from dispatch.people.service import check_in, create_person

    community = community_of(street, offset)
    number = f"100{uuid.uuid4().int % 10**8:08d}"
    body = PersonCreate(
        code=f"P{uuid.uuid4().hex[:10]}",
        name="收货测试员" if worker else "值班测试员",
        kind=PersonKind.COMMUNITY_WORKER if worker else PersonKind.PARTY_MEMBER,
        party_branch=None if worker else "测试单位党支部",
        phone=number,
        community=community,
        skills=["first_aid"],
    )
    made = run(create_person(system_context(), body))
    run(check_in(system_context(), CheckInRequest(person_id=made.id)))
    return community, made.id


MASKED = re.compile(r"^100\*{4}\d{4}$")


def test_phones_are_masked_and_only_revealing_roles_can_call(
    open_page: Callable[..., Watched],
) -> None:
    street = "110101017"
    community, person_id = _on_duty_with_phone(street)
    viewer = create_user(Role.VIEWER)
    leader = create_user(Role.STREET_LEADER, street=street)

    watched = open_page("tablet-landscape")
    page = open_squad(watched, viewer)
    page.select_option("#street-select", street)
    page.click("#tab-people")
    page.get_by_role("button", name=re.compile("查看 .* 在岗人员")).first.wait_for()
    name = sql("SELECT name FROM community WHERE code=$1", community)[0]["name"]
    page.get_by_role("button", name=f"查看 {name} 在岗人员").click()
    phone = page.locator("#duty-people .phone").first
    phone.wait_for()
    assert MASKED.match(phone.inner_text())
    assert page.locator("#duty-people .call, #duty-people a[href^='tel:']").count() == 0
    assert_accessible(page)

    watched = open_page("tablet")
    page = open_squad(watched, leader, tab="people")
    page.get_by_role("button", name=f"查看 {name} 在岗人员").click()
    call = page.get_by_role("button", name="拨打 值班测试员 的电话")
    call.click()
    link = page.get_by_role("link", name="立即拨号给 值班测试员")
    href = str(link.get_attribute("href"))
    assert re.fullmatch(r"tel:100\d{8}", href)
    assert href[4:] not in page.locator("body").inner_text()  # a link, never shown
    audited = sql(
        "SELECT count(*) AS n FROM audit_entry WHERE action='people.reveal' AND entity_id=$1",
        str(person_id),
    )
    assert audited[0]["n"] == 1


def _community_tablet(
    open_page: Callable[..., Watched], user: str, ours: int, other: int
) -> tuple[Any, Any]:
    """A community role's tablet on its tasks: task `ours` shown, `other` (the next
    community's) not, no stock tab, and of the recording tab only the need form, for the
    roles that may report needs (community workers, not volunteers). The page and our
    task's card."""
    page = open_squad(open_page("tablet"), user, tab="tasks")
    card = page.locator(f"#task-{ours}")
    card.wait_for()
    assert page.locator(f"#task-{other}").count() == 0
    assert page.locator("#tab-stock").is_hidden()
    role = sql("SELECT role FROM app_user WHERE username=$1", user)[0]["role"]
    assert page.locator("#tab-record").is_hidden() == (role == "volunteer")
    for form in ("#issue-form", "#receipt-form", "#count-form"):
        assert page.locator(form).is_hidden()
    return page, card


def test_community_worker_and_volunteer_work_their_communitys_tasks(
    open_page: Callable[..., Watched], server: str
) -> None:
    # The two community-scoped roles: no stock or recording tabs, their community's tasks
    # only (not the next community's in the same street), and on-duty people for the
    # worker alone, who may also call them. Each works the task as one of the people on it
    # (a volunteer or worker acts only on tasks assigned to them).
    street = "110101014"
    mine, theirs = community_of(street), community_of(street, 1)
    worker_person, volunteer_person = person(street), person(street)
    worker = create_user(Role.COMMUNITY_WORKER, community=mine, person=worker_person)
    volunteer = create_user(Role.VOLUNTEER, community=mine, person=volunteer_person)
    commander = create_user(Role.COMMANDER)
    event = incident([mine, theirs], level="IV", kind="fire")
    ours, other = task(event, mine, people=2), task(event, theirs)
    with client(server, commander) as boss:
        assigned = boss.post(
            f"/api/tasks/{ours['id']}/assign",
            json={"version": ours["version"], "people": [worker_person, volunteer_person]},
        )
        assert assigned.status_code == 200, assigned.text

    page, card = _community_tablet(open_page, worker, ours["id"], other["id"])
    assert page.locator("#tab-people").is_visible()
    own = sql("SELECT name FROM community WHERE code=$1", mine)[0]["name"]
    assert page.locator("#squad-street").inner_text().startswith(own)  # their own scope
    card.get_by_role("button", name="接受任务").click()
    page.wait_for_function(
        f"document.getElementById('task-{ours['id']}')?.dataset.status === 'accepted'"
    )
    page.wait_for_function("document.getElementById('outbox-count').dataset.waiting === '0'")
    assert sql("SELECT status FROM task WHERE id=$1", ours["id"])[0]["status"] == "accepted"
    page.click("#tab-people")
    page.locator("#duty-communities table").wait_for()
    page.locator("#pairings table").wait_for()  # its own community's, not the street's
    assert_accessible(page)

    page, card = _community_tablet(open_page, volunteer, ours["id"], other["id"])
    card.get_by_role("button", name="完成任务").click()  # a guard task: done once accepted
    page.locator(f"#task-finished-list #task-{ours['id']}").wait_for(state="attached")
    page.wait_for_function("document.getElementById('outbox-count').dataset.waiting === '0'")
    assert sql("SELECT status FROM task WHERE id=$1", ours["id"])[0]["status"] == "done"
    page.click("#tab-people")
    page.locator("#duty-communities table").wait_for()
    assert page.locator("#duty-communities button").count() == 0  # nobody to look up or call
    assert_accessible(page)


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_squad_screens_are_labelled_reachable_and_translated(
    open_page: Callable[..., Watched], viewport: str
) -> None:
    street = "110101013"
    soon = in_days(10).isoformat()
    stock(depot_of(street), "MASK", 30, expires=soon)  # near expiry
    leader = create_user(Role.STREET_LEADER, street=street)
    watched = open_page(viewport)
    page = open_squad(watched, leader)
    assert "临期" in page.locator("#stock-depots").inner_text()
    assert not untranslated(page)
    assert_accessible(page)
    shot(page, f"squad-{viewport}")
    page.click("#tab-record")
    assert_accessible(page)
    shot(page, f"squad-record-{viewport}")
    if viewport == "wall":
        page.goto("/squad?lang=en")
        page.wait_for_selector("body[data-ready=true]")
        assert page.locator("#outbox-count").inner_text() == "All sent"
        assert "near expiry" in page.locator("#stock-depots").inner_text()
        assert not untranslated(page)
        shot(page, "squad-wall-en")


def test_the_page_uses_the_policy_table(open_page: Callable[..., Watched]) -> None:
    """The tablet hides what a role may never do; the table it uses is policy.py's, read
    from /api/vocabulary, and no hand-written copy is left in its modules."""
    leader = create_user(Role.STREET_LEADER, street="110101013")
    page = open_squad(open_page("tablet"), leader)
    used = page.evaluate("async () => (await import('/static/js/squad/state.js')).POLICY")
    assert used, "no POLICY table in the squad page"
    assert {action: set(roles) for action, roles in used.items()} == {
        action: {r.value for r in roles} for action, roles in PERMISSIONS.items()
    }
    sources = "".join(path.read_text(encoding="utf-8") for path in SQUAD_DIR.glob("*.js"))
    assert '"stock.read": [' not in sources


def test_a_street_leader_reports_a_need_offline_and_it_arrives_once(
    server: str, open_page: Callable[..., Watched]
) -> None:
    """The tablet reports a community's need: recorded offline, sent once when the network
    returns, and the incident has exactly that one request."""
    street = "110101016"
    community = community_of(street)
    commander = create_user(Role.COMMANDER)
    with client(server, commander) as boss:
        made = boss.post(
            "/api/incidents",
            json={
                "type": "rainstorm",
                "level": "IV",
                "title": "平板报需求",
                "communities": [community],
            },
        )
        assert made.status_code == 201, made.text
        incident = made.json()["id"]
    leader = create_user(Role.STREET_LEADER, street=street)
    watched = open_page("tablet")
    for fragment in OFFLINE:
        watched.allow(fragment)
    page = open_squad(watched, leader)
    controlled_by_worker(page)
    page.click("#tab-record")
    page.wait_for_selector(f"#need-incident option[value='{incident}']", state="attached")
    watched.context.set_offline(True)
    page.select_option("#need-incident", str(incident))
    page.select_option("#need-community", community)
    page.select_option("#need-item", "SANDBAG")
    page.fill("#need-qty", "40")
    page.select_option("#need-priority", "critical")
    page.get_by_role("button", name="提交需求").click()
    page.wait_for_function("document.getElementById('outbox-count').dataset.waiting === '1'")
    assert "需求 40" in page.locator("#outbox-waiting").inner_text()
    rows = "SELECT item, quantity, priority FROM supply_request WHERE incident=$1"
    assert sql(rows, incident) == []
    watched.context.set_offline(False)
    page.wait_for_function("document.getElementById('outbox-count').dataset.waiting === '0'")
    assert sql(rows, incident) == [{"item": "SANDBAG", "quantity": 40, "priority": "critical"}]
    page.evaluate("window.dispatchEvent(new Event('online'))")  # a second flush sends nothing
    page.wait_for_timeout(500)
    assert len(sql(rows, incident)) == 1
