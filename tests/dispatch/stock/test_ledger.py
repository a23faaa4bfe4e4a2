"""The ledger through the API: receipts, FEFO issues, shortages, expiry, adjustments,
reversals, stocktakes, and the append-only movement table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dispatch.accounts.policy import Role
from tests.dispatch.incidents.helpers import incident, request
from tests.dispatch.stock.helpers import (
    HOME,
    HOME_DEPOT,
    OTHER_DEPOT,
    assert_ledger_matches,
    balances,
    community_of,
    in_days,
    movements,
    new_item,
    receive,
)
from tests.support import client, create_user, sql


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


@pytest.fixture(scope="module")
def leader() -> str:
    return create_user(Role.STREET_LEADER, street=HOME)


def _issue(item: str, qty: int, lot: str | None = None, depot: str = HOME_DEPOT) -> dict:
    line: dict = {"item": item, "qty": qty}
    if lot:
        line["lot"] = lot
    return {
        "depot": depot,
        "community": community_of(HOME),
        "purpose": "waterlogging at the east gate",
        "lines": [line],
    }


def test_receipt_then_issue_picks_earliest_expiry_first(server: str, leader: str) -> None:
    item = new_item()
    with client(server, leader) as http:
        made = http.post(
            "/api/stock/receipts",
            json={
                "depot": HOME_DEPOT,
                "lines": [
                    {"item": item, "lot": "LATE", "qty": 10, "expires_on": str(in_days(300))},
                    {"item": item, "lot": "SOON", "qty": 4, "expires_on": str(in_days(40))},
                    {"item": item, "lot": "MID", "qty": 5, "expires_on": str(in_days(100))},
                ],
            },
        )
        assert made.status_code == 201, made.text
        assert [m["kind"] for m in made.json()["movements"]] == ["receipt"] * 3
        issued = http.post("/api/stock/issues", json=_issue(item, 7))
    assert issued.status_code == 201, issued.text
    picked = [(m["lot"], m["qty"]) for m in issued.json()["movements"]]
    assert picked == [("SOON", -4), ("MID", -3)]
    assert balances(item) == {
        (HOME_DEPOT, "SOON"): 0,
        (HOME_DEPOT, "MID"): 2,
        (HOME_DEPOT, "LATE"): 10,
    }
    one = movements(item, kind="issue")[0]
    assert one["community"] == community_of(HOME) and one["purpose"].startswith("waterlogging")
    assert_ledger_matches(item)


def test_shortage_is_409_naming_item_depot_asked_available(server: str, leader: str) -> None:
    item = new_item()
    receive(HOME_DEPOT, item, "A", 3, in_days(200))
    with client(server, leader) as http:
        response = http.post("/api/stock/issues", json=_issue(item, 5))
    assert response.status_code == 409
    body = response.json()
    assert (body["item"], body["depot"], body["asked"], body["available"]) == (
        item,
        HOME_DEPOT,
        5,
        3,
    )
    assert body["field"] == "lines[0].qty"
    assert balances(item) == {(HOME_DEPOT, "A"): 3}


def test_issue_needs_an_incident_or_a_purpose(server: str, leader: str) -> None:
    item = new_item()
    receive(HOME_DEPOT, item, "A", 3, in_days(200))
    body = _issue(item, 1)
    del body["purpose"]
    with client(server, leader) as http:
        response = http.post("/api/stock/issues", json=body)
        assert response.status_code == 422
        assert response.json()["field"] == "purpose"
        cited = incident([body["community"]])  # a reference must exist (see test_references)
        body["incident"] = cited
        assert http.post("/api/stock/issues", json=body).status_code == 201
    assert movements(item, kind="issue")[0]["incident_id"] == cited


def test_expired_lot_is_not_issued_and_is_written_off(server: str, leader: str) -> None:
    item = new_item()
    long_ago = datetime.now(UTC) - timedelta(days=60)
    receive(HOME_DEPOT, item, "OLD", 6, (long_ago + timedelta(days=10)).date(), at=long_ago)
    receive(HOME_DEPOT, item, "NEW", 2, in_days(200))
    with client(server, leader) as http:
        named = http.post("/api/stock/issues", json=_issue(item, 1, lot="OLD"))
        assert named.status_code == 409 and named.json()["field"] == "lines[0].lot"
        fefo = http.post("/api/stock/issues", json=_issue(item, 3))
        assert fefo.status_code == 409 and fefo.json()["available"] == 2  # expired not usable
        lots = http.get("/api/stock/lots", params={"item": item}).json()
        assert {lot["lot_number"]: lot["status"] for lot in lots} == {
            "OLD": "expired",
            "NEW": "ok",
        }
        alerts = http.get("/api/stock/alerts", params={"depot": HOME_DEPOT}).json()
        assert any(a["kind"] == "expired" and a["item"] == item for a in alerts)
        not_expired = http.post(
            "/api/stock/adjustments",
            json={"depot": HOME_DEPOT, "item": item, "lot": "NEW", "qty": -1, "reason": "expired"},
        )
        assert not_expired.status_code == 422 and not_expired.json()["field"] == "reason"
        off = http.post(
            "/api/stock/adjustments",
            json={"depot": HOME_DEPOT, "item": item, "lot": "OLD", "qty": -6, "reason": "expired"},
        )
        assert off.status_code == 201, off.text
        alerts = http.get("/api/stock/alerts", params={"depot": HOME_DEPOT}).json()
    assert not any(a["item"] == item and a["kind"] == "expired" for a in alerts)
    assert balances(item) == {(HOME_DEPOT, "OLD"): 0, (HOME_DEPOT, "NEW"): 2}
    assert_ledger_matches(item)


def test_receipt_of_a_new_perishable_lot_needs_expiry(server: str, leader: str) -> None:
    item = new_item()
    with client(server, leader) as http:
        response = http.post(
            "/api/stock/receipts",
            json={"depot": HOME_DEPOT, "lines": [{"item": item, "lot": "X", "qty": 1}]},
        )
        assert response.status_code == 422
        assert response.json()["field"] == "lines[0].expires_on"
        clash = http.post(
            "/api/stock/receipts",
            json={
                "depot": HOME_DEPOT,
                "lines": [
                    {"item": item, "lot": "X", "qty": 1, "expires_on": str(in_days(50))},
                    {"item": item, "lot": "X", "qty": 1, "expires_on": str(in_days(51))},
                ],
            },
        )
        assert clash.status_code == 422 and clash.json()["field"] == "lines[1].expires_on"
    assert balances(item) == {}
    assert sql("SELECT count(*) AS n FROM lot WHERE item=$1", item)[0]["n"] == 0


@pytest.mark.parametrize(
    ("reason", "qty", "status"),
    [("damaged", -2, 201), ("damaged", 2, 422), ("found", 3, 201), ("lost", -99, 409)],
)
def test_adjustment_signs(server: str, leader: str, reason: str, qty: int, status: int) -> None:
    item = new_item(None)
    receive(HOME_DEPOT, item, "L1", 5)
    with client(server, leader) as http:
        response = http.post(
            "/api/stock/adjustments",
            json={"depot": HOME_DEPOT, "item": item, "lot": "L1", "qty": qty, "reason": reason},
        )
    assert response.status_code == status, response.text
    expected = 5 + qty if status == 201 else 5
    assert balances(item) == {(HOME_DEPOT, "L1"): expected}
    if status == 201:
        assert movements(item, kind="adjustment")[0]["reason"] == reason


def test_reversal_undoes_once_and_points_at_its_movement(server: str, leader: str) -> None:
    item = new_item(None)
    receive(HOME_DEPOT, item, "L1", 10)
    with client(server, leader) as http:
        issued = http.post("/api/stock/issues", json=_issue(item, 4)).json()["movements"][0]
        undo = http.post(f"/api/stock/movements/{issued['id']}/reversal", json={"note": "typo"})
        assert undo.status_code == 201, undo.text
        reversal = undo.json()["movements"][0]
        assert (reversal["kind"], reversal["qty"], reversal["reverses"]) == (
            "reversal",
            4,
            issued["id"],
        )
        again = http.post(f"/api/stock/movements/{issued['id']}/reversal", json={})
        assert again.status_code == 409
        of_reversal = http.post(f"/api/stock/movements/{reversal['id']}/reversal", json={})
        assert of_reversal.status_code == 409
        missing = http.post("/api/stock/movements/999999999/reversal", json={})
        assert missing.status_code == 404
    assert balances(item) == {(HOME_DEPOT, "L1"): 10}
    assert_ledger_matches(item)


def test_reversing_a_receipt_whose_stock_is_gone_is_409(server: str, leader: str) -> None:
    item = new_item(None)
    first = receive(HOME_DEPOT, item, "L1", 5)[0]
    with client(server, leader) as http:
        assert http.post("/api/stock/issues", json=_issue(item, 3)).status_code == 201
        response = http.post(f"/api/stock/movements/{first}/reversal", json={})
    assert response.status_code == 409
    assert response.json()["available"] == 2
    assert balances(item) == {(HOME_DEPOT, "L1"): 2}


def test_stocktake_adjusts_differences_and_keeps_the_sheet(server: str, leader: str) -> None:
    item = new_item(None)
    receive(HOME_DEPOT, item, "A", 10)
    receive(HOME_DEPOT, item, "B", 4)
    receive(HOME_DEPOT, item, "C", 7)
    with client(server, leader) as http:
        response = http.post(
            "/api/stock/stocktakes",
            json={
                "depot": HOME_DEPOT,
                "note": "monthly count",
                "lines": [
                    {"item": item, "lot": "A", "counted": 8},
                    {"item": item, "lot": "B", "counted": 6},
                    {"item": item, "lot": "C", "counted": 7},
                ],
            },
        )
        assert response.status_code == 201, response.text
        take = response.json()
        kept = http.get(f"/api/stock/stocktakes/{take['id']}").json()
    assert [(s["lot"], s["expected"], s["counted"], s["difference"]) for s in take["sheet"]] == [
        ("A", 10, 8, -2),
        ("B", 4, 6, 2),
        ("C", 7, 7, 0),
    ]
    assert kept["sheet"] == take["sheet"] and len(kept["movements"]) == 2
    counts = movements(item, kind="adjustment")
    assert {(m["reason"], m["qty"], m["stocktake_id"]) for m in counts} == {
        ("count", -2, take["id"]),
        ("count", 2, take["id"]),
    }
    assert balances(item) == {(HOME_DEPOT, "A"): 8, (HOME_DEPOT, "B"): 6, (HOME_DEPOT, "C"): 7}


def test_movements_cannot_be_edited_or_deleted() -> None:
    item = new_item(None)
    movement = receive(HOME_DEPOT, item, "A", 1)[0]
    for statement in (
        "UPDATE stock_movement SET qty = 100 WHERE id = $1",
        "DELETE FROM stock_movement WHERE id = $1",
    ):
        with pytest.raises(Exception, match="append-only"):
            sql(statement, movement)
    with pytest.raises(Exception, match="stock_balance_qty_check"):
        sql("UPDATE stock_balance SET qty = -1 WHERE item = $1", item)
    assert balances(item) == {(HOME_DEPOT, "A"): 1}


def test_each_movement_records_actor_time_and_reference(server: str, leader: str) -> None:
    item = new_item(None)
    community = community_of(HOME)
    asked = request(incident([community]), community, item=item)  # it must exist to be cited
    with client(server, leader) as http:
        made = http.post(
            "/api/stock/receipts",
            json={
                "depot": HOME_DEPOT,
                "request": asked,
                "lines": [{"item": item, "lot": "A", "qty": 2}],
            },
            headers={"Idempotency-Key": f"key-{item}"},
        )
    assert made.status_code == 201
    row = movements(item)[0]
    assert row["actor"] == leader and row["actor_id"] is not None
    assert row["request_id"] == asked and row["idempotency_key"] == f"key-{item}"
    assert abs((row["at"] - datetime.now(UTC)).total_seconds()) < 60


def test_commander_edits_a_standard_and_it_is_audited(server: str, commander: str) -> None:
    with client(server, commander) as http:
        response = http.put(
            f"/api/stock/standards/{OTHER_DEPOT}/TENT", json={"minimum": 77, "note": "new plan"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["source"] == "edited"
        listed = http.get("/api/stock/standards", params={"depot": OTHER_DEPOT}).json()
    assert {s["item"]: s["minimum"] for s in listed}["TENT"] == 77
    audit = sql(
        "SELECT * FROM audit_entry WHERE action='stock.standards' AND entity_id=$1",
        f"{OTHER_DEPOT}/TENT",
    )
    assert len(audit) == 1


def test_a_street_leader_cannot_edit_standards(server: str, leader: str) -> None:
    with client(server, leader) as http:
        response = http.put(f"/api/stock/standards/{HOME_DEPOT}/TENT", json={"minimum": 1})
    assert response.status_code == 403
