"""Views, scope of reads, alerts, exports, the catalogue load and demo stock."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import load_workbook

from dispatch.accounts.policy import Role
from dispatch.settings import get_settings
from dispatch.stock.service import load_catalogue
from tests.dispatch.stock.helpers import (
    HOME,
    HOME_DEPOT,
    OTHER_DEPOT,
    RESERVE,
    beijing_today,
    in_days,
    new_item,
    receive,
)
from tests.support import client, create_user, run, sql, system_context


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


@pytest.fixture(scope="module")
def leader() -> str:
    return create_user(Role.STREET_LEADER, street=HOME)


def test_catalogue_is_loaded_and_a_second_load_changes_nothing() -> None:
    report = run(load_catalogue(system_context(), get_settings().reference_dir))
    assert report.changes == 0
    assert report.unchanged["item"] == 15
    assert report.unchanged["reserve_standard"] == 270  # edited ones are kept, not reloaded
    assert sql("SELECT count(*) AS n FROM item WHERE category <> 'test'")[0]["n"] == 15


def test_stock_reads_are_scoped_to_the_leaders_street(server: str, leader: str) -> None:
    item = new_item(None)
    receive(HOME_DEPOT, item, "A", 3)
    receive(OTHER_DEPOT, item, "A", 4)
    receive(RESERVE, item, "A", 5)
    with client(server, leader) as http:
        mine = http.get("/api/stock/", params={"item": item}).json()
        assert [(s["depot"], s["qty"]) for s in mine] == [(HOME_DEPOT, 3)]
        assert http.get("/api/stock/", params={"depot": OTHER_DEPOT}).status_code == 403
        assert http.get("/api/stock/", params={"depot": RESERVE}).status_code == 403
        assert http.get("/api/stock/", params={"street": "110101002"}).status_code == 403
        card = http.get("/api/stock/card", params={"depot": OTHER_DEPOT, "item": item})
        assert card.status_code == 403
        totals = http.get("/api/stock/totals", params={"by": "item", "item": item}).json()
        assert [t["usable"] for t in totals] == [3]
        alerts = http.get("/api/stock/alerts").json()
        assert {a["street"] for a in alerts} <= {HOME}
        summary = http.get("/api/stock/summary").json()
        assert {r["street"] for r in summary} == {HOME}
        moves = http.get("/api/stock/movements", params={"item": item}).json()
        assert {m["depot"] for m in moves} == {HOME_DEPOT}


def test_totals_by_depot_street_and_item(server: str, commander: str) -> None:
    item = new_item()
    receive(HOME_DEPOT, item, "A", 3, in_days(10))
    receive(HOME_DEPOT, item, "B", 4, in_days(300))
    receive(OTHER_DEPOT, item, "B", 5)
    with client(server, commander) as http:
        by_depot = http.get("/api/stock/totals", params={"by": "depot", "item": item}).json()
        by_street = http.get("/api/stock/totals", params={"by": "street", "item": item}).json()
        by_item = http.get("/api/stock/totals", params={"by": "item", "item": item}).json()
    assert [(t["depot"], t["usable"], t["near_expiry"]) for t in by_depot] == [
        (HOME_DEPOT, 7, 3),
        (OTHER_DEPOT, 5, 0),
    ]
    assert [(t["street"], t["total"]) for t in by_street] == [(HOME, 7), ("110101002", 5)]
    assert [(t["item"], t["total"]) for t in by_item] == [(item, 12)]


def test_stock_card_has_a_running_balance_and_exports(server: str, commander: str) -> None:
    item = new_item(None)
    receive(HOME_DEPOT, item, "A", 10)
    receive(HOME_DEPOT, item, "B", 5)
    with client(server, commander) as http:
        http.post(
            "/api/stock/issues",
            json={
                "depot": HOME_DEPOT,
                "community": "110101001001",
                "purpose": "drill",
                "lines": [{"item": item, "qty": 12}],
            },
        ).raise_for_status()
        card = http.get("/api/stock/card", params={"depot": HOME_DEPOT, "item": item}).json()
        as_csv = http.get(
            "/api/stock/exports/card", params={"depot": HOME_DEPOT, "item": item, "format": "csv"}
        )
        as_xlsx = http.get(
            "/api/stock/exports/card", params={"depot": HOME_DEPOT, "item": item, "format": "xlsx"}
        )
        stock_xlsx = http.get("/api/stock/exports/stock", params={"format": "xlsx"})
        summary_csv = http.get("/api/stock/exports/summary")
    assert [r["balance"] for r in card["rows"]] == [10, 15, 5, 3]
    assert card["balance"] == 3
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert rows[0][:7] == ["id", "at", "kind", "lot", "expires_on", "qty", "balance"]
    assert [r[6] for r in rows[1:]] == ["10", "15", "5", "3"]
    assert "attachment" in as_csv.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).worksheets[0]
    assert [row[6] for row in sheet.iter_rows(min_row=2, values_only=True)] == [10, 15, 5, 3]
    assert stock_xlsx.status_code == 200 and stock_xlsx.content[:2] == b"PK"
    summary = list(csv.DictReader(io.StringIO(summary_csv.content.decode("utf-8-sig"))))
    assert {"street", "item", "on_hand", "standard", "gap"} <= set(summary[0])


def test_below_standard_alert_and_summary(server: str, commander: str) -> None:
    item = new_item(None)
    with client(server, commander) as http:
        http.put(f"/api/stock/standards/{HOME_DEPOT}/{item}", json={"minimum": 10})
        receive(HOME_DEPOT, item, "A", 4)
        alerts = http.get("/api/stock/alerts", params={"kind": "below_standard"}).json()
        mine = [a for a in alerts if a["item"] == item]
        assert mine == [
            {
                "kind": "below_standard",
                "depot": HOME_DEPOT,
                "street": HOME,
                "item": item,
                "qty": 4,
                "lot": None,
                "expires_on": None,
                "days_left": None,
                "minimum": 10,
            }
        ]
        summary = http.get("/api/stock/summary", params={"street": HOME}).json()
        row = next(r for r in summary if r["item"] == item)
        assert (row["on_hand"], row["standard"], row["gap"], row["percent"]) == (4, 10, 6, 40.0)
        receive(HOME_DEPOT, item, "A", 6)
        alerts = http.get("/api/stock/alerts", params={"kind": "below_standard"}).json()
    assert not [a for a in alerts if a["item"] == item]


def test_near_expiry_alert_uses_the_setting(server: str, commander: str) -> None:
    item = new_item()
    receive(HOME_DEPOT, item, "SOON", 2, in_days(get_settings().near_expiry_days - 1))
    receive(HOME_DEPOT, item, "LATER", 2, in_days(get_settings().near_expiry_days + 1))
    with client(server, commander) as http:
        alerts = http.get("/api/stock/alerts", params={"kind": "near_expiry"}).json()
    mine = [(a["lot"], a["days_left"]) for a in alerts if a["item"] == item]
    assert mine == [("SOON", get_settings().near_expiry_days - 1)]
    assert all(date.fromisoformat(a["expires_on"]) >= beijing_today() for a in alerts)


def test_lot_labels_carry_each_lots_facts_in_the_readers_scope(server: str, leader: str) -> None:
    item = new_item(365)
    receive(HOME_DEPOT, item, "A|1", 3, expires_on=in_days(200))
    receive(HOME_DEPOT, item, "B", 2, expires_on=in_days(100))
    with client(server, leader) as http:
        answer = http.get("/api/stock/labels", params={"depot": HOME_DEPOT})
        assert answer.status_code == 200
        labels = [x for x in answer.json() if x["item"] == item]
        # the stock card's order (earliest expiry first), a `|` in a lot number escaped
        assert [(x["lot"], x["qty"]) for x in labels] == [("B", 2), ("A|1", 3)]
        assert labels[1]["text"] == f"DSLOT1|{HOME_DEPOT}|{item}|A%7C1|{in_days(200)}"
        assert labels[0]["svg"].startswith("<svg") and "<path" in labels[0]["svg"]
        assert http.get("/api/stock/labels", params={"depot": OTHER_DEPOT}).status_code == 403
        missing = http.get("/api/stock/labels")
        assert missing.status_code == 400 and "depot" in missing.text
