"""The command center read as its users read it: the plan under review as a table at
1920x1080 and 1024x768 (names on two lines at most, one ETA in the column and in the
explanation, the objective as minutes per unit and units per priority), on paper, and the
full-screen dark wall of a room (/command?wall=1) whose labels never overlap."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest

from dispatch.accounts.policy import Role
from tests.dispatch.incidents.helpers import community_of, stock
from tests.e2e.pages.conftest import ARTIFACTS, Watched, login, untranslated
from tests.support import client, create_user, sql

pytestmark = pytest.mark.e2e

# streets whose communities need water and pumps, and the depots that hold them
STREETS = ("110101001", "110101002", "110101006", "110101011")
STOCKED = (("D110101000", "WATER", 400), ("D110101001", "WATER", 60), ("D110101006", "WATER", 40))
OUT = "D110101017"  # set out of service for the wall's legend and label, then back
SIZES = {"wall": "1920", "tablet-landscape": "1024"}


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


@pytest.fixture(scope="module")
def world(server: str, commander: str) -> Iterator[dict[str, Any]]:
    """An incident with requests of three priorities, a plan proposed for them, one
    approved earlier (its deliveries are vehicles on the map), a closure over a request
    and a depot out of service; the closure and the outage are undone afterwards."""
    for depot, item, qty in STOCKED:
        stock(depot, item, qty)
    communities = [community_of(s, k) for s in STREETS for k in (0, 1)]
    with client(server, commander) as boss:
        made = boss.post(
            "/api/incidents",
            json={
                "type": "rainstorm",
                "level": "III",
                "title": "暴雨内涝 大屏",
                "communities": communities,
            },
        )
        assert made.status_code == 201, made.text
        incident = made.json()["id"]
        priorities = ("critical", "high", "normal", "normal")
        for i, code in enumerate(communities[:4]):
            body = {
                "community": code,
                "item": "WATER",
                "quantity": 15 + 5 * i,
                "priority": priorities[i],
            }
            assert boss.post(f"/api/incidents/{incident}/requests", json=body).status_code == 201
        first = boss.post(f"/api/incidents/{incident}/plans", json={})
        assert first.status_code == 201, first.text
        approved = boss.post(f"/api/plans/{first.json()['id']}/approve", json={})
        assert approved.status_code == 200, approved.text
        for i, code in enumerate(communities[4:]):
            body = {
                "community": code,
                "item": "WATER",
                "quantity": 10 + 7 * i,
                "priority": priorities[i],
            }
            assert boss.post(f"/api/incidents/{incident}/requests", json=body).status_code == 201
        plan = boss.post(f"/api/incidents/{incident}/plans", json={})
        assert plan.status_code == 201, plan.text
        place = sql("SELECT lat, lon FROM community WHERE code=$1", communities[5])[0]
        closed = boss.post(
            f"/api/incidents/{incident}/closures",
            json={"near": [place["lat"], place["lon"]], "radius_m": 180, "note": "积水"},
        )
        assert closed.status_code == 201, closed.text
        out = boss.post(
            f"/api/incidents/{incident}/depots-out", json={"depot": OUT, "reason": "断电"}
        )
        # another test may have left the depot out (an outage is district-wide): out either way
        assert out.status_code == 201 or "already out" in out.text, out.text
    try:
        yield {"incident": incident, "plan": plan.json(), "communities": communities}
    finally:
        with client(server, commander) as boss:
            boss.post(f"/api/closures/{closed.json()['id']}/reopen")
            if out.status_code == 201:
                boss.post(f"/api/depot-outages/{out.json()['id']}/back")


def save(page: Any, name: str, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def open_command(open_page: Callable[..., Watched], user: str, viewport: str, path: str) -> Any:
    page = open_page(viewport).page
    login(page, user, next_path=quote(path, safe="/"))
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#cc-live[data-state=open]")
    return page


def open_plan(
    open_page: Callable[..., Watched], user: str, world: dict[str, Any], viewport: str
) -> Any:
    page = open_command(open_page, user, viewport, "/command")
    page.locator("#cc-incident").select_option(str(world["incident"]))
    page.get_by_role("tab", name="调拨方案").click()
    page.wait_for_selector(f"#plan[data-plan='{world['plan']['id']}'] #plan-lines")
    page.wait_for_selector("#plan-objective")
    return page


CELL_LINES = """
() => [...document.querySelectorAll('#plan-lines tbody tr')].map(row => {
  const lines = (td) => {
    const range = document.createRange();
    range.selectNodeContents(td);
    const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
    return tops.size;
  };
  return {
    depot: lines(row.cells[1]), community: lines(row.cells[2]), eta: lines(row.cells[5]),
    etaText: row.cells[5].innerText.trim(),
    short: row.querySelector('.plan-why-short')?.innerText || '',
    full: row.querySelector('.plan-why p')?.textContent || '',
  };
})
"""


@pytest.mark.parametrize("viewport", ["wall", "tablet-landscape"])
def test_plan_review_reads_as_a_table(
    open_page: Callable[..., Watched], commander: str, world: dict[str, Any], viewport: str
) -> None:
    page = open_plan(open_page, commander, world, viewport)
    rows = page.evaluate(CELL_LINES)
    assert len(rows) == len(world["plan"]["lines"]) > 0
    view = world["plan"]
    for row, line in zip(rows, view["lines"], strict=True):
        # names on two lines at most, the ETA on one
        assert row["depot"] <= 2 and row["community"] <= 2 and row["eta"] == 1, row
        minutes = round(line["eta_s"] / 60)
        assert row["etaText"] == f"{minutes} 分钟", row
        # the explanation's short line and its whole sentence say the same arrival
        assert row["short"].startswith(f"{minutes} 分钟送达"), row
        assert f"预计 {minutes} 分钟送达" in row["full"] and "车程" in row["full"], row
        assert not re.search(r"D1101\d+|[A-Za-z]{3,}", row["short"] + row["full"]), row
    tallest = max(r["depot"] for r in rows)
    print(f"\n{viewport}: {len(rows)} lines, depot cells at most {tallest} lines")
    # the table fits its panel: nothing hidden to the side
    wide = page.locator("#plan-lines").evaluate("w => [w.scrollWidth, w.clientWidth]")
    assert wide[0] <= wide[1], wide
    # the objective is what it is: units and the mean minutes a unit takes to arrive
    units = sum(line["quantity"] for line in view["lines"])
    mean = sum(line["quantity"] * line["eta_s"] for line in view["lines"]) / units / 60
    headline = page.locator("#plan-objective").inner_text()
    assert f"共 {units} 件" in headline and f"平均每件 {round(mean, 1):g} 分钟送达" in headline, (
        headline
    )
    assert "总用时" not in page.locator("#plan").inner_text()
    sent = page.locator(".plan-sent-n").all_inner_texts()
    assert sent and all(re.fullmatch(r"[\u4e00-\u9fff]+\s*\d+ 件", s.strip()) for s in sent), sent
    # details on demand: the whole sentence opens under its line
    why = page.locator("#plan-lines details.plan-why").first
    why.locator("summary").click()
    assert why.locator("p").is_visible()
    if view.get("runs"):
        assert page.locator("#plan-runs").is_visible()
    labels = page.evaluate(LABEL_BOXES)  # the working page's map labels never overlap either
    assert labels and not overlaps(labels), overlaps(labels)
    assert not untranslated(page)
    page.locator("#plan h2").first.scroll_into_view_if_needed()
    save(page, f"command_plan_{SIZES[viewport]}")


def test_plan_prints_alone_with_every_explanation(
    open_page: Callable[..., Watched], commander: str, world: dict[str, Any]
) -> None:
    page = open_plan(open_page, commander, world, "wall")
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
    page.emulate_media(media="print")
    assert page.locator("#plan-lines").is_visible()
    assert page.locator("#cc-map").is_hidden() and page.locator(".topbar").is_hidden()
    assert page.locator("#plan-approve").is_hidden()  # buttons are not for paper
    assert page.locator(".print-only").first.inner_text().startswith(f"事件 #{world['incident']}")
    opened = page.locator("#plan-lines details.plan-why:not([open])").count()
    assert opened == 0  # every explanation in full on paper
    save(page, "command_plan_print", full_page=True)
    page.pdf(path=str(ARTIFACTS / "command_plan_print.pdf"))
    page.emulate_media(media="screen")
    page.evaluate("() => window.dispatchEvent(new Event('afterprint'))")
    assert page.locator("#plan-lines details.plan-why[open]").count() <= 1


LABEL_BOXES = """
() => [...document.querySelectorAll('.map-label:not(.off) > span')]
  .map(s => { const r = s.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height,
      kind: s.parentElement.className, text: s.textContent}; })
  .filter(b => b.w > 0 && b.h > 0)
