"""A street leader cannot change another street's data: one case per mutating route.

`SCOPE_CASES` must name every mutating route of the app; a new route without a case
fails `test_every_mutating_route_has_a_scope_case`, so scope is never forgotten.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dispatch.accounts.policy import Role
from tests.support import client, create_user, sql

HOME = "110101001"  # 东华门街道: the leader's own street
OTHER = "110101002"  # 景山街道

# routes that need no token (anyone may try to log in)
PUBLIC_MUTATIONS = {("POST", "/api/auth/login"), ("POST", "/api/auth/refresh")}

Case = Callable[[], tuple[str, dict[str, Any]]]


def _other_community() -> str:
    return str(sql("SELECT min(code) AS c FROM community WHERE street=$1", OTHER)[0]["c"])


def _other_user() -> str:
    user = create_user(Role.STREET_LEADER, street=OTHER)
    return str(sql("SELECT id FROM app_user WHERE username=$1", user)[0]["id"])


SCOPE_CASES: dict[tuple[str, str], Case] = {
    ("POST", "/api/users"): lambda: (
        "/api/users",
        {
            "username": "intruder1",
            "password": "long-enough-pw",
            "role": "street_leader",
            "street": OTHER,
        },
    ),
    ("POST", "/api/users/{user_id:int}/disable"): lambda: (
        f"/api/users/{_other_user()}/disable",
        {},
    ),
    ("PUT", "/api/communities/{code:str}/coordinates"): lambda: (
        f"/api/communities/{_other_community()}/coordinates",
        {"lat": 39.93, "lon": 116.41},
    ),
}


def _mutating_routes() -> set[tuple[str, str]]:
    from dispatch.app import create_app

    app = create_app()
    found = set()
    for route in app.routes:
        for method in getattr(route, "methods", set()):
            if method in {"POST", "PUT", "PATCH", "DELETE"}:
                found.add((method, route.path_format if False else route.path))
    return found


def test_every_mutating_route_has_a_scope_case() -> None:
    routes = _mutating_routes()
    assert routes - PUBLIC_MUTATIONS == set(SCOPE_CASES), (
        "add a scope case for each new mutating route"
    )


@pytest.fixture(scope="module")
def leader() -> str:
    return create_user(Role.STREET_LEADER, street=HOME)


@pytest.mark.parametrize("route", sorted(SCOPE_CASES), ids=lambda r: f"{r[0]} {r[1]}")
def test_street_leader_cannot_touch_another_street(
    server: str, leader: str, route: tuple[str, str]
) -> None:
    method, _ = route
    path, body = SCOPE_CASES[route]()
    audit_before = sql("SELECT count(*) AS n FROM audit_entry")[0]["n"]
    with client(server, leader) as http:
        response = http.request(method, path, json=body)
    assert response.status_code == 403, response.text
    assert sql("SELECT count(*) AS n FROM audit_entry")[0]["n"] == audit_before
