"""Every stock mutation resent with the same Idempotency-Key has one effect."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from dispatch.accounts.policy import Role
from tests.dispatch.stock.helpers import (
    HOME,
    HOME_DEPOT,
    RESERVE,
    community_of,
    new_item,
    receive,
)
from tests.support import client, create_user, sql

Prepare = Callable[[httpx.Client, str], tuple[str, dict[str, Any]]]


def _transfer(http: httpx.Client, item: str, dispatched: bool) -> int:
    receive(RESERVE, item, "T", 10)
    made = http.post(
        "/api/stock/transfers",
        json={"source": RESERVE, "dest_depot": HOME_DEPOT, "lines": [{"item": item, "qty": 4}]},
    )
    transfer_id = int(made.json()["id"])
    if dispatched:
        http.post(f"/api/stock/transfers/{transfer_id}/dispatch").raise_for_status()
    return transfer_id


CASES: dict[str, Prepare] = {
    "receipt": lambda http, item: (
        "/api/stock/receipts",
        {"depot": HOME_DEPOT, "lines": [{"item": item, "lot": "R", "qty": 3}]},
    ),
    "issue": lambda http, item: (
        receive(HOME_DEPOT, item, "I", 10) and "/api/stock/issues",
        {
            "depot": HOME_DEPOT,
            "community": community_of(HOME),
            "purpose": "retry test",
            "lines": [{"item": item, "qty": 2}],
        },
    ),
    "adjustment": lambda http, item: (
        receive(HOME_DEPOT, item, "A", 10) and "/api/stock/adjustments",
        {"depot": HOME_DEPOT, "item": item, "lot": "A", "qty": -1, "reason": "damaged"},
    ),
    "reversal": lambda http, item: (
        f"/api/stock/movements/{receive(HOME_DEPOT, item, 'V', 5)[0]}/reversal",
        {"note": "wrong depot"},
    ),
    "stocktake": lambda http, item: (
        receive(HOME_DEPOT, item, "S", 10) and "/api/stock/stocktakes",
        {"depot": HOME_DEPOT, "lines": [{"item": item, "lot": "S", "counted": 8}]},
    ),
    "transfer_create": lambda http, item: (
        "/api/stock/transfers",
        {"source": RESERVE, "dest_depot": HOME_DEPOT, "lines": [{"item": item, "qty": 1}]},
    ),
    "transfer_dispatch": lambda http, item: (
        f"/api/stock/transfers/{_transfer(http, item, False)}/dispatch",
        {},
    ),
    "transfer_receive": lambda http, item: (
        f"/api/stock/transfers/{_transfer(http, item, True)}/receive",
        {"lines": [{"item": item, "qty": 3}], "shortfall_reason": "one lost"},
    ),
    "transfer_cancel": lambda http, item: (
        f"/api/stock/transfers/{_transfer(http, item, True)}/cancel",
        {"reason": "road closed"},
    ),
    "standard": lambda http, item: (f"/api/stock/standards/{HOME_DEPOT}/{item}", {"minimum": 5}),
}


def _effects(item: str) -> tuple[Any, ...]:
    moved = sql(
        "SELECT count(*) AS n, coalesce(sum(qty), 0) AS q FROM stock_movement WHERE item=$1", item
    )[0]
    transfers = sql(
        "SELECT count(*) AS n, string_agg(status, ',' ORDER BY id) AS s FROM stock_transfer t "
        "WHERE EXISTS (SELECT 1 FROM stock_transfer_line l WHERE l.transfer=t.id AND l.item=$1)",
        item,
    )[0]
    audits = sql("SELECT count(*) AS n FROM audit_entry WHERE action LIKE 'stock.%'")[0]
    return moved["n"], moved["q"], transfers["n"], transfers["s"], audits["n"]


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


@pytest.mark.parametrize("case", sorted(CASES))
def test_retry_has_one_effect(server: str, commander: str, case: str) -> None:
    item = new_item(None)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    with client(server, commander) as http:
        path, body = CASES[case](http, item)
        method = "PUT" if case == "standard" else "POST"
        before = _effects(item)
        first = http.request(method, path, json=body, headers=key)
        assert first.status_code in (200, 201), first.text
        after_first = _effects(item)
        assert after_first != before
        for _ in range(3):
            again = http.request(method, path, json=body, headers=key)
            assert again.status_code == first.status_code
            assert again.json() == first.json()
            assert again.headers["idempotent-replayed"] == "true"
    assert _effects(item) == after_first
    recorded = sql(
        "SELECT count(*) AS n FROM stock_movement WHERE item=$1 AND idempotency_key=$2",
        item,
        key["Idempotency-Key"],
    )[0]["n"]
    if case not in ("transfer_create", "standard"):
        assert recorded >= 1  # the key is recorded on the ledger movements it made


def test_the_ledger_itself_refuses_a_second_row_for_a_keyed_ordinal(
    server: str, commander: str
) -> None:
    # Defence in depth below the idempotency record: a keyed request numbers its ledger
    # rows, and a second run of it would write the same numbers, which the unique index
    # (actor, key, ordinal) refuses whatever path the second run took.
    item = new_item(shelf_life_days=None)
    receive(HOME_DEPOT, item, "K", 10)
    key = uuid.uuid4().hex
    body = {
        "depot": HOME_DEPOT,
        "community": community_of(HOME),
        "purpose": "ordinals",
        "lines": [{"item": item, "qty": 1}, {"item": item, "qty": 2}],
    }
    with client(server, commander) as http:
        assert http.post(
            "/api/stock/issues", json=body, headers={"Idempotency-Key": key}
        ).is_success
    rows = sql("SELECT id, key_seq FROM stock_movement WHERE idempotency_key=$1 ORDER BY id", key)
    assert [r["key_seq"] for r in rows] == [1, 2]
    with pytest.raises(Exception, match="stock_movement_once"):
        sql(
            "INSERT INTO stock_movement (at, kind, depot, item, lot, qty, community, purpose, "
            "actor, actor_id, idempotency_key, key_seq) "
            "SELECT at, kind, depot, item, lot, qty, community, purpose, actor, actor_id, "
            "idempotency_key, key_seq FROM stock_movement WHERE id=$1",
            rows[0]["id"],
        )
