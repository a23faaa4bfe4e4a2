"""Idempotency-Key against a real server: resent requests have one effect."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from dispatch.accounts.policy import Role
from tests.support import PASSWORD, client, create_user, sql

N = 100


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


def _user_body(prefix: str, i: int) -> dict[str, str]:
    return {"username": f"{prefix}{i:03d}", "password": "long-enough-pw", "role": "viewer"}


def _effects(prefix: str) -> tuple[int, int]:
    users = sql("SELECT count(*) AS n FROM app_user WHERE username LIKE $1", prefix + "%")
    audits = sql(
        "SELECT count(*) AS n FROM audit_entry WHERE action='users.create' "
        "AND after->>'username' LIKE $1",
        prefix + "%",
    )
    return int(users[0]["n"]), int(audits[0]["n"])


def test_sequential_retries_have_one_effect(server: str, commander: str) -> None:
    prefix = f"seq{uuid.uuid4().hex[:6]}_"
    with client(server, commander) as http:
        for i in range(N):
            key = {"Idempotency-Key": f"{prefix}{i}"}
            answers = [
                http.post("/api/users", json=_user_body(prefix, i), headers=key) for _ in range(3)
            ]
            assert [a.status_code for a in answers] == [201, 201, 201]
            assert answers[0].json() == answers[1].json() == answers[2].json()
            assert "idempotent-replayed" not in answers[0].headers
            assert answers[2].headers["idempotent-replayed"] == "true"
    assert _effects(prefix) == (N, N)


def test_concurrent_retries_have_one_effect(server: str, commander: str) -> None:
    prefix = f"con{uuid.uuid4().hex[:6]}_"
    with client(server, commander) as http:
        token = http.headers["Authorization"]

    async def burst() -> list[list[int]]:
        limits = httpx.Limits(max_connections=60)
        async with httpx.AsyncClient(base_url=server, limits=limits, timeout=60) as http:

            async def send(i: int) -> int:
                headers = {"Authorization": token, "Idempotency-Key": f"{prefix}{i}"}
                response = await http.post(
                    "/api/users", json=_user_body(prefix, i), headers=headers
                )
                return response.status_code

            async def three(i: int) -> list[int]:
                return list(await asyncio.gather(send(i), send(i), send(i)))

            return list(await asyncio.gather(*(three(i) for i in range(N))))

    results = asyncio.run(burst())
    for statuses in results:
        assert set(statuses) <= {201, 409}, statuses  # 409: the first is still running
        assert 201 in statuses
    assert _effects(prefix) == (N, N)
    # once the first has finished, every retry gets the stored answer
    with client(server, commander) as http:
        for i in range(N):
            again = http.post(
                "/api/users",
                json=_user_body(prefix, i),
                headers={"Idempotency-Key": f"{prefix}{i}"},
            )
            assert again.status_code == 201
    assert _effects(prefix) == (N, N)


def test_same_key_different_body_is_422(server: str, commander: str) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    prefix = f"chg{uuid.uuid4().hex[:6]}_"
    with client(server, commander) as http:
        assert http.post("/api/users", json=_user_body(prefix, 1), headers=key).status_code == 201
        changed = http.post("/api/users", json=_user_body(prefix, 2), headers=key)
    assert changed.status_code == 422
    assert changed.json()["field"] == "Idempotency-Key"
    assert _effects(prefix) == (1, 1)


def test_retry_while_first_runs_is_409(server: str, commander: str) -> None:
    key = uuid.uuid4().hex
    user_id = sql("SELECT id FROM app_user WHERE username=$1", commander)[0]["id"]
    body = _user_body("run", 1)
    import hashlib
    import json

    raw = json.dumps(body).encode()
    digest = hashlib.sha256(b"POST /api/users?\n" + raw).hexdigest()
    sql(
        "INSERT INTO idempotency_record (user_id, key, method, path, request_hash, state, "
        "created_at, lease_until) VALUES ($1, $2, 'POST', '/api/users', $3, 'running', now(), "
        "now() + interval '5 minutes')",
        user_id,
        key,
        digest,
    )
    with client(server, commander) as http:
        response = http.post(
            "/api/users",
            content=raw,
            headers={"Idempotency-Key": key, "content-type": "application/json"},
        )
    assert response.status_code == 409
    assert "still being processed" in response.json()["detail"]


def test_keys_belong_to_their_user(server: str, commander: str) -> None:
    other = create_user(Role.COMMANDER)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    prefix = f"own{uuid.uuid4().hex[:6]}_"
    with client(server, commander) as one, client(server, other) as two:
        assert one.post("/api/users", json=_user_body(prefix, 1), headers=key).status_code == 201
        assert two.post("/api/users", json=_user_body(prefix, 2), headers=key).status_code == 201
    assert _effects(prefix) == (2, 2)


def test_refused_request_is_replayed_not_rerun(server: str, commander: str) -> None:
    viewer = create_user(Role.VIEWER)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    with client(server, viewer) as http:
        first = http.post("/api/users", json=_user_body("x", 1), headers=key)
        second = http.post("/api/users", json=_user_body("x", 1), headers=key)
    assert first.status_code == second.status_code == 403
    assert second.headers["idempotent-replayed"] == "true"


def test_bad_key_is_400(server: str, commander: str) -> None:
    with client(server, commander) as http:
        response = http.post(
            "/api/users", json=_user_body("y", 1), headers={"Idempotency-Key": "x" * 201}
        )
    assert response.status_code == 400


def test_login_password_not_needed_for_replay(server: str, commander: str) -> None:
    """A replay needs a valid token like any request: keys do not bypass authentication."""
    key = {"Idempotency-Key": uuid.uuid4().hex}
    with client(server, commander) as http:
        assert http.post("/api/users", json=_user_body("z", 1), headers=key).status_code == 201
    with httpx.Client(base_url=server) as anonymous:
        replay = anonymous.post("/api/users", json=_user_body("z", 1), headers=key)
    assert replay.status_code == 401
    assert PASSWORD not in replay.text
