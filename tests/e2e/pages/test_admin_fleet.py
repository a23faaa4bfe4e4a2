"""The administration's fleet tab in a real browser: each depot's vehicles with their
status (changed in place), and adding one, with a refusal that names and marks its field."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import expect

from dispatch.accounts.policy import Role
from tests.dispatch.stock.helpers import HOME_DEPOT
from tests.e2e.pages.conftest import Watched, assert_accessible, login, shot
from tests.support import create_user, sql, unique

pytestmark = pytest.mark.e2e


@pytest.fixture
def fleet_page(open_page: Callable[..., Watched]) -> Iterator[Watched]:
    commander = create_user(Role.COMMANDER)
    watched = open_page("wall")
    login(watched.page, commander, next_path="/admin#fleet")
    watched.page.locator("main[data-ready]").wait_for(state="attached")
    yield watched


def test_list_change_status_and_add_a_vehicle(fleet_page: Watched) -> None:
    page = fleet_page.page
    fleet_page.allow("status of 422")  # the refusal the test provokes
    listed = unique("V")[:20]
    sql(
        "INSERT INTO vehicle (code, depot, kind, lane_class, payload_kg, volume_m3, "
        "crew_needed, status, source, created_at) "
        "VALUES ($1, $2, 'van', 'van', 1000, 6, 1, 'available', 'entered', now())",
        listed,
        HOME_DEPOT,
    )
    page.get_by_role("tab", name="车队").click()
    panel = page.get_by_role("tabpanel", name="车队")
    panel.locator("#fl-depot").select_option(HOME_DEPOT)
    row = panel.locator("#fleet tr", has_text=listed)
    expect(row).to_contain_text("面包车")
    expect(row).to_contain_text("缺司机")
    row.get_by_label(f"状态 {listed}").select_option("maintenance")
    expect(page.locator("#toast")).to_contain_text("维修中")
    assert sql("SELECT status FROM vehicle WHERE code=$1", listed) == [{"status": "maintenance"}]

    form = panel.locator("#vehicle-form")
    made = unique("V")[:20]
    form.get_by_label("车辆编号").fill(made)
    form.get_by_label("所属储备点").select_option(HOME_DEPOT)
    form.get_by_label("车型", exact=True).select_option("other")
    form.get_by_label("自定义车型（小写英文").fill("minibus")
    form.get_by_label("载重").fill("800")
    form.get_by_label("容积").fill("5")
    form.get_by_role("button", name="新增车辆").click()
    expect(page.locator("#vehicle-error")).to_contain_text("lane_class")
    expect(form.get_by_label("通行类别")).to_have_attribute("aria-invalid", "true")
    form.get_by_label("通行类别").select_option("van")
    form.get_by_role("button", name="新增车辆").click()
    expect(panel.locator("#fleet tr", has_text=made)).to_contain_text("minibus")
    assert sql("SELECT kind, lane_class FROM vehicle WHERE code=$1", made) == [
        {"kind": "minibus", "lane_class": "van"}
    ]
    assert_accessible(page)
    shot(page, "admin-fleet-wall")
