"""Community plans, call-outs and shelters in a real browser against a real server: a
commander reads, revises and approves a plan in /admin; the command center's call-out
board and shelters follow the live feed; a squad tablet is alerted to its user's call-out
and answers it in one tap, online or offline through the outbox (sent once); and the
tablet registers evacuees at a shelter, a full one naming the nearest open one."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from dispatch.accounts.policy import Role
from dispatch.people.schemas import PersonCreate, PersonKind
from dispatch.people.service import create_person
from tests.dispatch.incidents.helpers import community_of
from tests.dispatch.preparedness.helpers import plans_made_here, shelter
from tests.e2e.pages.conftest import Watched, assert_accessible, login, shot, untranslated
from tests.support import client, create_user, run, sql, system_context

pytestmark = pytest.mark.e2e

STREET = "110101007"  # no other page test works in this street
# shelters far from Dongcheng (and from the shelter tests' own), so none of another test's
# is ever the nearest open one with room
BASE = (31.0, 101.0)
OFFLINE = ("ERR_INTERNET_DISCONNECTED", "ERR_FAILED", "/api/live")


@pytest.fixture(scope="module", autouse=True)
def _plans_superseded_after() -> Iterator[None]:
    """Incidents other tests declare later in these communities start no plan of ours."""
    yield from plans_made_here()


@pytest.fixture(scope="module")
def boss(server: str) -> httpx.Client:
    return client(server, create_user(Role.COMMANDER))


def named_person(name: str, community: str) -> int:
    body = PersonCreate(
        code=f"P{uuid.uuid4().hex[:10]}",
        name=name,
        kind=PersonKind.SQUAD_MEMBER,
        community=community,
        skills=["first_aid"],
    )
    return run(create_person(system_context(), body)).id


def _name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().int % 10**6:06d}"


def make_plan(
    http: httpx.Client, community: str, holder: int, deputy: int, shelter_id: int
) -> dict[str, Any]:
    """A draft plan for rainstorms at level IV or graver: one role, one shelter, one task."""
    body = {
        "community": community,
        "title": _name("召集测试预案"),
        "hazards": [{"type": "rainstorm", "min_level": "IV"}],
        "roles": [
            {
                "role": _name("抢险组"),
                "holder": {"kind": "person", "id": holder},
                "deputy": {"kind": "person", "id": deputy},
            }
        ],
        "shelters": [shelter_id],
        "tasks": [{"kind": "guard", "people": 2, "minutes": 60, "skills": ["first_aid"]}],
    }
    made = http.post("/api/preparedness/plans", json=body)
    assert made.status_code == 201, made.text
    return dict(made.json())


def planned_community(http: httpx.Client, offset: int) -> dict[str, Any]:
    """A community of the street with two people, a ready shelter and an approved plan
    naming the first person as its role's holder."""
    community = community_of(STREET, offset)
    holder = named_person(_name("召集甲"), community)
    deputy = named_person(_name("召集乙"), community)
    place = shelter(http, community, BASE[0] + 0.01 * offset, BASE[1], capacity=100)
    plan = make_plan(http, community, holder, deputy, place["id"])
    approved = http.post(f"/api/preparedness/plans/{plan['id']}/approve")
    assert approved.status_code == 200, approved.text
    return {"community": community, "holder": holder, "plan": plan, "shelter": place}


