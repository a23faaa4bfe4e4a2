"""Every reference a ledger row cites is checked before it is written (the ledger is
append-only: a wrong reference could never be corrected). Each bad one is a 422 naming
its field, and no movement, balance or transfer is written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dispatch.accounts.policy import Role
from tests.dispatch.incidents.helpers import incident, request, task
from tests.dispatch.stock.helpers import (
    HOME,
    HOME_DEPOT,
    RESERVE,
    in_days,
    movements,
    new_item,
    receive,
)
from tests.support import client, create_user, sql

OTHER = "110101002"
NEVER = 9_223_372_036_854_775_807  # the largest bigint: no row has it


def _communities(street: str) -> list[str]:
    rows = sql("SELECT code FROM community WHERE street=$1 ORDER BY code", street)
    return [str(r["code"]) for r in rows]


@pytest.fixture(scope="module")
def leader() -> str:
    return create_user(Role.STREET_LEADER, street=HOME)


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    """Incidents, requests and tasks in the leader's street and in another."""
    home, home_too = _communities(HOME)[:2]
    away = _communities(OTHER)[0]
    mine = incident([home, home_too])
    theirs = incident([away])
    return {
        "home": home,
        "incident": mine,
        "other_incident": incident([home]),
        "foreign_incident": theirs,
        "request": request(mine, home, "WATER"),
        "request_elsewhere": request(mine, home_too, "WATER"),
        "request_food": request(mine, home, "FOOD"),
        "foreign_request": request(theirs, away, "WATER"),
        "task": task(mine, home)["id"],
        "foreign_task": task(theirs, away)["id"],
    }


def _issue(world: dict[str, Any], **cited: Any) -> dict[str, Any]:
    return {
        "depot": HOME_DEPOT,
        "community": world["home"],
        "purpose": "积水点",
        "lines": [{"item": world["item"], "qty": 1}],
        **cited,
    }


def _receipt(world: dict[str, Any], **cited: Any) -> dict[str, Any]:
    lines = [{"item": world["item"], "lot": "R1", "qty": 3}]
    return {"depot": HOME_DEPOT, "lines": lines, **cited}


# (what is sent, the field the refusal names, the code)
BAD: dict[str, Callable[[dict[str, Any]], tuple[str, dict[str, Any], str, str]]] = {
    "receipt citing a task that does not exist": lambda w: (
        "/api/stock/receipts",
        _receipt(w, task=NEVER),
        "task",
        "reference.unknown",
    ),
    "receipt citing a request that does not exist": lambda w: (
        "/api/stock/receipts",
        _receipt(w, request=NEVER),
        "request",
        "reference.unknown",
    ),
    "issue citing an incident that does not exist": lambda w: (
        "/api/stock/issues",
        _issue(w, incident=999_999),
        "incident",
        "reference.unknown",
    ),
    "issue citing another street's incident": lambda w: (
        "/api/stock/issues",
        _issue(w, incident=w["foreign_incident"]),
        "incident",
        "reference.out_of_scope",
    ),
    "issue citing another street's request": lambda w: (
        "/api/stock/issues",
        _issue(w, incident=w["incident"], request=w["foreign_request"]),
        "request",
        "reference.out_of_scope",
    ),
    "issue citing another street's task": lambda w: (
        "/api/stock/issues",
        _issue(w, incident=w["incident"], task=w["foreign_task"]),
        "task",
        "reference.out_of_scope",
    ),
    "issue citing a task of another incident": lambda w: (
        "/api/stock/issues",
        _issue(w, incident=w["other_incident"], task=w["task"]),
        "task",
        "reference.mismatch",
    ),
    "issue citing a request of another incident": lambda w: (
        "/api/stock/issues",
        _issue(w, incident=w["other_incident"], request=w["request"]),
        "request",
        "reference.mismatch",
    ),
    "issue to one community citing another community's request": lambda w: (
        "/api/stock/issues",
        _issue(w, incident=w["incident"], request=w["request_elsewhere"]),
        "request",
        "reference.mismatch",
    ),
    "issue citing a request for another item": lambda w: (
        "/api/stock/issues",
        _issue(w, incident=w["incident"], request=w["request_food"]),
        "request",
        "reference.mismatch",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_reference_is_refused_naming_its_field_and_nothing_is_written(
    server: str, leader: str, world: dict[str, Any], case: str
) -> None:
    item = new_item(None)
    receive(HOME_DEPOT, item, "A", 5)
    path, body, field, code = BAD[case]({**world, "item": item})
    before = (movements(item), sql("SELECT qty FROM stock_balance WHERE item=$1", item))
    with client(server, leader) as http:
        response = http.post(path, json=body)
    assert response.status_code == 422, response.text
    assert (response.json()["field"], response.json()["code"]) == (field, code)
    assert (movements(item), sql("SELECT qty FROM stock_balance WHERE item=$1", item)) == before


def test_good_references_are_written(server: str, leader: str, world: dict[str, Any]) -> None:
    """The control: what exists, in scope and agreeing, is taken and kept on the row."""
    receive(HOME_DEPOT, "WATER", "REF-OK", 5, in_days(200))
    body = {
        "depot": HOME_DEPOT,
        "community": world["home"],
        "incident": world["incident"],
        "request": world["request"],
        "task": world["task"],
        "lines": [{"item": "WATER", "qty": 1, "lot": "REF-OK"}],
    }
    with client(server, leader) as http:
        made = http.post("/api/stock/issues", json=body)
    assert made.status_code == 201, made.text
    (row,) = made.json()["movements"]
    assert (row["incident"], row["request"], row["task"]) == (
        world["incident"],
        world["request"],
        world["task"],
    )


def test_a_transfer_cites_only_what_exists(
    server: str, commander: str, world: dict[str, Any]
) -> None:
    """A transfer's references go into the ledger when it is sent: checked when planned."""
    before = sql("SELECT count(*) AS n FROM stock_transfer")[0]["n"]
    with client(server, commander) as http:
        for cited, field in (({"request": NEVER}, "request"), ({"incident": 999_999}, "incident")):
            response = http.post(
                "/api/stock/transfers",
                json={
                    "source": RESERVE,
                    "dest_community": world["home"],
                    "lines": [{"item": "WATER", "qty": 1}],
                    **cited,
                },
            )
            assert response.status_code == 422, response.text
            assert response.json()["field"] == field
    assert sql("SELECT count(*) AS n FROM stock_transfer")[0]["n"] == before


def test_the_database_itself_refuses_a_movement_citing_no_task() -> None:
    """Behind the checks, the ledger's foreign keys: a row citing nothing cannot be written
    by any path."""
    item = new_item(None)
    movement = receive(HOME_DEPOT, item, "FK", 1)[0]
    with pytest.raises(Exception, match="stock_movement_task_fk"):
        sql(
            "INSERT INTO stock_movement (at, kind, depot, item, lot, qty, task_id, actor) "
            "SELECT now(), 'receipt', depot, item, lot, 1, $2, 'test' FROM stock_movement "
            "WHERE id=$1",
            movement,
            NEVER,
        )
