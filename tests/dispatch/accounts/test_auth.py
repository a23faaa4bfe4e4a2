"""Login, tokens and throttling against a real server process."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from dispatch.accounts.policy import Role
from dispatch.accounts.tokens import AUDIENCE, ISSUER
from tests.support import PASSWORD, client, create_user, sql

SECRET = "test-secret-key-not-for-production-0123456789"


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


def _token(**overrides: object) -> str:
    user_id = sql("SELECT min(id) AS id FROM app_user")[0]["id"]
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "typ": "access",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + timedelta(minutes=15),
    }
    claims.update(overrides)
    return jwt.encode(claims, SECRET, algorithm="HS256")


def _me(server: str, token: str) -> int:
    with client(server) as http:
        return http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_login_gives_tokens_that_work(server: str, commander: str) -> None:
    with client(server, commander) as http:
        me = http.get("/api/auth/me")
    assert me.status_code == 200
    assert me.json()["role"] == "commander"


def test_wrong_password_is_401(server: str, commander: str) -> None:
    with client(server) as http:
        response = http.post("/api/auth/login", json={"username": commander, "password": "nope"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "Traceback" not in response.text


def test_unknown_user_is_401_like_a_wrong_password(server: str) -> None:
    with client(server) as http:
        response = http.post("/api/auth/login", json={"username": "ghost", "password": "x"})
    assert response.status_code == 401
    assert response.json()["detail"] == "wrong username or password"


def test_eleventh_failure_per_account_gets_429(server: str) -> None:
    victim = create_user(Role.VIEWER)
    statuses = []
    for _ in range(11):  # each attempt from a different address: the account limit bites
        with client(server) as http:
            bad = {"username": victim, "password": "wrong"}
            statuses.append(http.post("/api/auth/login", json=bad).status_code)
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429
    with client(server) as http:  # even the right password waits out the window
        right = {"username": victim, "password": PASSWORD}
        blocked = http.post("/api/auth/login", json=right)
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0


def test_eleventh_failure_per_address_gets_429(server: str, commander: str) -> None:
    address = f"198.19.{uuid.uuid4().int % 250}.7"
    statuses = []
    with client(server, address=address) as http:
        for i in range(11):  # different accounts, one address: the address limit bites
            bad = {"username": f"nobody{i}", "password": "wrong"}
            statuses.append(http.post("/api/auth/login", json=bad).status_code)
        good = http.post("/api/auth/login", json={"username": commander, "password": PASSWORD})
    assert statuses == [401] * 10 + [429]
    assert good.status_code == 429


def test_expired_token_is_401(server: str, commander: str) -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    assert _me(server, _token(iat=past, exp=past + timedelta(minutes=15))) == 401


def test_tampered_token_is_401(server: str, commander: str) -> None:
    token = _token()
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert _me(server, f"{header}.{payload}.{flipped}") == 401
    assert (
        _me(
            server,
            jwt.encode({"sub": "1"}, "another-secret-of-32-bytes-or-more!!", algorithm="HS256"),
        )
        == 401
    )


def test_alg_none_token_is_401(server: str, commander: str) -> None:
    user_id = sql("SELECT min(id) AS id FROM app_user")[0]["id"]
    now = int(time.time())
    claims = {"sub": str(user_id), "typ": "access", "iss": ISSUER, "aud": AUDIENCE}
    claims |= {"iat": now, "exp": now + 600}
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert _me(server, unsigned) == 401


def test_wrong_issuer_or_audience_is_401(server: str, commander: str) -> None:
    assert _me(server, _token(iss="someone-else")) == 401
    assert _me(server, _token(aud="another-api")) == 401


def test_refresh_token_is_not_an_access_token(server: str, commander: str) -> None:
    with client(server) as http:
        pair = http.post(
            "/api/auth/login", json={"username": commander, "password": PASSWORD}
        ).json()
        assert _me(server, pair["refresh_token"]) == 401
        renewed = http.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert renewed.status_code == 200
        assert _me(server, renewed.json()["access_token"]) == 200
        swapped = http.post("/api/auth/refresh", json={"refresh_token": pair["access_token"]})
        assert swapped.status_code == 401


def test_disabled_user_is_refused_on_the_next_request(server: str, commander: str) -> None:
    victim = create_user(Role.VIEWER)
    with client(server, victim) as user, client(server, commander) as boss:
        assert user.get("/api/streets").status_code == 200
        victim_id = sql("SELECT id FROM app_user WHERE username=$1", victim)[0]["id"]
        assert boss.post(f"/api/users/{victim_id}/disable").status_code == 200
        refused = user.get("/api/streets")
        assert refused.status_code == 401
        assert "disabled" in refused.json()["detail"]
        again = user.post("/api/auth/login", json={"username": victim, "password": PASSWORD})
        assert again.status_code == 401


def test_missing_token_is_401_with_challenge(server: str) -> None:
    with client(server) as http:
        response = http.get("/api/streets")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"username": 5}', b'{"username": "a"}'])
def test_malformed_login_body_is_400_naming_the_problem(server: str, body: bytes) -> None:
    with client(server) as http:
        response = http.post(
            "/api/auth/login", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 400
    assert response.json()["status"] == 400
    assert "Traceback" not in response.text
