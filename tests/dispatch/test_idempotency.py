"""Idempotency-Key against a real server: resent requests have one effect."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
import uuid

import asyncpg
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


def _held_key_then(
    server: str, commander: str, ending: str, body: dict[str, str], key: str
) -> tuple[httpx.Response, float]:
    """Send a keyed request while another transaction holds the same key uncommitted
    (the first request, still running); that transaction ends by `ending` after 1 s, or
    never (`"hold"`) until the request was answered. The answer, and how long it took."""
    user_id = sql("SELECT id FROM app_user WHERE username=$1", commander)[0]["id"]
    raw = json.dumps(body).encode()
    digest = hashlib.sha256(b"POST /api/users?\n" + raw).hexdigest()
    with client(server, commander) as http:
        token = http.headers["Authorization"]

    async def scene() -> tuple[httpx.Response, float]:
        first = await asyncpg.connect(os.environ["DATABASE_URL"])
        try:
            txn = first.transaction()
            await txn.start()
            await first.execute(
                "INSERT INTO idempotency_record (user_id, key, method, path, request_hash, "
                "response_status, response_headers, response_body, created_at) "
                "VALUES ($1, $2, 'POST', '/api/users', $3, 201, '[]', $4, now())",
                user_id,
                key,
                digest,
                b'{"first": true}',
            )
            headers = {"Authorization": token, "Idempotency-Key": key}
            headers["content-type"] = "application/json"
            async with httpx.AsyncClient(base_url=server, timeout=30) as http:
                started = time.monotonic()
                sent = asyncio.create_task(http.post("/api/users", content=raw, headers=headers))
                await asyncio.sleep(1)
                if ending == "commit":
                    await txn.commit()
                elif ending == "rollback":
                    await txn.rollback()
                response = await sent
                took = time.monotonic() - started
            if ending == "hold":
                await txn.rollback()
            return response, took
        finally:
            await first.close()

    return asyncio.run(scene())


def test_a_duplicate_waits_for_the_first_and_replays_its_answer(
    server: str, commander: str
) -> None:
    key, prefix = uuid.uuid4().hex, f"wai{uuid.uuid4().hex[:6]}_"
    response, took = _held_key_then(server, commander, "commit", _user_body(prefix, 1), key)
    assert response.status_code == 201
    assert response.json() == {"first": True}  # the first request's answer, not a second run
    assert response.headers["idempotent-replayed"] == "true"
    assert took >= 0.9  # it waited on the database for the first to end
    assert _effects(prefix) == (0, 0)


def test_a_duplicate_of_a_first_that_failed_runs_itself(server: str, commander: str) -> None:
    key, prefix = uuid.uuid4().hex, f"rol{uuid.uuid4().hex[:6]}_"
    response, _ = _held_key_then(server, commander, "rollback", _user_body(prefix, 1), key)
    assert response.status_code == 201
    assert "idempotent-replayed" not in response.headers
    assert _effects(prefix) == (1, 1)


def test_a_duplicate_of_a_first_still_running_is_told_to_retry(server: str, commander: str) -> None:
    key, prefix = uuid.uuid4().hex, f"run{uuid.uuid4().hex[:6]}_"
    response, took = _held_key_then(server, commander, "hold", _user_body(prefix, 1), key)
    assert response.status_code == 409
    problem = response.json()
    assert problem["retry"] is True and problem["code"] == "idempotency.in_progress"
    assert int(response.headers["Retry-After"]) >= 1
    assert 4 <= took < 15  # bounded by the database's lock timeout, no lease
    assert _effects(prefix) == (0, 0)
    assert sql("SELECT count(*) AS n FROM idempotency_record WHERE key=$1", key)[0]["n"] == 0


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
