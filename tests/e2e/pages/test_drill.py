"""The drill view in a real browser: choosing a drill marks every page and keeps real stock
untouched; playing a scenario live shows its progress and its events."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from dispatch.accounts.policy import Role
from tests.dispatch.incidents.helpers import community_of, incident, task
from tests.dispatch.stock.helpers import (
    HOME,
    HOME_DEPOT,
    balances,
    in_days,
    item_name,
    new_item,
    receive,
)
from tests.e2e.pages.conftest import (
    VIEWPORTS,
    Watched,
    assert_accessible,
    login,
    shot,
    untranslated,
)
from tests.support import client, create_user, sql

pytestmark = pytest.mark.e2e


def _movements(schema: str, item: str) -> list[dict[str, Any]]:
    return sql(
        f"SELECT m.kind, m.qty, l.lot_number FROM {schema}.stock_movement m "
        f"JOIN {schema}.lot l ON l.id = m.lot WHERE m.item = $1 ORDER BY m.id",
        item,
    )


def _open(page: Any, username: str) -> None:
    """Log in through the form onto /drill and wait until it is drawn."""
    login(page, username, next_path="/drill")
    page.locator("main[data-ready]").wait_for(state="attached")


def _create_exercise(http: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    """Through the API; a refusal or a 500 fails here with the answer's body, not later."""
    made = http.post("/api/exercises", json=body)
    assert made.status_code == 201, made.text
    exercise: dict[str, Any] = made.json()
    return exercise


def _choose(page: Any, exercise_id: int) -> None:
    page.get_by_role("button", name=f"进入演练 #{exercise_id}", exact=True).click()
    page.locator("#drill-banner").wait_for(state="visible")


def test_drill_flow_banner_shows_and_real_stock_is_unchanged(
    open_page: Callable[..., Watched],
) -> None:
    item = new_item()
    receive(HOME_DEPOT, item, "REAL-1", 50, in_days(200))
    sql(
        "INSERT INTO reserve_standard (depot, item, minimum, source) "
        "VALUES ($1, $2, 30, 'reference')",
        HOME_DEPOT,
        item,
    )
    real_before = balances(item)
    real_ledger = _movements("public", item)
    real_incident = incident([community_of(HOME)])
    real_task = task(real_incident, community_of(HOME))
    real_title = sql("SELECT title FROM incident WHERE id=$1", real_incident)[0]["title"]
    commander = create_user(Role.COMMANDER)
    page = open_page("tablet").page
    _open(page, commander)
    assert page.locator("#drill-banner").is_hidden()

    name = f"东华门演练 {item_name(item)[-4:]}"
    page.get_by_label("演练名称").fill(name)
    page.get_by_role("button", name="创建").click()
    row = page.locator("#exercises tr", has_text=name)
    row.wait_for()
    exercise_id = int(row.locator("td").first.inner_text().lstrip("#"))
    _choose(page, exercise_id)
    banner = page.locator("#drill-banner")
    assert "演练中" in banner.inner_text() and name in banner.inner_text()
    assert "drill" in (page.locator("body").get_attribute("class") or "")
    assert f"正在演练 #{exercise_id}" in page.locator("#current-text").inner_text()

    # a drill action through the page: a receipt inside the sandbox
    page.get_by_label("储备点").select_option(HOME_DEPOT)
    page.get_by_label("物资").select_option(item)
    page.get_by_label("批号").fill("DRILL-1")
    page.get_by_label("数量").fill("7")
    page.get_by_role("button", name="记录入库（演练）").click()
    page.locator("#drill-stock tr", has_text="DRILL-1").wait_for()
    shown = page.locator("#drill-stock").inner_text()
    assert "DRILL-1" in shown and "REAL-1" in shown  # the drill started from the real stock
    # its event arrives on the drill's own live feed
    page.locator("#events-body tr.event", has_text="库存变动").first.wait_for()

    schema = f"ex_{exercise_id}"
    assert balances(item) == real_before == {(HOME_DEPOT, "REAL-1"): 50}
    assert _movements("public", item) == real_ledger
    assert [(m["kind"], m["qty"], m["lot_number"]) for m in _movements(schema, item)] == [
        ("receipt", 50, "REAL-1"),
        ("receipt", 7, "DRILL-1"),
    ]

    # every page of this browser is in the drill: an admin edit changes only the drill's copy
    page.goto("/admin#standards")
    page.locator("main[data-ready]").wait_for(state="attached")
    expect(page.locator("#drill-note")).to_be_visible()
    page.get_by_role("tabpanel", name="储备标准").get_by_label("储备点").select_option(HOME_DEPOT)
    page.get_by_label(f"最低储备量 {item_name(item)}").fill("45")
    page.get_by_role("button", name=f"保存 {item_name(item)}").click()
    expect(page.locator("#toast")).to_contain_text("45")
    standard = "SELECT minimum FROM {}.reserve_standard WHERE depot=$1 AND item=$2"
    assert sql(standard.format("public"), HOME_DEPOT, item) == [{"minimum": 30}]
    assert sql(standard.format(schema), HOME_DEPOT, item) == [{"minimum": 45}]

    # the drill starts clean: the real world's incident and its task are not in it
    page.goto("/command")
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_load_state("networkidle")
    command_text = page.locator("main").inner_text()
    assert real_title not in command_text and f"#{real_task['id']} " not in command_text
    options = page.locator("#cc-incident option").all_inner_texts()
    assert not any(real_title in o for o in options), options

    # until it is left
    page.goto("/about")
    assert page.locator("#drill-banner").is_visible()
    assert name in page.locator("#drill-name").inner_text()
    page.locator("#drill-leave").click()
    assert page.locator("#drill-banner").is_hidden()
    assert "drill" not in (page.locator("body").get_attribute("class") or "")