"""


def overlaps(boxes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Pairs of label boxes that meet (half a pixel of rounding allowed)."""
    found = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if (
                a["x"] + 0.5 < b["x"] + b["w"]
                and b["x"] + 0.5 < a["x"] + a["w"]
                and a["y"] + 0.5 < b["y"] + b["h"]
                and b["y"] + 0.5 < a["y"] + a["h"]
            ):
                found.append((a["text"], b["text"]))
    return found


LEGEND = (
    "depot_ok", "depot_warn", "depot_bad", "depot_none", "depot_out", "reserve", "community",
    "approximate", "street", "duty", "request", "request_high", "request_critical", "route",
    "transfer", "closure_area", "closure",
)  # fmt: skip


@pytest.mark.parametrize("viewport", ["wall", "tablet-landscape"])
def test_wall_mode_fills_the_screen_with_labels_that_never_overlap(
    open_page: Callable[..., Watched], commander: str, world: dict[str, Any], viewport: str
) -> None:
    page = open_command(
        open_page, commander, viewport, f"/command?wall=1&incident={world['incident']}"
    )
    page.wait_for_selector("body.wall")
    page.wait_for_selector(".map-label-transfer:not(.off) > span")
    page.wait_for_selector(".map-label-street:not(.off) > span")
    page.wait_for_selector("path.cc-closure")
    size = page.viewport_size
    box = page.locator("#cc-map").bounding_box()
    assert (box["x"], box["y"], box["width"], box["height"]) == (
        0,
        0,
        size["width"],
        size["height"],
    )
    assert page.locator(".topbar").is_hidden()
    # the district fills the map's height between the legend and the figures
    district = page.locator(".leaflet-boundary-pane path").first.bounding_box()
    assert district["height"] >= 0.8 * size["height"], district
    legend = page.locator(".cc-legend").bounding_box()
    figures = page.locator(".cc-figures").bounding_box()
    assert legend["x"] + legend["width"] <= district["x"] + 2, (legend, district)
    assert district["x"] + district["width"] <= figures["x"] + 2, (district, figures)
    for key in LEGEND:
        assert page.locator(f".cc-legend li[data-legend={key}]").is_visible(), key
    assert "停用" in page.locator(".cc-legend").inner_text()
    # closures above the request circles, vehicles labelled with their task
    assert page.evaluate(
        "() => Number(getComputedStyle(document.querySelector('.leaflet-closures-pane')).zIndex)"
        " > Number(getComputedStyle(document.querySelector('.leaflet-overlay-pane')).zIndex)"
    )
    assert page.locator(".leaflet-closures-pane path.cc-closure").count() >= 1
    vehicle = page.locator(".map-label-transfer:not(.off) > span").first.inner_text()
    assert re.match(r"#\d+ 饮用水\S* \d+ → \S+社区", vehicle), vehicle
    assert page.locator(".map-label-depot-out:not(.off) > span").inner_text() == "储备点停用"
    figure = page.locator("#fig-fill").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert figure >= (48 if viewport == "wall" else 30), figure
    page.wait_for_timeout(300)  # the next placing after the last vehicle moved (no timing asserted)
    boxes = page.evaluate(LABEL_BOXES)
    assert not overlaps(boxes), overlaps(boxes)
    panels = [{**page.locator(s).bounding_box(), "text": s} for s in (".cc-legend", ".cc-figures")]
    panels = [
        {"x": p["x"], "y": p["y"], "w": p["width"], "h": p["height"], "text": p["text"]}
        for p in panels
    ]
    assert not [
        pair for pair in overlaps(boxes + panels) if pair[1] in (".cc-legend", ".cc-figures")
    ]
    streets = [b for b in boxes if "street" in b["kind"]]
    print(f"\n{viewport} wall: {len(boxes)} labels shown, {len(streets)} of 17 street names")
    assert len(streets) >= 10
    assert not untranslated(page)
    save(page, f"command_wall_{SIZES[viewport]}")
    if viewport != "wall":
        return
    # zoomed in: community names appear, still without overlapping
    for _ in range(4):
        page.locator(".leaflet-control-zoom-in").click()
        page.wait_for_timeout(350)
    page.wait_for_selector(".map-label-community:not(.off) > span")
    boxes = page.evaluate(LABEL_BOXES)
    assert not overlaps(boxes), overlaps(boxes)
    print(
        f"zoomed: {len(boxes)} labels, {sum('community' in b['kind'] for b in boxes)} communities"
    )
    save(page, "command_wall_zoom_1920")
