"""User management: roles need the right scope, only commanders manage, everything audited."""

from __future__ import annotations

import pytest

from dispatch.accounts.policy import Role
from tests.support import client, create_user, sql, unique

STREET = "110101001"
COMMUNITY = "110101001001"


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


@pytest.mark.parametrize(
    ("role", "street", "community", "field"),
    [
        ("street_leader", None, None, "street"),
        ("community_worker", None, None, "community"),
        ("volunteer", STREET, COMMUNITY, "street"),
        ("commander", STREET, None, "street"),
        ("street_leader", STREET, COMMUNITY, "community"),
        ("street_leader", "110101999", None, "street"),
        ("community_worker", None, "110101001999", "community"),
    ],
)
def test_role_needs_its_own_kind_of_scope(
    server: str, commander: str, role: str, street: str | None, community: str | None, field: str
) -> None:
    body = {"username": unique("u"), "password": "long-enough-pw", "role": role}
    body |= {"street": street, "community": community}
    with client(server, commander) as http:
        response = http.post("/api/users", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


def test_create_list_and_duplicate(server: str, commander: str) -> None:
    name = unique("leader")
    body = {"username": name, "password": "long-enough-pw", "role": "street_leader"}
    body["street"] = STREET
    with client(server, commander) as http:
        created = http.post("/api/users", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["street"] == STREET
        assert "password" not in created.text
        duplicate = http.post("/api/users", json=body)
        assert duplicate.status_code == 409
        assert duplicate.json()["field"] == "username"
        listed = http.get("/api/users").json()
    assert name in {u["username"] for u in listed}
    stored = sql("SELECT password_hash FROM app_user WHERE username=$1", name)[0]
    assert stored["password_hash"].startswith("$argon2id$")


def test_short_password_names_the_field(server: str, commander: str) -> None:
    body = {"username": unique("u"), "password": "short", "role": "viewer"}
    with client(server, commander) as http:
        response = http.post("/api/users", json=body)
    assert response.status_code == 400
    assert response.json()["field"] == "password"


@pytest.mark.parametrize("role", ["street_leader", "community_worker", "viewer", "trainer"])
def test_only_commanders_manage_users(server: str, role: str) -> None:
    scope = {"street": STREET} if role == "street_leader" else {}
    scope = {"community": COMMUNITY} if role == "community_worker" else scope
    actor = create_user(Role(role), **scope)
    body = {"username": unique("u"), "password": "long-enough-pw", "role": "viewer"}
    with client(server, actor) as http:
        assert http.post("/api/users", json=body).status_code == 403
        assert http.get("/api/users").status_code == 403
        assert http.post("/api/users/1/disable").status_code == 403


def test_disable_unknown_user_is_404(server: str, commander: str) -> None:
    with client(server, commander) as http:
        response = http.post("/api/users/999999/disable")
    assert response.status_code == 404
