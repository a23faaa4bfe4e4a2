"""Transfers: planned -> dispatched (in transit) -> received (partly) or cancelled."""

from __future__ import annotations

import pytest

from dispatch.accounts.policy import Role
from tests.dispatch.stock.helpers import (
    HOME,
    HOME_DEPOT,
    OTHER_DEPOT,
    RESERVE,
    assert_ledger_matches,
    balances,
    community_of,
    in_days,
    movements,
    new_item,
    receive,
)
from tests.support import client, create_user


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


@pytest.fixture(scope="module")
def leader() -> str:
    return create_user(Role.STREET_LEADER, street=HOME)


def _plan(http, item: str, qty: int, **dest: str) -> dict:  # type: ignore[no-untyped-def]
    response = http.post(
        "/api/stock/transfers",
        json={"source": RESERVE, "lines": [{"item": item, "qty": qty}], **dest},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_depot_to_depot_with_partial_receipt(server: str, commander: str, leader: str) -> None:
    item = new_item()
    receive(RESERVE, item, "A", 5, in_days(60))
    receive(RESERVE, item, "B", 20, in_days(200))
    with client(server, commander) as http:
        planned = _plan(http, item, 12, dest_depot=HOME_DEPOT)
        assert planned["status"] == "planned" and balances(item)[(RESERVE, "A")] == 5
        sent = http.post(f"/api/stock/transfers/{planned['id']}/dispatch")
        assert sent.status_code == 200, sent.text
        assert [(p["lot"], p["qty_sent"]) for p in sent.json()["picks"]] == [("A", 5), ("B", 7)]
        transit = http.get("/api/stock/in-transit").json()
        assert sum(r["qty"] for r in transit if r["item"] == item) == 12
        twice = http.post(f"/api/stock/transfers/{planned['id']}/dispatch")
        assert twice.status_code == 409 and twice.json()["field"] == "status"
    with client(server, leader) as http:
        body = {"lines": [{"item": item, "qty": 10}]}
        no_reason = http.post(f"/api/stock/transfers/{planned['id']}/receive", json=body)
        assert no_reason.status_code == 422
        assert no_reason.json()["field"] == "shortfall_reason"
        body["shortfall_reason"] = "two cases crushed on the truck"
        got = http.post(f"/api/stock/transfers/{planned['id']}/receive", json=body)
        assert got.status_code == 200, got.text
        view = got.json()
    with client(server, commander) as http:
        cancel = http.post(f"/api/stock/transfers/{planned['id']}/cancel", json={"reason": "x"})
        assert cancel.status_code == 409
    assert view["status"] == "received" and view["shortfall"] == 2
    assert view["shortfall_reason"] == "two cases crushed on the truck"
    # the earliest-expiring lot arrives first; the shortfall stays visible on the later one
    assert [(p["lot"], p["qty_sent"], p["qty_received"]) for p in view["picks"]] == [
        ("A", 5, 5),
        ("B", 7, 5),
    ]
    assert balances(item) == {
        (RESERVE, "A"): 0,
        (RESERVE, "B"): 13,
        (HOME_DEPOT, "A"): 5,
        (HOME_DEPOT, "B"): 5,
    }
    assert {m["kind"] for m in movements(item, transfer_id=planned["id"])} == {
        "transfer_out",
        "transfer_in",
    }
    assert_ledger_matches(item)


def test_cancel_after_dispatch_returns_stock(server: str, commander: str) -> None:
    item = new_item(None)
    receive(RESERVE, item, "A", 9)
    with client(server, commander) as http:
        planned = _plan(http, item, 6, dest_depot=OTHER_DEPOT)
        http.post(f"/api/stock/transfers/{planned['id']}/dispatch").raise_for_status()
        assert balances(item) == {(RESERVE, "A"): 3}
        no_reason = http.post(f"/api/stock/transfers/{planned['id']}/cancel", json={})
        assert no_reason.status_code == 400
        done = http.post(
            f"/api/stock/transfers/{planned['id']}/cancel", json={"reason": "road closed"}
        )
        assert done.status_code == 200 and done.json()["status"] == "cancelled"
        receive_after = http.post(f"/api/stock/transfers/{planned['id']}/receive", json={})
        assert receive_after.status_code == 409
    assert balances(item) == {(RESERVE, "A"): 9}
    assert_ledger_matches(item)


def test_delivery_to_a_community_is_seen_by_its_worker(server: str, commander: str) -> None:
    item = new_item(None)
    receive(RESERVE, item, "A", 4)
    community = community_of(HOME)
    worker = create_user(Role.COMMUNITY_WORKER, community=community)
    stranger = create_user(Role.COMMUNITY_WORKER, community=community_of("110101002"))
    with client(server, commander) as http:
        planned = _plan(http, item, 4, dest_community=community)
        http.post(f"/api/stock/transfers/{planned['id']}/dispatch").raise_for_status()
    with client(server, stranger) as http:
        assert planned["id"] not in [t["id"] for t in http.get("/api/stock/transfers").json()]
        assert http.get(f"/api/stock/transfers/{planned['id']}").status_code == 403
        refused = http.post(f"/api/stock/transfers/{planned['id']}/receive", json={})
        assert refused.status_code == 403
        assert http.get("/api/stock/").status_code == 403
    with client(server, worker) as http:
        mine = http.get("/api/stock/transfers", params={"status": "dispatched"}).json()
        assert planned["id"] in [t["id"] for t in mine]
        got = http.post(f"/api/stock/transfers/{planned['id']}/receive", json={})
        assert got.status_code == 200 and got.json()["shortfall"] == 0
    assert balances(item) == {(RESERVE, "A"): 0}
    assert not movements(item, kind="transfer_in")


def test_transfer_needs_one_destination_and_stock(server: str, commander: str) -> None:
    item = new_item(None)
    receive(RESERVE, item, "A", 1)
    with client(server, commander) as http:
        both = http.post(
            "/api/stock/transfers",
            json={
                "source": RESERVE,
                "dest_depot": HOME_DEPOT,
                "dest_community": community_of(HOME),
                "lines": [{"item": item, "qty": 1}],
            },
        )
        assert both.status_code == 422 and both.json()["field"] == "dest_depot"
        planned = _plan(http, item, 2, dest_depot=HOME_DEPOT)
        short = http.post(f"/api/stock/transfers/{planned['id']}/dispatch")
        assert short.status_code == 409 and short.json()["available"] == 1
        assert http.get(f"/api/stock/transfers/{planned['id']}").json()["status"] == "planned"
    assert balances(item) == {(RESERVE, "A"): 1}
