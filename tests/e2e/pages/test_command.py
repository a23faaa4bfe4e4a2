"""The command center in a real browser against a real server: an incident from declaration
to a delivery's completion, watched live on the map and panels without reloading."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from dispatch.accounts.policy import Role
from tests.dispatch.incidents.helpers import community_of, person, stock
from tests.e2e.pages.conftest import Watched, assert_accessible, login, shot, untranslated
from tests.support import client, create_user, sql

pytestmark = pytest.mark.e2e

STREET = "110101003"
RESERVE = "D110101000"


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


@pytest.fixture(scope="module")
def supplied() -> None:
    """The district reserve holds the water every plan here sends."""
    stock(RESERVE, "WATER", 500)


def open_command(open_page: Callable[..., Watched], user: str, viewport: str = "wall") -> Any:
    watched = open_page(viewport)
    page = watched.page
    login(page, user, next_path="/command")
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#cc-live[data-state=open]")
    page.evaluate("window.__not_reloaded = true")
    return watched


def count(page: Any, selector: str) -> int:
    return int(page.locator(selector).count())


def wait_count(page: Any, selector: str, n: int) -> None:
    page.wait_for_function(
        "([s, n]) => document.querySelectorAll(s).length === n", arg=[selector, n]
    )


@pytest.mark.parametrize("viewport", ["wall", "tablet-landscape"])
def test_command_center_renders_labelled_and_reachable(
    open_page: Callable[..., Watched], commander: str, viewport: str
) -> None:
    page = open_command(open_page, commander, viewport).page
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.wait_for_selector("body[data-roads=synthetic]")
    assert "合成路网" in page.locator(".map-note").inner_text()
    assert count(page, ".leaflet-tile") == 0  # no tile server: vectors only
    # the map draws what the database holds (earlier tests may have fixed coordinates)
    (places,) = sql(
        "SELECT count(*) AS communities, count(*) FILTER (WHERE approximate) AS approximate, "
        "(SELECT count(*) FROM depot) AS depots FROM community"
    )
    assert count(page, "path.cc-community") == places["communities"] > 0
    assert count(page, "path.cc-approximate") == places["approximate"]  # drawn hollow, told apart
    assert count(page, ".depot-icon") == places["depots"] > 0
    assert not untranslated(page)
    shot(page, f"command-{viewport}")
    # the declare form is folded away once incidents exist: unfold it, so its controls are
    # checked too whatever earlier tests left (a closed <details> keeps them out of Tab order)
    if not page.locator("#cc-declare").evaluate("d => d.open"):
        page.locator("#cc-declare > summary").click()
    assert_accessible(page)
    started = time.monotonic()
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    roads = page.evaluate(
        "() => performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('/api/map/roads'))"
        ".map(e => [e.encodedBodySize, e.decodedBodySize])[0]"
    )
    print(
        f"\n/command {viewport}: ready {time.monotonic() - started:.2f} s after a reload; "
        f"/api/map/roads {roads[0]} bytes on the wire, {roads[1]} decoded"
    )


def test_command_flow_from_declaration_to_completed_delivery(
    open_page: Callable[..., Watched], server: str, commander: str, supplied: None
) -> None:
    leader = create_user(Role.STREET_LEADER, street=STREET)
    crew = [person(STREET), person(STREET)]
    communities = [community_of(STREET, 0), community_of(STREET, 1)]
    with client(server, leader) as squad:
        for who in crew:
            checked = squad.post(
                "/api/duty/check-in", json={"person_id": who, "community": communities[0]}
            )
            assert checked.status_code == 201, checked.text
    watched = open_command(open_page, commander)
    page = watched.page

    # declare on the page
    if not page.locator("#cc-declare").evaluate("d => d.open"):  # open while none exist
        page.locator("#cc-declare > summary").click()
    page.get_by_label("事件类型").select_option("rainstorm")
    page.get_by_label("响应级别").select_option("III")
    page.get_by_label("事件名称").fill("暴雨内涝 指挥流程")
    page.get_by_label("受影响社区（可多选）").select_option(communities[1])
    page.locator(f"path[data-community='{communities[0]}']").dispatch_event("click")  # on the map
    assert sorted(
        page.locator("#declare-communities").evaluate(
            "s => [...s.selectedOptions].map(o => o.value)"
        )
    ) == sorted(communities)
    page.get_by_role("button", name="宣布", exact=True).click()
    page.wait_for_function(
        "() => document.querySelector('#cc-incident').selectedOptions[0]"
        "?.textContent.includes('暴雨内涝 指挥流程')"
    )
    incident = int(page.locator("#cc-incident").input_value())
    wait_count(page, "path.cc-request", 0)  # the new incident: the last one's requests go

    # requests posted by another client appear on the map, live
    with client(server, leader) as other:
        for code, qty in zip(communities, (12, 30), strict=True):
            made = other.post(
                f"/api/incidents/{incident}/requests",
                json={"community": code, "item": "WATER", "quantity": qty, "priority": "high"},
            )
            assert made.status_code == 201, made.text
    wait_count(page, "path.cc-request", 2)
    wait_count(page, "#requests tbody tr", 2)
    assert "高 2" in page.locator("#fig-open").inner_text()

    # plan and review the proposed routes: lines on the map, rows in the table
    page.get_by_role("tab", name="调拨方案").click()
    page.get_by_role("button", name="计算调拨方案").click()
    page.wait_for_selector("#plan-lines")
    wait_count(page, "path.cc-plan-route", 2)
    wait_count(page, "#plan-lines tbody tr", 2)
    assert "东城区应急物资储备库" in page.locator("#plan-lines").inner_text()
    # the explanation in Chinese, with the depot's name (not its code, not English)
    explained = page.locator("#plan-lines tbody tr td:last-child").first.text_content() or ""
    assert "分钟送达" in explained and "车程" in explained  # the short line, the sentence
    assert "D1101" not in explained and "away" not in explained
    # the runs the plan's loads make on the depot's vehicles, or why none can go (which
    # depends on the fleet other tests left at the reserve: none, uncrewed, or crewed)
    runs = page.locator("#plan-runs").inner_text()
    said = ("第 1 趟", "无可用车辆", "车辆无司乘人员")
    assert "东城区应急物资储备库" in runs and any(s in runs for s in said), runs
    assert "no_" not in runs and "D1101" not in runs  # reasons and depots by name
    shot(page, "command-plan-wall")

    page.get_by_role("button", name="批准全部").click()
    page.wait_for_selector("#plan h2:has-text('已批准')")
    wait_count(page, "path.cc-plan-route", 0)
    wait_count(page, "path.cc-transfer", 2)  # two deliveries waiting at the depot

    # the people panel: suggestions for the first delivery, assigned from the page
    page.get_by_role("tab", name="人员调配").click()
    wait_count(page, "#on-duty tbody tr", 2)  # the incident's communities, on duty or not
    for code in communities:  # earlier tests check people in here too: as the database says
        on_duty, skills = _on_duty(code)
        row = page.locator("#on-duty tbody tr", has_text=_community_name(code)).inner_text()
        assert f"\t{on_duty}\t" in row and skills in row, (row, on_duty, skills)
    page.locator("#tasks-table tbody tr", has_text=_community_name(communities[0])).get_by_role(
        "button", name="推荐人员"
    ).click()
    page.wait_for_selector("#suggestions input.pick-person")
    picked = page.locator("#suggestions input.pick-person:checked").evaluate_all(
        "boxes => boxes.map(b => Number(b.value))"
    )
    assert len(picked) == 2  # the delivery's two people, preselected from the suggestions
    page.get_by_role("button", name="指派所选人员").click()
    page.wait_for_selector("#tasks-table tbody tr:has-text('已指派')")

    # the street squad works the task through the API; the page hears it live
    with client(server, leader) as squad:
        (task,) = [
            t
            for t in squad.get("/api/tasks", params={"incident": incident}).json()
            if t["community"] == communities[0]
        ]
        assert task["status"] == "assigned" and sorted(task["assignees"]) == sorted(picked)
        task = squad.post(f"/api/tasks/{task['id']}/accept", json={"version": task["version"]})
        task = squad.post(
            f"/api/tasks/{task.json()['id']}/start", json={"version": task.json()["version"]}
        ).json()
        page.wait_for_selector("#tasks-table tbody tr:has-text('运送中')")
        # standing down asks first; with the delivery on its way it is refused, listed,
        # and left responding when the commander gives no reason to cancel it
        asked: list[tuple[str, str]] = []

        def answer(dialog: Any) -> None:
            asked.append((dialog.type, dialog.message))
            dialog.accept() if dialog.type == "confirm" else dialog.dismiss()

        page.on("dialog", answer)
        watched.allow("409")  # the refusal listing the work under way
        page.locator("#cc-respond").click()
        page.locator("#cc-stand-down").click()
        for _ in range(100):
            if len(asked) == 2:
                break
            page.wait_for_timeout(50)
        page.remove_listener("dialog", answer)
        assert [kind for kind, _ in asked] == ["confirm", "prompt"], asked
        assert "结束响应" in asked[0][1] and "项工作在进行" in asked[1][1], asked
        assert "退回" in asked[1][1]  # what cancelling would do, said before it is done
        standing = squad.get(f"/api/incidents/{incident}").json()
        assert standing["status"] == "responding"
        # its tablet says where it is: the vehicle is drawn there, as the fix arrives
        lon, lat = task["route"]["coordinates"][len(task["route"]["coordinates"]) // 2]
        seen = squad.post(
            f"/api/tasks/{task['id']}/positions", json={"lat": lat, "lon": lon, "accuracy_m": 12}
        )
        assert seen.status_code == 201, seen.text
        wait_count(page, "path.cc-transfer-seen", 1)
        lon, lat = task["route"]["coordinates"][len(task["route"]["coordinates"]) * 2 // 3]
        again = squad.post(f"/api/tasks/{task['id']}/positions", json={"lat": lat, "lon": lon})
        assert again.status_code == 201, again.text
        wait_count(page, "path.cc-task-track", 1)  # two fixes: the way it drove, drawn
        done = squad.post(f"/api/tasks/{task['id']}/complete", json={"version": task["version"]})
        assert done.status_code == 200, done.text
    page.wait_for_selector(f"#tasks-table tbody tr:has-text('#{task['id']}'):has-text('已完成')")
    page.wait_for_selector(
        f"#events li[data-kind='task.done']:has-text('#{task['id']}')", state="attached"
    )
    wait_count(page, "path.cc-transfer", 1)  # the other one is still out
    page.wait_for_function("() => document.querySelector('#fig-tasks').textContent === '1/2'")
    page.wait_for_function("() => document.querySelector('#fig-fill').textContent === '29%'")
    assert page.evaluate("window.__not_reloaded") is True
    assert not untranslated(page)
    shot(page, "command-flow-wall")
    page.get_by_role("tab", name="实时动态").click()
    assert not untranslated(page)
    shot(page, "command-events-wall")


def test_stale_plan_says_replan_and_edited_approval_and_closures(
    open_page: Callable[..., Watched], server: str, commander: str, supplied: None
) -> None:
    community = community_of("110101004")
    with client(server, commander) as boss:
        incident = boss.post(
            "/api/incidents",
            json={
                "type": "heatwave",
                "level": "IV",
                "title": "高温 复核",
                "communities": [community],
            },
        ).json()["id"]
        request = boss.post(
            f"/api/incidents/{incident}/requests",
            json={"community": community, "item": "WATER", "quantity": 20},
        ).json()["id"]
    watched = open_command(open_page, commander, "tablet-landscape")
    watched.allow("409")  # the refused approval is logged by the browser
    page = watched.page
    page.locator("#cc-incident").select_option(str(incident))
    page.get_by_role("tab", name="调拨方案").click()
    page.get_by_role("button", name="计算调拨方案").click()
    wait_count(page, "#plan-lines tbody tr", 1)
    stock(RESERVE, "WATER", 3)  # the world moves on under the plan
    page.get_by_role("button", name="批准全部").click()
    page.wait_for_selector("#plan-stale:not([hidden])")
    assert "请重新计算方案" in page.locator("#plan-stale").inner_text()
    stale = page.locator("#plan").get_attribute("data-plan")
    page.get_by_role("button", name="重新计算方案").click()
    page.wait_for_function(
        "(old) => !['', old].includes(document.querySelector('#plan').dataset.plan)", arg=stale
    )
    assert page.locator("#plan-stale").is_hidden()
    page.get_by_label("第 1 条的数量").fill("8")
    page.get_by_role("button", name="按修改批准").click()
    page.wait_for_selector("#plan h2:has-text('已批准')")
    with client(server, commander) as boss:
        assert boss.get(f"/api/requests/{request}").json()["planned_qty"] == 8

    # close roads by clicking the map, then reopen them (the map shows every open closure,
    # other incidents' too: count from what was there)
    page.get_by_role("tab", name="需求与封路").click()
    rings, roads = count(page, "path.cc-closure"), count(page, "path.cc-closed-road")
    assert rings == len([c for c in _open_closures() if c["lat"] is not None])
    page.get_by_label("半径（米）").fill("200")
    page.get_by_role("button", name="在地图上点选封路").click()
    box = page.locator("#cc-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    wait_count(page, "path.cc-closure", rings + 1)
    assert count(page, "path.cc-closed-road") == roads + 1
    (closure,) = _open_closures(incident)
    assert closure["radius_m"] == 200 and closure["lat"] is not None
    page.wait_for_selector(f"#closures tbody tr:has-text('#{closure['id']}'):has-text('200')")
    page.get_by_role("button", name=f"解除 #{closure['id']}", exact=True).click()
    wait_count(page, "path.cc-closure", rings)
    assert _open_closures(incident) == []

    # one road closed by its two nodes (from another client): drawn as that road, live
    edges = count(page, "path.cc-closed-edge")
    road = sql("SELECT u, v FROM road_edge ORDER BY u, v LIMIT 1 OFFSET 500")[0]
    with client(server, commander) as boss:
        made = boss.post(
            f"/api/incidents/{incident}/closures",
            json={"edge": [road["u"], road["v"]], "note": "单路封闭"},
        )
        assert made.status_code == 201, made.text
        assert len(made.json()["line"]) == 2
        wrong = boss.post(
            f"/api/incidents/{incident}/closures", json={"edge": [road["u"], 999_999_999]}
        )
        assert wrong.status_code == 422 and wrong.json()["field"] == "edge"
    wait_count(page, "path.cc-closed-edge", edges + 1)
    page.get_by_role("button", name=f"解除 #{made.json()['id']}", exact=True).click()
    wait_count(page, "path.cc-closed-edge", edges)


def _open_closures(incident: int | None = None) -> list[dict[str, Any]]:
    return sql(
        "SELECT id, lat, radius_m FROM road_closure WHERE opened_at IS NULL "
        "AND ($1::int IS NULL OR incident = $1) ORDER BY id",
        incident,
    )


def _on_duty(code: str) -> tuple[int, str]:
    """How many are on duty in a community now, and its four commonest skills as the duty
    panel writes them (most first; equal counts in the API's order, by skill code)."""
    people = sql(
        "SELECT p.skills FROM check_in ci JOIN person p ON p.id = ci.person_id "
        "WHERE ci.community = $1 AND ci.checked_out_at IS NULL",
        code,
    )
    names = {r["code"]: r["name"] for r in sql("SELECT code, name FROM skill")}
    counts: dict[str, int] = {}
    for p in people:
        for skill in p["skills"]:
            counts[skill] = counts.get(skill, 0) + 1
    top = sorted(sorted(counts.items()), key=lambda kv: -kv[1])[:4]
    return len(people), " · ".join(f"{names.get(k, k)} {n}" for k, n in top)


def _community_name(code: str) -> str:
    return str(sql("SELECT name FROM community WHERE code=$1", code)[0]["name"])


def test_map_module_places_deliveries_along_routes_and_finds_closed_roads(
    open_page: Callable[..., Watched],
) -> None:
    page = open_page("wall").page
    page.goto("/about")  # any page: map.js needs only Leaflet for createMap, not for these
    found = page.evaluate(
        """async () => {
            const m = await import('/static/js/map.js');
            const route = [[116.40, 39.90], [116.40, 39.91], [116.42, 39.91]];  // [lon, lat]
            return {
                start: m.along(route, 0), end: m.along(route, 1), half: m.along(route, 0.5),
                leg: m.metres([39.90, 116.40], [39.91, 116.40]),
                near: m.segmentMetres([39.905, 116.401], [39.90, 116.40], [39.91, 116.40]),
            };
        }"""
    )
    assert found["start"] == [39.90, 116.40] and found["end"] == [39.91, 116.42]
    # the route is 1.11 km north then 1.71 km east: half way is 0.30 km into the east leg
    assert found["half"][0] == pytest.approx(39.91)
    assert found["half"][1] == pytest.approx(116.40 + 0.02 * (1411 - 1112) / 1707, abs=2e-4)
    assert found["leg"] == pytest.approx(1112, rel=0.01)
    assert found["near"] == pytest.approx(85.3, rel=0.02)  # 0.001 deg of longitude at 39.9 N


def test_in_a_playing_drill_the_page_runs_on_the_drills_clock(
    open_page: Callable[..., Watched], server: str, commander: str
) -> None:
    """The service runs a playing drill on the scenario's clock; the page shows that clock
    and moves deliveries on it, not on the wall's."""
    with client(server, commander) as boss:
        made = boss.post("/api/exercises", json={"name": "时钟演练", "kind": "drill"})
        assert made.status_code == 201, made.text
        exercise = made.json()
        play = {"scenario": "rainstorm_pingfang.yaml", "speed": 60}
        assert boss.post(f"/api/exercises/{exercise['id']}/play", json=play).status_code == 202
    try:
        watched = open_page("wall")
        page = watched.page
        login(page, commander, next_path="/about")
        page.evaluate(
            "(d) => localStorage.setItem('dispatch.exercise', JSON.stringify(d))",
            {"id": exercise["id"], "name": exercise["name"]},
        )
        page.goto("/command")
        page.wait_for_selector("body[data-ready=true]")
        page.wait_for_selector("body[data-clock=drill]")
        assert page.locator("#drill-banner").is_visible()
        badge = page.locator("#cc-drill-clock").inner_text()
        assert "07/30" in badge and "60" in badge, badge  # the scenario's day, 60x
    finally:
        with client(server, commander) as boss:
            assert boss.delete(f"/api/exercises/{exercise['id']}").status_code == 200


def test_a_viewers_controls_are_disabled_and_say_why(open_page: Callable[..., Watched]) -> None:
    """What a role may not do is not offered as if it could: a viewer sees the command
    center's controls disabled, and a tap says why instead of sending a refused request."""
    viewer = create_user(Role.VIEWER)
    watched = open_command(open_page, viewer)
    page = watched.page
    for selector in ("#plan-make", "#closure-pick", "#request-form button[type=submit]"):
        control = page.locator(selector)
        assert control.get_attribute("aria-disabled") == "true", selector
        assert "观察员无权进行此操作" in (control.get_attribute("title") or ""), selector
    posted: list[str] = []
    page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
    page.locator("#tab-plan").click()
    page.locator("#plan-make").click(force=True)  # a tap: aria-disabled is not `disabled`
    page.wait_for_selector("#toast:has-text('观察员无权进行此操作')")
    assert not [url for url in posted if "/plans" in url]
