"""The pages every user shares: home, login and about, in both languages and all sizes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dispatch.accounts.policy import Role
from tests.e2e.pages.conftest import (
    VIEWPORTS,
    Watched,
    assert_accessible,
    login,
    shot,
    untranslated,
)
from tests.support import create_user

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
@pytest.mark.parametrize("path", ["/", "/login", "/about"])
def test_shell_pages_render_labelled_and_reachable(
    open_page: Callable[..., Watched], path: str, viewport: str
) -> None:
    watched = open_page(viewport)
    page = watched.page
    page.goto(path)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").first.inner_text().strip()
    assert not untranslated(page)
    assert_accessible(page)
    name = path.strip("/") or "home"
    shot(page, f"{name}-{viewport}")


def test_about_names_the_data_sources_in_both_languages(open_page: Callable[..., Watched]) -> None:
    page = open_page("wall").page
    page.goto("/about")
    assert "Vonng/adcode（CC BY 4.0）" in page.locator("#attribution").inner_text()
    assert "国家统计局" in page.locator("#attribution").inner_text()
    page.get_by_role("link", name="切换语言").click()
    page.wait_for_url("**/about?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert (
        "Map data: Vonng/adcode (CC BY 4.0); division codes: National Bureau of Statistics"
        in page.locator("#attribution").inner_text()
    )
    page.goto("/")  # the choice is remembered
    assert page.locator("html").get_attribute("lang") == "en"
    assert not untranslated(page)


def test_login_returns_to_the_page_asked_for(open_page: Callable[..., Watched]) -> None:
    leader = create_user(Role.STREET_LEADER, street="110101001")
    watched = open_page("tablet")
    login(watched.page, leader, next_path="/about")
    assert watched.page.url.endswith("/about")
    assert leader in watched.page.locator("#who").inner_text()
    assert "街道小分队队长" in watched.page.locator("#who").inner_text()


def test_wrong_password_is_said_on_the_form(open_page: Callable[..., Watched]) -> None:
    commander = create_user(Role.COMMANDER)
    watched = open_page("tablet")
    watched.allow("401")  # the browser logs the refused login as a failed resource
    page = watched.page
    page.goto("/login")
    page.get_by_label("用户名").fill(commander)
    page.get_by_label("密码").fill("not-the-password")
    page.get_by_role("button", name="登录").click()
    error = page.locator("#login-error")
    error.wait_for(state="visible")
    assert "登录失败" in error.inner_text()
    assert "/login" in page.url
