"""The district's geography: counts, approximate points, corrections, idempotent loading."""

from __future__ import annotations

import pytest

from dispatch.accounts.policy import Role
from dispatch.places.service import load_reference
from dispatch.settings import get_settings
from geo.coords import wgs84_to_gcj02
from tests.support import client, create_user, run, sql, system_context

APPROX = "110101001005"


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


def test_dongcheng_counts(server: str, commander: str) -> None:
    with client(server, commander) as http:
        assert len(http.get("/api/districts").json()) == 1
        streets = http.get("/api/streets").json()
        communities = http.get("/api/communities").json()
        depots = http.get("/api/depots").json()
    assert len(streets) == 17
    assert len(communities) == 169
    assert len(depots) == 18
    assert sum(s["communities"] for s in streets) == 169
    assert all(c["district"] == "110101" for c in communities)
    assert {d["kind"] for d in depots} == {"district_reserve", "street_reserve"}


def test_approximate_points_are_flagged(server: str, commander: str) -> None:
    with client(server, commander) as http:
        approximate = http.get("/api/communities", params={"approximate": "true"}).json()
        one_street = http.get("/api/communities", params={"street": "110101001"}).json()
    assert (
        len(approximate)
        + sql("SELECT count(*) AS n FROM community WHERE coord_source IN ('corrected')")[0]["n"]
        >= 69
    )
    assert all(c["coord_source"] == "approximate_ring_around_street" for c in approximate)
    assert len(one_street) == 10


def test_unknown_place_is_404(server: str, commander: str) -> None:
    with client(server, commander) as http:
        assert http.get("/api/communities/110101999999").status_code == 404
        assert http.get("/api/depots/NOPE").status_code == 404


def test_second_load_changes_nothing() -> None:
    report = run(load_reference(system_context(), get_settings().reference_dir))
    assert report.changes == 0
    assert report.unchanged == {
        "district": 1,
        "street": 17,
        "community": 169,
        "depot": 18,
        "road_network": 1,
    }


def test_commander_corrects_a_point_from_gcj02_and_it_is_audited(
    server: str, commander: str
) -> None:
    row = sql(
        "SELECT c.code, s.lat, s.lon FROM community c JOIN street s ON s.code = c.street "
        "WHERE c.approximate ORDER BY c.code DESC LIMIT 1"
    )[0]
    code = row["code"]
    true_lat, true_lon = row["lat"] + 0.003, row["lon"] - 0.002
    lat_gcj, lon_gcj = wgs84_to_gcj02(true_lat, true_lon)
    audit_before = sql("SELECT count(*) AS n FROM audit_entry")[0]["n"]
    with client(server, commander) as http:
        fixed = http.put(
            f"/api/communities/{code}/coordinates",
            json={"lat": lat_gcj, "lon": lon_gcj, "system": "gcj02", "note": "surveyed"},
        )
    assert fixed.status_code == 200, fixed.text
    body = fixed.json()
    assert body["approximate"] is False
    assert body["coord_source"] == "corrected"
    assert abs(body["lat"] - true_lat) < 1e-5 and abs(body["lon"] - true_lon) < 1e-5
    rows = sql(
        "SELECT * FROM audit_entry WHERE id > (SELECT max(id) - 5 FROM audit_entry) "
        "AND entity_id=$1",
        code,
    )
    assert [r["action"] for r in rows] == ["places.correct_coordinates"]
    assert sql("SELECT count(*) AS n FROM audit_entry")[0]["n"] == audit_before + 1
    # a later load of the reference files keeps the surveyed point
    run(load_reference(system_context(), get_settings().reference_dir))
    kept = sql("SELECT lat, coord_source FROM community WHERE code=$1", code)[0]
    assert kept["coord_source"] == "corrected"
    assert abs(kept["lat"] - true_lat) < 1e-5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lat": 95, "lon": 116.4}, "lat"),
        ({"lat": 39.9, "lon": "east"}, "lon"),
        ({"lat": 39.9}, "lon"),
        ({"lat": 39.9, "lon": 116.4, "system": "bd09x"}, "system"),
        ({"lat": 39.9, "lon": 116.4, "extra": 1}, "extra"),
    ],
)
def test_bad_correction_names_the_field(
    server: str, commander: str, body: dict[str, object], field: str
) -> None:
    with client(server, commander) as http:
        response = http.put(f"/api/communities/{APPROX}/coordinates", json=body)
    assert response.status_code == 400, response.text
    assert field in (response.json().get("field") or response.json()["detail"])


@pytest.mark.parametrize(("lat", "lon"), [(48.85, 2.35), (31.23, 121.47), (40.0, 116.41)])
def test_point_far_from_its_street_is_refused(
    server: str, commander: str, lat: float, lon: float
) -> None:
    with client(server, commander) as http:
        response = http.put(f"/api/communities/{APPROX}/coordinates", json={"lat": lat, "lon": lon})
    assert response.status_code == 422
    assert response.json()["field"] == "lat"
    assert "km from" in response.json()["detail"]