def test_play_a_scenario_live_and_watch_it(server: str, open_page: Callable[..., Watched]) -> None:
    trainer = create_user(Role.TRAINER)
    with client(server, trainer) as http:
        scenarios = http.get("/api/scenarios").json()
        assert scenarios, "no scenario file to play"
        body = {"name": "情景回放演练", "kind": "replay"}
        exercise = _create_exercise(http, body)
    shortest = min(scenarios, key=lambda s: s["duration_minutes"])
    watched = open_page("wall")
    watched.allow("409")  # the browser logs the reset the test has refused below
    page = watched.page
    _open(page, trainer)
    _choose(page, exercise["id"])
    # a trainer plays and watches, but records no stock
    assert page.locator("#action-role").is_visible()
    assert page.locator("#receive-form").is_hidden()
    assert page.get_by_role("link", name="在指挥中心观看").get_attribute("href") == "/command"

    page.get_by_label("情景文件").select_option(shortest["name"])
    assert shortest["name"] in page.locator("#scenario-info").inner_text()
    page.get_by_label("倍速（相对真实时间）").fill("100000")
    page.get_by_role("button", name="开始播放").click()
    status = page.locator("#play-status")
    status.wait_for()
    page.wait_for_function(
        "() => ['已完成', '失败'].includes(document.getElementById('play-status')?.textContent)",
        timeout=45_000,
    )
    assert status.inner_text() == "已完成", page.locator("#progress").inner_text()
    progress = page.locator("#progress").inner_text()
    assert "100%" in progress and "满足率" in progress
    assert re.search(rf"{shortest['events']} / {shortest['events']}", progress)
    # the drill's events arrived live, and only the drill's
    events = page.locator("#events-body tr.event")
    events.first.wait_for()
    kinds = set(events.evaluate_all("rows => rows.map(r => r.dataset.kind)"))
    assert kinds & {"incident.declared", "request.created", "plan.proposed", "task.created"}
    assert not untranslated(page)
    shot(page, "drill-playing-wall")
    # a slow play can be stopped from the page; the drill's world stays as the play left it
    page.get_by_label("倍速（相对真实时间）").fill("1")
    page.get_by_role("button", name="开始播放").click()
    expect(status).to_have_text("播放中")
    # its world is not reset from under it: the page says why, in Chinese
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"重置 #{exercise['id']}", exact=True).click()
    expect(page.locator("#toast")).to_contain_text("正在回放情景，请先停止回放再重置")
    page.get_by_role("button", name="停止播放").click()
    expect(status).to_have_text("已停止")
    assert page.get_by_role("button", name="停止播放").count() == 0
    with client(server, trainer) as http:
        assert http.get(f"/api/exercises/{exercise['id']}/play").json()["status"] == "stopped"
    # watched on the command center, which then works in the drill
    page.get_by_role("link", name="在指挥中心观看").click()
    page.wait_for_url("**/command")
    expect(page.locator("#drill-banner")).to_be_visible()
    expect(page.locator("#drill-name")).to_contain_text(f"#{exercise['id']}")
    expect(page.locator("body")).to_have_class(re.compile(r"\bdrill\b"))


