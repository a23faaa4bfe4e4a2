"""The commander's administration in a real browser: users, standards, coordinates,
spreadsheet imports with every bad row and column shown, exports, and the refusal for
anyone else."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from dispatch.accounts.policy import Role
from geo.coords import wgs84_to_gcj02
from tests.dispatch.stock.helpers import HOME, HOME_DEPOT, item_name, new_item
from tests.e2e.pages.conftest import VIEWPORTS, Watched, assert_accessible, login, shot
from tests.support import create_user, sql, unique

pytestmark = pytest.mark.e2e

USERS_SHOWN = 50  # admin.js lists this many users at once


@pytest.fixture
def commander_page(open_page: Callable[..., Watched]) -> Iterator[Watched]:
    commander = create_user(Role.COMMANDER)
    watched = open_page("wall")
    login(watched.page, commander, next_path="/admin")
    watched.page.locator("main[data-ready]").wait_for(state="attached")
    yield watched


def test_someone_else_is_told_a_commander_is_needed(open_page: Callable[..., Watched]) -> None:
    """A volunteer has no tab here (a street leader has the plans and service tabs:
    `test_preparedness.py`)."""
    community = sql("SELECT min(code) AS c FROM community WHERE street=$1", HOME)[0]["c"]
    volunteer = create_user(Role.VOLUNTEER, community=community)
    page = open_page("tablet").page
    login(page, volunteer, next_path="/admin")
    expect(page.locator("#need-commander")).to_be_visible()
    assert "需要指挥员权限" in page.locator("#need-commander").inner_text()
    assert page.locator("#admin").is_hidden()
    assert page.locator("[role=tab]:visible").count() == 0


def _at_least_users(n: int) -> None:
    """More accounts than the list shows at once (a district has hundreds), so the new user
    must be found among them, not merely be one of the few there are in a fresh database."""
    sql(
        "INSERT INTO app_user (username, display_name, password_hash, role, created_at) "
        "SELECT 'filler_' || md5(random()::text), '填充用户', 'not-a-hash', 'viewer', now() "
        "FROM generate_series(1, $1 - (SELECT count(*) FROM app_user)::int)",
        n,
    )


def test_create_a_user_and_see_a_refusal_name_its_field(commander_page: Watched) -> None:
    page = commander_page.page
    _at_least_users(USERS_SHOWN + 10)
    commander_page.allow("status of 400")  # the refusal the test provokes
    name = unique("sq")
    form = page.locator("#user-form")
    form.get_by_label("用户名").fill("ab")  # too short
    form.get_by_label("初始密码").fill("long-enough-pw")
    form.get_by_role("button", name="创建用户").click()
    expect(page.locator("#user-error")).to_contain_text("(字段：username)")
    expect(form.get_by_label("用户名")).to_have_attribute("aria-invalid", "true")

    form.get_by_label("用户名").fill(name)
    form.get_by_label("显示名称").fill("东华门队长")
    form.get_by_role("button", name="生成密码").click()
    assert len(form.get_by_label("初始密码").input_value()) >= 12
    form.get_by_label("角色").select_option("street_leader")
    form.get_by_label("街道").select_option(HOME)
    form.get_by_role("button", name="创建用户").click()
    page.locator("#users tr", has_text=name).wait_for()
    assert "东华门街道" in page.locator("#users tr", has_text=name).inner_text()
    assert sql("SELECT role, street FROM app_user WHERE username=$1", name) == [
        {"role": "street_leader", "street": HOME}
    ]
    page.get_by_label("查找用户").fill(name)
    expect(page.locator("#users tbody tr")).to_have_count(1)


@pytest.fixture
def standard_item() -> str:
    """A fresh item with a standard at the home depot (made before the page loads)."""
    item = new_item()
    sql(
        "INSERT INTO reserve_standard (depot, item, minimum, source) VALUES ($1, $2, 40, "
        "'reference')",
        HOME_DEPOT,
        item,
    )
    return item


def test_edit_a_reserve_standard(standard_item: str, commander_page: Watched) -> None:
    item = standard_item
    page = commander_page.page
    page.get_by_role("tab", name="储备标准").click()
    page.get_by_role("tabpanel", name="储备标准").get_by_label("储备点").select_option(HOME_DEPOT)
    box = page.get_by_label(f"最低储备量 {item_name(item)}")
    expect(box).to_have_value("40")
    box.fill("-5")
    page.get_by_role("button", name=f"保存 {item_name(item)}").click()
    expect(page.locator("#std-error")).to_contain_text("minimum")
    box.fill("65")
    page.get_by_role("button", name=f"保存 {item_name(item)}").click()
    expect(page.locator("#toast")).to_contain_text("65")
    row = sql(
        "SELECT minimum, source FROM reserve_standard WHERE depot=$1 AND item=$2", HOME_DEPOT, item
    )
    assert row[0]["minimum"] == 65 and row[0]["source"] != "reference"
    expect(page.get_by_label(f"最低储备量 {item_name(item)}")).to_have_value("65")


@pytest.fixture
def approximate_community() -> Iterator[dict[str, Any]]:
    """An approximate community, put back as it was afterwards (other tests count them)."""
    row = sql(
        "SELECT code, name, lat, lon, lat_gcj02, lon_gcj02, coord_source, approximate, "
        "updated_at FROM community WHERE approximate AND lat_gcj02 IS NOT NULL "
        "ORDER BY code DESC LIMIT 1"
    )[0]
    yield row
    sql(
        "UPDATE community SET lat=$2, lon=$3, coord_source=$4, approximate=$5, updated_at=$6, "
        "lat_gcj02=$7, lon_gcj02=$8 WHERE code=$1",
        row["code"],
        row["lat"],
        row["lon"],
        row["coord_source"],
        row["approximate"],
        row["updated_at"],
        row["lat_gcj02"],
        row["lon_gcj02"],
    )


def test_correct_an_approximate_community_from_gcj02(
    commander_page: Watched, approximate_community: dict[str, Any]
) -> None:
    page = commander_page.page
    code, name = approximate_community["code"], approximate_community["name"]
    page.get_by_role("tab", name="社区坐标").click()
    row = page.locator("#communities tr", has_text=code)
    expect(row).to_contain_text("近似")
    expect(page.get_by_label("只显示近似坐标")).to_be_checked()
    # the same points on the map, approximate ones dashed
    dashed = page.locator("#coord-map path.leaflet-interactive[stroke-dasharray]")
    expect(dashed).to_have_count(page.locator("#communities tbody tr").count())
    page.get_by_role("button", name=f"更正 {name}", exact=True).click()
    form = page.locator("#coord-form")
    expect(form).to_contain_text(code)
    # the surveyed point, as a Chinese map (GCJ-02) shows it
    lat, lon = approximate_community["lat"] + 0.002, approximate_community["lon"] - 0.001
    g_lat, g_lon = wgs84_to_gcj02(lat, lon)
    form.get_by_label("纬度").fill(f"{g_lat:.6f}")
    form.get_by_label("经度").fill(f"{g_lon:.6f}")
    expect(form.get_by_label("坐标系")).to_have_value("gcj02")
    form.get_by_label("说明").fill("现场核实")
    form.get_by_role("button", name="保存坐标").click()
    expect(form).to_be_hidden()
    expect(page.locator("#communities tr", has_text=code)).to_have_count(0)  # no longer approximate
    stored = sql("SELECT lat, lon, approximate FROM community WHERE code=$1", code)[0]
    assert not stored["approximate"]
    assert abs(stored["lat"] - lat) < 1e-5 and abs(stored["lon"] - lon) < 1e-5
    page.get_by_label("只显示近似坐标").uncheck()
    expect(page.locator("#communities tr", has_text=code)).to_contain_text("已核实")


def test_import_lists_every_bad_row_and_column(commander_page: Watched) -> None:
    page = commander_page.page
    commander_page.allow("status of 422")  # the refused files
    page.get_by_role("tab", name="导入").click()
    page.get_by_label("导入内容").select_option("partner-units")
    expect(page.locator("#im-columns")).to_contain_text("contact_phone")
    code = unique("U")[:12].upper()
    good = (
        "code,name,kind,contact_name,contact_phone\n"
        f"{code},东城测试单位,municipal,张三,10012345678\n"
    )
    bad = good + "U-BAD,,bogus,李四,12345\n"
    page.get_by_label("文件").set_input_files(
        files=[{"name": "units.csv", "mimeType": "text/csv", "buffer": bad.encode()}]
    )
    page.get_by_role("button", name="上传").click()
    errors = page.locator("#import-errors tbody tr")
    expect(errors.first).to_be_visible()
    listed = {
        tuple(r)
        for r in errors.evaluate_all(
            "rows => rows.map(r => [...r.cells].slice(0, 2).map(c => c.textContent))"
        )
    }
    assert {("3", "name"), ("3", "kind"), ("3", "contact_phone")} <= listed
    assert "未导入任何数据" in page.locator("#import-refused").inner_text()
    shot(page, "admin-import-errors-wall")
    assert not sql("SELECT 1 FROM partner_unit WHERE code=$1", code)

    page.get_by_label("只检查，不导入").check()
    page.get_by_label("文件").set_input_files(
        files=[{"name": "units.csv", "mimeType": "text/csv", "buffer": good.encode()}]
    )
    page.get_by_role("button", name="上传").click()
    expect(page.locator("#import-done")).to_contain_text("检查通过：1 行")
    assert not sql("SELECT 1 FROM partner_unit WHERE code=$1", code)

    # stock receipts go up as a multipart field
    page.get_by_label("导入内容").select_option("receipts")
    receipts = (
        "depot,item,lot,expires_on,qty\n"
        f"{HOME_DEPOT},WATER,L1,2030-01-01,5\n{HOME_DEPOT},WATER,L2,2030-01-01,-3\n"
    )
    page.get_by_label("文件").set_input_files(
        files=[{"name": "r.csv", "mimeType": "text/csv", "buffer": receipts.encode()}]
    )
    page.get_by_role("button", name="上传").click()
    expect(page.locator("#import-errors tbody tr").first).to_contain_text("qty")
    assert page.locator("#import-errors tbody tr").first.locator("td").first.inner_text() == "3"


def test_admin_at_every_size_and_exports(commander_page: Watched) -> None:
    page = commander_page.page
    for name, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        page.get_by_role("tab", name="用户").click()
        assert_accessible(page)
        shot(page, f"admin-{name}")
    page.get_by_role("tab", name="社区坐标").click()
    page.locator("#communities tbody tr").first.wait_for()
    assert_accessible(page)
    shot(page, "admin-coordinates-wall")
    # the tabs follow the arrow keys
    page.get_by_role("tab", name="社区坐标").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="导入")).to_be_focused()
    expect(page.locator("#panel-imports")).to_be_visible()
    # downloads need the token: fetched and saved as files
    page.get_by_role("tab", name="导出").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="下载 全区储备汇总（CSV）").click()
    assert download.value.suggested_filename.endswith(".csv")
    with page.expect_download() as download:
        page.get_by_role("button", name="下载 共建单位（XLSX）").click()
    assert download.value.suggested_filename.endswith(".xlsx")