def declare(http: httpx.Client, community: str) -> int:
    made = http.post(
        "/api/incidents",
        json={
            "type": "rainstorm",
            "level": "III",
            "title": _name("召集演示暴雨"),
            "communities": [community],
        },
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def callout_of(incident: int, person: int) -> dict[str, Any]:
    rows = sql(
        "SELECT * FROM plan_callout WHERE incident=$1 AND recipient_kind='person' "
        "AND recipient_id=$2",
        incident,
        person,
    )
    assert len(rows) == 1, rows
    return rows[0]


def answers_recorded(callout: int) -> int:
    rows = sql(
        "SELECT count(*) AS n FROM audit_entry WHERE action='callouts.answer' AND entity_id=$1",
        str(callout),
    )
    return int(rows[0]["n"])


# --- /admin: a plan read, revised and approved --------------------------------------------


def open_plans(open_page: Callable[..., Watched]) -> Any:
    watched = open_page("wall")
    watched.allow("422")  # the refusal the test provokes
    login(watched.page, create_user(Role.COMMANDER), next_path="/admin")
    page = watched.page
    page.locator("main[data-ready]").wait_for(state="attached")
    page.click("#tab-plans")
    page.select_option("#pl-street", STREET)
    return page


def _read_draft(page: Any, draft: dict[str, Any], names: list[str]) -> None:
    """The plan opened from the list shows everything it holds by name."""
    page.click(f"#plans button[data-plan='{draft['id']}']")
    detail = page.locator(f"#plan-detail[data-plan='{draft['id']}']")
    detail.wait_for()
    text = detail.inner_text()
    shown = [draft["title"], "草稿", "暴雨内涝：Ⅳ级（一般）及以上", "值守", "急救", "结对单位承诺"]
    for name in [*shown, *names]:
        assert name in text, name
    assert f"{names[1]}（人员）" in detail.locator(".holder").first.inner_text()
    assert not untranslated(page)
    shot(page, "admin-plan-draft")


def _revise(page: Any, holder: int, other: int) -> None:
    """Deputy = holder is refused (the service says so, the field is marked); then another
    deputy and a second hazard are saved."""
    page.click("#plan-revise")
    page.locator("#plan-edit").wait_for()
    page.select_option("[data-field='roles[0].deputy']", str(holder))
    page.click("#plan-save")
    error = page.locator("#plan-edit-error")
    error.wait_for()
    assert "B 角不能与 A 角是同一人" in error.inner_text()
    assert page.locator("[data-field='roles[0].deputy']").get_attribute("aria-invalid") == "true"
    page.select_option("[data-field='roles[0].deputy']", str(other))
    page.click("#edit-add-hazard")
    page.select_option("[data-field='hazards[1].type']", "fire")
    page.select_option("[data-field='hazards[1].min_level']", "III")
    assert_accessible(page)
    page.click("#plan-save")


def _approve_and_see_coverage(page: Any, boss: httpx.Client, plan_id: int) -> None:
    page.click("#plan-approve")
    page.locator(f"#plan-detail[data-plan='{plan_id}'][data-status='approved']").wait_for()
    assert sql("SELECT status FROM community_plan WHERE id=$1", plan_id)[0]["status"] == "approved"
    coverage = boss.get("/api/preparedness/plans/coverage").json()
    street = next(s for s in coverage["streets"] if s["street"] == STREET)
    page.wait_for_function(
        "([name, want]) => [...document.querySelectorAll('#plan-coverage tbody tr')]"
        ".some(tr => tr.innerText.includes(name) && tr.cells[2].innerText.trim() === want)",
        arg=[street["name"], f"{street['with_plan']} / {street['communities']}"],
    )
    row = page.locator("#plan-coverage tbody tr", has_text=street["name"])
    fire = f"{street['by_hazard']['fire']} / {street['communities']}"
    assert row.locator("td").nth(4).inner_text() == fire
    shot(page, "admin-plan-approved")


def test_an_admin_reads_revises_and_approves_a_plan(
    open_page: Callable[..., Watched], boss: httpx.Client
) -> None:
    community = community_of(STREET, 5)
    holder_name, deputy_name = _name("预案甲"), _name("预案乙")
    holder, deputy = named_person(holder_name, community), named_person(deputy_name, community)
    other = named_person(_name("预案丙"), community)
    place = shelter(boss, community, BASE[0], BASE[1] + 0.05, capacity=40)
    draft = make_plan(boss, community, holder, deputy, place["id"])
    page = open_plans(open_page)
    community_name = sql("SELECT name FROM community WHERE code=$1", community)[0]["name"]
    _read_draft(page, draft, [community_name, holder_name, deputy_name, place["name"]])

    _revise(page, holder, other)
    page.wait_for_function(
        "(id) => { const d = document.getElementById('plan-detail').dataset;"
        " return d.plan && d.plan !== String(id) && d.status === 'draft'; }",
        arg=draft["id"],
    )
    revised = sql(
        "SELECT id, version, status FROM community_plan WHERE community=$1 ORDER BY version",
        community,
    )
    n = draft["version"]
    mine = [(r["version"], r["status"]) for r in revised if r["version"] >= n]
    assert mine == [(n, "draft"), (n + 1, "draft")]  # the draft shown stays as it was
    v2 = revised[-1]["id"]
    roles = sql("SELECT holder_id, deputy_id FROM plan_role WHERE plan_id=$1 ORDER BY seq", v2)
    assert [(r["holder_id"], r["deputy_id"]) for r in roles] == [(holder, other)]
    hazards = sql("SELECT type, min_level FROM plan_hazard WHERE plan_id=$1 ORDER BY id", v2)
    assert [(h["type"], h["min_level"]) for h in hazards] == [("rainstorm", "IV"), ("fire", "III")]
    assert "火灾：Ⅲ级（较大）及以上" in page.locator("#plan-detail").inner_text()
    _approve_and_see_coverage(page, boss, v2)


def test_a_street_leader_approves_their_streets_plan_on_the_admin_page(
    open_page: Callable[..., Watched], boss: httpx.Client
) -> None:
    """Plans are approved by their street: a street leader's /admin holds the plans and
    service tabs only, their own street only, and approves a draft there."""
    community = community_of(STREET, 6)
    holder = named_person(_name("街道甲"), community)
    deputy = named_person(_name("街道乙"), community)
    place = shelter(boss, community, BASE[0], BASE[1] + 0.07, capacity=30)
    draft = make_plan(boss, community, holder, deputy, place["id"])
    leader = create_user(Role.STREET_LEADER, street=STREET)
    watched = open_page("wall")
    page = watched.page
    login(page, leader, next_path="/admin")
    page.locator("main[data-ready]").wait_for(state="attached")
    tabs = page.locator("#tabs [role=tab]").evaluate_all("els => els.map(e => e.dataset.tab)")
    assert tabs == ["plans", "service"]
    assert page.locator("#panel-plans").is_visible()
    streets = page.locator("#pl-street option").evaluate_all("els => els.map(e => e.value)")
    assert streets == [STREET]
    page.locator(f"#plans button[data-plan='{draft['id']}']").click()
    page.locator(f"#plan-detail[data-plan='{draft['id']}']").wait_for()
    page.click("#plan-approve")
    page.locator(f"#plan-detail[data-plan='{draft['id']}'][data-status='approved']").wait_for()
    row = sql("SELECT status, approved_by FROM community_plan WHERE id=$1", draft["id"])[0]
    assert (row["status"], row["approved_by"]) == ("approved", leader)
    coverage = page.locator("#plan-coverage tbody tr").all_inner_texts()
    street_name = sql("SELECT name FROM street WHERE code=$1", STREET)[0]["name"]
    assert len(coverage) == 2 and street_name in coverage[0]  # their street, and the total
    assert not untranslated(page)
    shot(page, "admin-plan-street-leader")


# --- /command: the call-out board and shelters, live ---------------------------------------


def test_the_command_board_shows_call_outs_and_follows_their_answers_live(
    open_page: Callable[..., Watched], boss: httpx.Client, server: str
) -> None:
    planned = planned_community(boss, 1)
    incident = declare(boss, planned["community"])
    callout = callout_of(incident, planned["holder"])
    watched = open_page("wall")
    page = watched.page
    login(page, create_user(Role.COMMANDER), next_path=f"/command?incident={incident}")
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#cc-live[data-state=open]")
    page.evaluate("window.__not_reloaded = true")
    page.click("#tab-callouts")
    row = page.locator(f"tr[data-callout='{callout['id']}']")
    row.wait_for()
    assert row.get_attribute("data-state") == "sent"
    holder_name = sql("SELECT name FROM person WHERE id=$1", planned["holder"])[0]["name"]
    assert f"{holder_name}（人员）" in row.inner_text()
    assert callout["role"] in row.inner_text() and "已发出，待答复" in row.inner_text()
    # the plan opened its shelter: on the map in the open colour, and in the panel
    marker = page.locator(f".shelter-icon[data-shelter='{planned['shelter']['id']}']")
    assert marker.get_attribute("data-status") == "open"

    # answered on another device (a street leader's): the board changes without a reload
    leader = client(server, create_user(Role.STREET_LEADER, street=STREET))
    answered = leader.post(f"/api/callouts/{callout['id']}/acknowledge", json={"eta_minutes": 15})
    assert answered.status_code == 200, answered.text
    page.locator(f"tr[data-callout='{callout['id']}'][data-state='acknowledged']").wait_for()
    assert "马上到" in row.inner_text() and "15 分钟" in row.inner_text()
    assert "马上到 1" in page.locator("#callout-summary").inner_text()

    page.click("#tab-shelters")
    shelter_row = page.locator(f"#shelters tr[data-shelter='{planned['shelter']['id']}']")
    assert "0 / 100 人" in shelter_row.inner_text()
    taken = leader.post(f"/api/shelters/{planned['shelter']['id']}/intake", json={"people": 7})
    assert taken.status_code == 201, taken.text
    page.wait_for_function(
        "(id) => document.querySelector(`#shelters tr[data-shelter='${id}'] .occupancy`)"
        "?.dataset.occupancy === '7'",
        arg=planned["shelter"]["id"],
    )
    assert "7 / 100 人" in shelter_row.inner_text()
    assert page.evaluate("window.__not_reloaded") is True
    assert not untranslated(page)
    shot(page, "command-callouts-shelters")


# --- the squad tablet: the call-out alert, answered in one tap -----------------------------


def open_tablet(open_page: Callable[..., Watched], person: int) -> tuple[Watched, Any, str]:
    """The street leader who is `person`, on a tablet that may show notifications, with the
    service worker controlling the page (its answers kept for offline use)."""
    leader = create_user(Role.STREET_LEADER, street=STREET, person=person)
    watched = open_page("tablet", permissions=["notifications"])
    for fragment in OFFLINE:
        watched.allow(fragment)
    page = watched.page
    login(page, leader, next_path="/squad")
    page.wait_for_selector("body[data-ready=true]")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.wait_for_selector("body[data-ready=true]")
    return watched, page, leader


NOTIFICATIONS = (
    "navigator.serviceWorker.getRegistration('/').then(r => r.getNotifications())"
    ".then(list => list.map(n => n.tag))"
)


def test_a_tablet_is_alerted_to_its_call_out_and_answers_in_one_tap(
    open_page: Callable[..., Watched], boss: httpx.Client
) -> None:
    planned = planned_community(boss, 2)
    _, page, leader = open_tablet(open_page, planned["holder"])
    assert page.locator("#callout-alert").is_hidden()
    incident = declare(boss, planned["community"])  # the plan starts: its role is called out
    callout = callout_of(incident, planned["holder"])
    card = page.locator(f".callout-card[data-callout='{callout['id']}']")
    card.wait_for()
    assert card.get_attribute("data-state") == "open"
    assert f"召集您担任“{callout['role']}”" in card.inner_text()
    assert page.locator("#callout-alert").get_attribute("data-alerted") == "1"
    page.wait_for_function(
        f"{NOTIFICATIONS}.then(tags => tags.includes('callout-{callout['id']}'))"
    )
    shot(page, "squad-callout-alert")

    card.get_by_role("button", name="20 分钟到").click()  # one tap
    page.locator("#callout-alert").wait_for(state="hidden")
    row = sql("SELECT * FROM plan_callout WHERE id=$1", callout["id"])[0]
    assert (row["state"], row["eta_minutes"], row["answered_by"]) == ("acknowledged", 20, leader)
    assert answers_recorded(callout["id"]) == 1
    assert page.locator("#outbox-count").get_attribute("data-waiting") == "0"


def test_an_answer_given_offline_waits_in_the_outbox_and_is_sent_once(
    open_page: Callable[..., Watched], boss: httpx.Client, server: str
) -> None:
    planned = planned_community(boss, 3)
    watched, page, leader = open_tablet(open_page, planned["holder"])
    incident = declare(boss, planned["community"])
    callout = callout_of(incident, planned["holder"])
    card = page.locator(f".callout-card[data-callout='{callout['id']}']")
    card.wait_for()

    watched.context.set_offline(True)
    card.get_by_role("button", name="不在本地").click()
    page.wait_for_function("document.getElementById('outbox-count').dataset.waiting === '1'")
    assert card.get_attribute("data-state") == "waiting"
    assert "无法前往（不在本地）" in card.inner_text()
    key = page.locator("#outbox-waiting li[data-key]").get_attribute("data-key")
    page.reload()  # offline: the page, the call-out and the waiting answer come back
    page.wait_for_selector("body[data-ready=true]")
    page.locator(f".callout-card[data-callout='{callout['id']}'][data-state='waiting']").wait_for()
    assert sql("SELECT state FROM plan_callout WHERE id=$1", callout["id"])[0]["state"] == "sent"
    assert answers_recorded(callout["id"]) == 0

    watched.context.set_offline(False)
    page.wait_for_function("document.getElementById('outbox-count').dataset.waiting === '0'")
    page.locator("#callout-alert").wait_for(state="hidden")
    row = sql("SELECT * FROM plan_callout WHERE id=$1", callout["id"])[0]
    assert (row["state"], row["reason"], row["answered_by"]) == ("declined", "不在本地", leader)
    # the same answer travelling again (its reply lost on the way) is the same answer
    again = client(server, leader).post(
        f"/api/callouts/{callout['id']}/decline",
        json={"reason": "不在本地"},
        headers={"Idempotency-Key": key},
    )
    assert again.status_code == 200 and again.json()["state"] == "declined", again.text
    assert answers_recorded(callout["id"]) == 1


# --- the squad tablet: shelter intake ------------------------------------------------------


def test_shelter_intake_on_the_tablet_and_a_full_shelters_refusal(
    open_page: Callable[..., Watched], boss: httpx.Client
) -> None:
    community = community_of(STREET, 4)
    small = shelter(boss, community, BASE[0] - 0.3, BASE[1], capacity=6, status="open")
    near = shelter(boss, community, BASE[0] - 0.3045, BASE[1], capacity=50, status="open")
    shelter(boss, community, BASE[0] - 0.34, BASE[1], capacity=50, status="open")  # farther
    leader = create_user(Role.STREET_LEADER, street=STREET)
    watched = open_page("tablet")
    watched.allow("409")  # the refusal the test provokes
    page = watched.page
    login(page, leader, next_path="/squad")
    page.wait_for_selector("body[data-ready=true]")
    page.click("#tab-shelters")
    page.select_option("#intake-shelter", str(small["id"]))
    assert "剩余 6 个床位" in page.locator("#intake-room").inner_text()
    page.fill("#intake-people", "4")
    page.get_by_label("老人").check()
    page.fill("#intake-needs", "轮椅")
    page.get_by_role("button", name="登记入住").last.click()
    status = page.locator("#intake-status")
    page.wait_for_function("document.getElementById('intake-status').innerText.includes('已登记')")
    assert "已登记 4 人" in status.inner_text() and "尚余 2 个床位" in status.inner_text()
    registered = sql(
        "SELECT people, needs FROM shelter_registration WHERE shelter_id=$1", small["id"]
    )
    assert [(r["people"], r["needs"]) for r in registered] == [(4, "老人、轮椅")]
    assert_accessible(page)

    page.select_option("#intake-shelter", str(small["id"]))
    page.fill("#intake-people", "3")
    page.get_by_role("button", name="登记入住").last.click()
    error = page.locator("#intake-form .error")
    error.wait_for()
    assert near["name"] in error.inner_text() and "容纳不下 3 人" in error.inner_text()
    assert small["name"] in error.inner_text()
    shot(page, "squad-shelter-full")
    page.click("#intake-nearest")  # one tap: the same household to the nearest open shelter
    page.wait_for_function(
        "document.getElementById('intake-status').innerText.includes('已登记 3 人')"
    )
    assert near["name"] in status.inner_text()
    rows = sql(
        "SELECT id, occupancy FROM shelter WHERE id = ANY($1::int[]) ORDER BY id",
        [small["id"], near["id"]],
    )
    assert [r["occupancy"] for r in rows] == [4, 3]
    assert page.locator("#outbox-refused li").count() == 0

    # the household of four leaves: one tap frees its places, and the register drops it
    page.select_option("#intake-shelter", str(small["id"]))
    four = sql(
        "SELECT id FROM shelter_registration WHERE shelter_id=$1 AND left_at IS NULL", small["id"]
    )[0]["id"]
    page.locator(f"#shelter-register tr[data-registration='{four}'] button").click()
    page.wait_for_function(
        "document.getElementById('intake-status').innerText.includes('已登记离开')"
    )
    assert "尚余 6 个床位" in status.inner_text()
    page.locator(f"#shelter-register tr[data-registration='{four}']").wait_for(state="detached")
    left = sql("SELECT left_at FROM shelter_registration WHERE id=$1", four)[0]["left_at"]
    assert left is not None
    assert sql("SELECT occupancy FROM shelter WHERE id=$1", small["id"])[0]["occupancy"] == 0