def test_street_leader_joins_a_drill_by_number(
    server: str, open_page: Callable[..., Watched]
) -> None:
    commander = create_user(Role.COMMANDER)
    leader = create_user(Role.STREET_LEADER, street=HOME)
    with client(server, commander) as http:
        exercise = _create_exercise(http, {"name": "街道联合演练"})
    watched = open_page("tablet")
    watched.allow("404")  # the refused number below
    page = watched.page
    _open(page, leader)
    assert "需要培训员或指挥员权限" in page.locator("#need-role").inner_text()
    assert page.locator("#exercises-panel").is_hidden()
    page.get_by_label("演练编号").fill("999999")
    page.get_by_role("button", name="加入").click()
    expect(page.locator("#join-error")).to_have_text("没有编号为 999999 的进行中演练 (字段：id)")
    expect(page.get_by_label("演练编号")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("演练编号").fill(str(exercise["id"]))
    page.get_by_role("button", name="加入").click()
    page.locator("#drill-banner").wait_for(state="visible")
    assert f"#{exercise['id']}" in page.locator("#drill-name").inner_text()
    assert page.locator("#receive-form").is_visible()  # a leader may record in the drill


def test_drill_view_at_every_size(open_page: Callable[..., Watched], server: str) -> None:
    commander = create_user(Role.COMMANDER)
    with client(server, commander) as http:
        exercise = _create_exercise(http, {"name": "截图演练"})
    page = open_page("tablet").page
    _open(page, commander)
    assert_accessible(page)
    shot(page, "drill-tablet")
    _choose(page, exercise["id"])
    page.locator("#play-status").wait_for()
    for name, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        assert not untranslated(page)
        assert_accessible(page)
        shot(page, f"drill-in-drill-{name}")
    # reset, then delete: the drill this browser was in is left with it
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"重置 #{exercise['id']}", exact=True).click()
    expect(page.locator("#toast")).to_contain_text(f"演练 #{exercise['id']} 已重置")
    page.get_by_role("button", name=f"删除 #{exercise['id']}", exact=True).click()
    expect(page.locator("#drill-banner")).to_be_hidden()
    expect(page.locator("#exercises tr", has_text="截图演练")).to_have_count(0)
    schema = f"ex_{exercise['id']}"
    assert not sql("SELECT 1 FROM information_schema.schemata WHERE schema_name=$1", schema)
    page.get_by_label("显示已删除的演练").check()
    expect(page.locator("#exercises tr", has_text="截图演练")).to_contain_text("已删除")


def test_a_trainer_compares_the_policies_over_seeded_runs(
    server: str, open_page: Callable[..., Watched]
) -> None:
    trainer = create_user(Role.TRAINER)
    watched = open_page("wall")
    page = watched.page
    _open(page, trainer)
    panel = page.locator("#batch-panel")
    expect(panel).to_be_visible()
    page.get_by_label("比较所用情景").select_option("hutong_fire.yaml")
    page.get_by_label("每种策略运行次数").fill("2")
    page.get_by_label("起始种子").fill("3")
    page.get_by_role("button", name="开始批量比较").click()
    expect(page.locator("#toast")).to_contain_text("已开始")
    with client(server, trainer) as http:
        batch = http.get("/api/exercise-batches").json()[0]
    assert (batch["runs"], batch["seed"], batch["total"]) == (2, 3, 4)
    status = page.locator(f"#batch-status-{batch['id']}")
    expect(status).to_have_text("已完成", timeout=180_000)  # four replays, two at a time
    figures = page.locator(f"#batch-figures-{batch['id']}").inner_text()
    assert "满足率" in figures and "平均送达时间" in figures and "符号检验 p" in figures
    assert "最优：均值 [95% 区间]" in figures and "差值（就近 − 最优）" in figures
    assert "4 / 4 次回放" in panel.inner_text()
    report = page.get_by_role("link", name="查看报告（分布图）").first.get_attribute("href")
    assert report == f"/api/exercise-batches/{batch['id']}/report"
    assert not untranslated(page)
    assert_accessible(page)
    shot(page, "drill-batch-wall")
