"""Lot labels in a real browser: the printed sheet of a depot's lots, and a photo of a
label's QR code (an image made here, fed to the tablet's camera input) picking the lot;
and the stock card (台账) printed from the stock view."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
import segno

from dispatch.accounts.policy import Role
from dispatch.stock.labels import label_text
from tests.dispatch.incidents.helpers import stock
from tests.e2e.pages.conftest import Watched, shot
from tests.e2e.pages.test_squad import depot_of, open_squad
from tests.support import create_user, sql

pytestmark = pytest.mark.e2e

STREET = "110101012"
DEPOT = depot_of(STREET)


def _newest_lot(depot: str, item: str) -> tuple[str, date | None]:
    row = sql(
        "SELECT l.lot_number, l.expires_on FROM stock_balance b JOIN lot l ON l.id = b.lot "
        "WHERE b.depot=$1 AND b.item=$2 ORDER BY l.id DESC LIMIT 1",
        depot,
        item,
    )[0]
    return str(row["lot_number"]), row["expires_on"]


def _photo(tmp_path: Path, text: str, name: str) -> str:
    """A QR code as a camera would hand it over: a PNG with a margin around the code."""
    out = io.BytesIO()
    segno.make(text, error="m", micro=False).save(out, kind="png", scale=10, border=6)
    path = tmp_path / name
    path.write_bytes(out.getvalue())
    return str(path)


def test_a_depots_labels_print_and_a_scanned_label_picks_the_lot(
    open_page: Callable[..., Watched], tmp_path: Path
) -> None:
    stock(DEPOT, "WATER", 40)
    lot, expires = _newest_lot(DEPOT, "WATER")
    leader = create_user(Role.STREET_LEADER, street=STREET)
    watched = open_page("tablet")
    page = open_squad(watched, leader)

    page.goto(f"/print/labels?depot={DEPOT}")
    card = page.locator(f".lot-label[data-item=WATER][data-lot='{lot}']")
    card.wait_for()
    assert card.locator("svg path").count() >= 1
    drawn = card.locator("svg").bounding_box()
    assert drawn is not None and drawn["width"] > 80  # drawn as SVG, not an unknown element
    assert "饮用水" in card.inner_text() and lot in card.inner_text()
    shot(page, "labels-tablet")

    page.goto("/squad#record")
    page.wait_for_selector("body[data-ready=true]")
    label = _photo(tmp_path, label_text(DEPOT, "WATER", lot, expires), "label.png")
    page.set_input_files("#issue-scan", label)
    page.wait_for_function(
        "lot => document.getElementById('issue-lot').value === lot", arg=lot, timeout=10_000
    )
    assert page.input_value("#issue-depot") == DEPOT
    assert page.input_value("#issue-item") == "WATER"
    assert "已选中" in page.inner_text("#issue-scan-status")

    page.set_input_files("#receipt-scan", label)
    page.wait_for_function(
        "lot => document.getElementById('receipt-lot').value === lot", arg=lot, timeout=10_000
    )
    assert page.input_value("#receipt-item") == "WATER"

    page.set_input_files("#count-scan", label)
    page.wait_for_selector("#count-sheet tr.scanned")
    assert lot in page.inner_text("#count-sheet tr.scanned")

    page.set_input_files("#issue-scan", _photo(tmp_path, "你好，世界", "other.png"))
    page.wait_for_function(
        "() => document.getElementById('issue-scan-status').textContent.includes('不是批次标签')"
    )


def test_the_stock_card_prints_every_movement_with_its_running_balance(
    open_page: Callable[..., Watched],
) -> None:
    stock(DEPOT, "QUILT", 30)
    lot, _ = _newest_lot(DEPOT, "QUILT")
    leader = create_user(Role.STREET_LEADER, street=STREET)
    watched = open_page("tablet")
    page = open_squad(watched, leader)
    link = page.locator(f"tr.item-row[data-depot='{DEPOT}'][data-item=QUILT] a.card-link")
    assert link.get_attribute("href") == f"/print/card?depot={DEPOT}&item=QUILT"
    link.click()
    page.locator("#card-table").wait_for()
    row = page.locator("#card-table tbody tr", has_text=lot)
    assert "入库" in row.inner_text() and "30" in row.inner_text()
    heading = page.locator("#card h1").inner_text()
    assert "库存台账" in heading and "棉被" in heading
    shot(page, "stock-card-tablet")
    page.emulate_media(media="print")
    assert page.locator(".topbar").is_hidden() and page.locator("#print").is_hidden()
