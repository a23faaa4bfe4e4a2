"""A drill starts clean: its copy keeps the real stock, people and places but none of the
real world's incidents, requests, plans, tasks or deliveries; stock the real world has in
transit is back at its source depot in the copy, and the copy's ledger still sums to its
balances. The real world is untouched."""

from __future__ import annotations

from typing import Any

import pytest

from dispatch.accounts.policy import Role
from dispatch.exercises.sandbox import REAL_WORK
from tests.dispatch.stock.helpers import HOME, RESERVE, community_of, in_days, new_item, receive
from tests.support import client, create_user, sql


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


@pytest.fixture(scope="module")
def trainer() -> str:
    return create_user(Role.TRAINER)


def _real_work(http: Any, item: str) -> dict[str, Any]:
    """An incident with a request, and a delivery of 7 units on its way from the reserve."""
    community = community_of(HOME)
    incident = http.post(
        "/api/incidents",
        json={"type": "rainstorm", "level": "IV", "title": "真实积水", "communities": [community]},
    )
    assert incident.status_code == 201, incident.text
    request = http.post(
        f"/api/incidents/{incident.json()['id']}/requests",
        json={"community": community, "item": item, "quantity": 7, "priority": "high"},
    )
    assert request.status_code == 201, request.text
    planned = http.post(
        "/api/stock/transfers",
        json={
            "source": RESERVE,
            "dest_community": community,
            "lines": [{"item": item, "qty": 7}],
            "incident": incident.json()["id"],
            "request": request.json()["id"],
        },
    )
    assert planned.status_code == 201, planned.text
    sent = http.post(f"/api/stock/transfers/{planned.json()['id']}/dispatch")
    assert sent.status_code == 200, sent.text
    return {"incident": incident.json()["id"], "transfer": planned.json()["id"]}


def _per_depot(schema: str, table: str, item: str) -> dict[str, int]:
    rows = sql(
        f"SELECT depot, sum(qty)::int AS qty FROM {schema}.{table} WHERE item=$1 GROUP BY depot",
        item,
    )
    return {r["depot"]: r["qty"] for r in rows}


def _stock(schema: str, item: str) -> dict[str, int]:
    return _per_depot(schema, "stock_balance", item)


def _ledger(schema: str, item: str) -> dict[str, int]:
    return _per_depot(schema, "stock_movement", item)


def test_a_drill_starts_without_the_real_worlds_work(
    server: str, commander: str, trainer: str
) -> None:
    item = new_item()
    receive(RESERVE, item, "CLEAN1", 20, in_days(90))
    with client(server, commander) as http:
        real = _real_work(http, item)
    assert _stock("public", item) == {RESERVE: 13}  # 7 on their way
    with client(server, commander) as http:  # a van out on a real run
        van = http.post(
            "/api/fleet/vehicles",
            json={"code": f"V{item[1:9]}", "depot": RESERVE, "kind": "van", "status": "out"},
        )
        assert van.status_code == 201, van.text
    with client(server, trainer) as http:
        made = http.post("/api/exercises", json={"name": "干净的演练", "kind": "drill"})
        assert made.status_code == 201, made.text
        drill = made.json()
    schema = drill["schema_name"]
    for table in sorted(REAL_WORK):
        assert sql(f"SELECT count(*) AS n FROM {schema}.{table}")[0]["n"] == 0, table
    # the stock on its way is back at the reserve in the drill, and the ledger says so
    assert _stock(schema, item) == {RESERVE: 20}
    assert _ledger(schema, item) == _stock(schema, item)
    back = sql(
        f"SELECT kind, qty, note FROM {schema}.stock_movement WHERE item=$1 AND kind='reversal'",
        item,
    )
    assert [(r["kind"], r["qty"]) for r in back] == [("reversal", 7)]
    assert back[0]["note"].startswith("演练开始时在途的物资已退回原库")
    # the van is at its depot in the drill, out in the real world
    vans = f"SELECT status FROM {{}}.vehicle WHERE id = {van.json()['id']}"
    assert sql(vans.format(schema)) == [{"status": "available"}]
    assert sql(vans.format("public")) == [{"status": "out"}]
    # the people and places are there; the real world is as it was
    assert sql(f"SELECT count(*) AS n FROM {schema}.community")[0]["n"] > 0
    assert _stock("public", item) == {RESERVE: 13}
    assert _ledger("public", item) == {RESERVE: 13}
    header = {"X-Exercise": str(drill["id"])}
    with client(server, commander) as http:
        assert http.get("/api/incidents", headers=header).json() == []
        assert http.get(f"/api/incidents/{real['incident']}", headers=header).status_code == 404
        transit = http.get("/api/stock/in-transit", headers=header).json()
        assert not [r for r in transit if r["item"] == item]
        assert http.get(f"/api/incidents/{real['incident']}").status_code == 200
    with client(server, trainer) as http:
        assert http.delete(f"/api/exercises/{drill['id']}").status_code == 200
