"""Login, tokens and throttling against a real server process."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from argon2 import PasswordHasher

from dispatch.accounts import service
from dispatch.accounts.policy import Role
from dispatch.accounts.tokens import AUDIENCE, ISSUER
from dispatch.settings import get_settings
from tests.support import LOGS, PASSWORD, client, create_user, sql, token_leaks

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


def _login(server: str, username: str) -> dict[str, str]:
    with client(server) as http:
        response = http.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    response.raise_for_status()
    return dict(response.json())


def _refresh(server: str, token: str) -> httpx.Response:
    with client(server) as http:
        return http.post("/api/auth/refresh", json={"refresh_token": token})


def test_a_refresh_token_is_spent_on_use_and_its_successor_works(
    server: str, commander: str
) -> None:
    first = _login(server, commander)["refresh_token"]
    second = _refresh(server, first)
    assert second.status_code == 200, second.text
    third = _refresh(server, second.json()["refresh_token"])
    assert third.status_code == 200, third.text
    assert _me(server, third.json()["access_token"]) == 200
    assert len({first, second.json()["refresh_token"], third.json()["refresh_token"]}) == 3


def test_a_reused_refresh_token_revokes_its_whole_family(server: str, commander: str) -> None:
    """A stolen refresh token used after its owner (or the owner after the thief): the
    second use is refused and every token descending from that login is revoked; another
    login of the same user is not touched."""
    stolen = _login(server, commander)["refresh_token"]
    elsewhere = _login(server, commander)["refresh_token"]  # another device's login
    owner = _refresh(server, stolen).json()["refresh_token"]
    replayed = _refresh(server, stolen)
    assert replayed.status_code == 401
    assert replayed.json()["code"] == "refresh_reused"
    assert _refresh(server, owner).status_code == 401  # the family is revoked
    assert _refresh(server, elsewhere).status_code == 200
    family = jwt.decode(stolen, SECRET, algorithms=["HS256"], audience=AUDIENCE)["fam"]
    rows = sql("SELECT revoked_at FROM refresh_token WHERE family=$1", family)
    assert len(rows) == 2 and all(r["revoked_at"] is not None for r in rows)


def test_a_refresh_token_without_a_family_is_refused(server: str, commander: str) -> None:
    """Issued before rotation (or forged without a record): never renewed."""
    old = _token(typ="refresh", jti=uuid.uuid4().hex)
    assert _refresh(server, old).status_code == 401
    unrecorded = _token(typ="refresh", jti=uuid.uuid4().hex, fam=uuid.uuid4().hex)
    assert _refresh(server, unrecorded).status_code == 401


def _server_log(base_url: str) -> Path:
    return LOGS / f"server-{base_url.rsplit(':', 1)[1]}.log"


def test_the_access_log_never_holds_a_token(server: str, commander: str) -> None:
    """The live feed takes its token in the query (an EventSource sends no headers): the
    access log line shows the request with the token redacted."""
    token = _login(server, commander)["access_token"]
    marker = uuid.uuid4().hex
    with (
        httpx.Client(base_url=server, timeout=10) as http,
        http.stream("GET", "/api/live", params={"access_token": token, "after": marker}) as live,
    ):
        assert live.status_code == 200
    with client(server) as http:
        http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    deadline = time.monotonic() + 5
    lines: list[str] = []
    while time.monotonic() < deadline and not lines:
        text = _server_log(server).read_text(errors="replace")
        lines = [line for line in text.splitlines() if marker in line]
        time.sleep(0.1)
    assert lines, "the access log should show the live request"
    assert "access_token=[redacted]" in lines[0]
    assert token not in _server_log(server).read_text(errors="replace")
    assert token_leaks() == []


def test_the_redaction_filter_cleans_any_record() -> None:
    import logging

    from dispatch.logs import RedactTokens

    token = _token()
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "x",
        1,
        '%s - "%s %s" %d',
        ("1.2.3.4", "GET", f"/api/live?access_token={token}&x=1", 200),
        None,
    )
    header = logging.LogRecord(
        "dispatch",
        logging.WARNING,
        "x",
        1,
        f"headers: {{'authorization': 'Bearer {token}'}}",
        None,
        None,
    )
    for item in (record, header):
        assert RedactTokens().filter(item)
        assert token not in item.getMessage() and "eyJ" not in item.getMessage()
    assert "access_token=[redacted]&x=1" in record.getMessage()
    search = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "x",
        1,
        '%s - "%s %s" %d',
        ("1.2.3.4", "GET", "/api/people?q=10012345678&order_id=202612031234567", 200),
        None,
    )
    assert RedactTokens().filter(search)  # a search by phone is logged with the phone masked
    assert "q=100****5678&order_id=202612031234567" in search.getMessage()


def test_passwords_are_hashed_with_the_recommended_parameters_unless_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Real accounts get argon2id at RFC 9106's parameters; the suite's cheap profile is an
    explicit setting, and a hash is checked with the parameters it was made with."""

    def made_with(value: str | None) -> PasswordHasher:
        if value is None:
            monkeypatch.delenv("DISPATCH_PASSWORD_HASH", raising=False)
        else:
            monkeypatch.setenv("DISPATCH_PASSWORD_HASH", value)
        get_settings.cache_clear()
        service.hasher.cache_clear()
        return service.hasher()

    try:
        real = made_with(None)
        assert (real.time_cost, real.memory_cost, real.parallelism) == (3, 65536, 4)
        cheap = made_with("cheapest")
        assert cheap.time_cost == 1 and cheap.memory_cost == 8
        assert real.verify(cheap.hash("a password"), "a password")
        with pytest.raises(ValueError, match="DISPATCH_PASSWORD_HASH"):
            made_with("md5")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        service.hasher.cache_clear()
