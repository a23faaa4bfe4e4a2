"""Health, metrics, OpenAPI, and errors that are clear and never leak internals."""

from __future__ import annotations

import pytest

from dispatch.accounts.policy import Role
from tests.support import client, create_user


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


def test_health_checks_the_database(server: str) -> None:
    with client(server) as http:
        response = http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "live_feed": "ok"}


def test_metrics_are_prometheus_text(server: str, commander: str) -> None:
    with client(server, commander) as http:
        http.get("/api/streets")
        metrics = http.get("/metrics")
    assert metrics.status_code == 200
    assert "dispatch_requests_total" in metrics.text


def test_openapi_lists_the_api(server: str) -> None:
    with client(server) as http:
        schema = http.get("/schema/openapi.json").json()
    assert "/api/communities" in schema["paths"]
    assert "BearerToken" in schema["components"]["securitySchemes"]


def test_unknown_path_is_a_problem_404(server: str, commander: str) -> None:
    with client(server, commander) as http:
        response = http.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_wrong_method_is_405(server: str, commander: str) -> None:
    with client(server, commander) as http:
        response = http.delete("/api/streets")
    assert response.status_code == 405


@pytest.mark.parametrize(
    "body",
    [b"not json", b"\xff\xfe", b'{"lat": 1e999, "lon": 116}', b"null", b'{"lat": NaN}'],
)
def test_garbage_bodies_are_4xx_without_traceback(server: str, commander: str, body: bytes) -> None:
    with client(server, commander) as http:
        response = http.put(
            "/api/communities/110101001001/coordinates",
            content=body,
            headers={"content-type": "application/json"},
        )
    assert 400 <= response.status_code < 500, response.text
    assert "Traceback" not in response.text and 'File "' not in response.text


def test_bad_query_parameter_names_it(server: str, commander: str) -> None:
    with client(server, commander) as http:
        response = http.get("/api/audit", params={"limit": "many"})
    assert response.status_code == 400
    assert response.json()["field"] == "limit"


def test_nul_character_is_a_400_and_changes_nothing(server: str, commander: str) -> None:
    from tests.support import sql

    before = sql("SELECT lat, coord_source FROM community WHERE code='110101001002'")[0]
    with client(server, commander) as http:
        response = http.put(
            "/api/communities/110101001002/coordinates",
            json={"lat": 39.9181, "lon": 116.3999, "note": "积水\u0000"},
        )
    assert response.status_code == 400, response.text
    assert "NUL" in response.json()["detail"]
    assert sql("SELECT lat, coord_source FROM community WHERE code='110101001002'")[0] == before
