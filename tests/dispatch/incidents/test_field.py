"""Door checks for care households, and rerouting deliveries when a road closes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from dispatch.accounts.policy import Role
from tests.dispatch.incidents.helpers import community_of, person, planned_request, stock
from tests.support import client, create_user, run, sql, system_context

RESERVE = "D110101000"


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


def _households(community: str, kinds: list[str]) -> None:
    from dispatch.people.schemas import CareHouseholdCreate, CareKind
    from dispatch.people.service import create_care_household

    for kind in kinds:
        body = CareHouseholdCreate(
            code=f"H{uuid.uuid4().hex[:10]}",
            kind=CareKind(kind),
            community=community,
            head_name="测试户主",
        )
        run(create_care_household(system_context(), body))


def test_declaring_with_door_checks_groups_care_households(server: str, commander: str) -> None:
    community = community_of("110101010", 1)
    before = sql("SELECT count(*) AS n FROM care_household WHERE community=$1", community)[0]["n"]
    _households(community, ["elderly_alone"] * 9 + ["low_income"] * 3)
    total = before + 12
    with client(server, commander) as boss:
        incident = boss.post(
            "/api/incidents",
            json={
                "type": "heatwave",
                "level": "III",
                "title": "高温入户",
                "communities": [community],
                "door_checks": True,
            },
        ).json()
        tasks = boss.get("/api/tasks", params={"incident": incident["id"]}).json()
    assert {t["kind"] for t in tasks} == {"door_check"}
    assert sum(len(t["households"]) for t in tasks) == total
    assert all(len(t["households"]) <= 8 for t in tasks)
    assert "elderly_care" in tasks[0]["skills"]  # the elderly living alone come first


def _approved_tent_delivery(boss: Any, community: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """An earthquake incident with one request of 20 tents for ``community``, planned and
    approved: the incident and its one delivery task."""
    incident, _, plan = planned_request(boss, community, "TENT", 20, "earthquake", "II", "震后")
    assert boss.post(f"/api/plans/{plan['id']}/approve", json={}).status_code == 200
    tasks = boss.get("/api/tasks", params={"incident": incident["id"]}).json()
    # Door checks come too where a test before registered care households in the community,
    # and a test before may have left a few tents at a depot nearer than the reserve: the
    # delivery from the reserve is the one these tests stocked for.
    (task,) = [t for t in tasks if t["kind"] == "delivery" and _sent_from(t) == RESERVE]
    return incident, task


def _sent_from(task: dict[str, Any]) -> str:
    return str(sql("SELECT source FROM stock_transfer WHERE id=$1", task["transfer"])[0]["source"])


def test_a_closure_on_a_delivery_route_reroutes_it(server: str, commander: str) -> None:
    community = community_of("110101011")
    stock(RESERVE, "TENT", 200)
    with client(server, commander) as boss:
        incident, task = _approved_tent_delivery(boss, community)
        coords = task["route"]["coordinates"]
        assert len(coords) >= 5
        lon, lat = coords[len(coords) // 2]
        closed = boss.post(
            f"/api/incidents/{incident['id']}/closures",
            json={"near": [lat, lon], "radius_m": 15, "note": "积水"},
        )
        assert closed.status_code == 201, closed.text
        after = boss.get(f"/api/tasks/{task['id']}").json()
    # the synthetic lanes are dense: there is always a way around a 15 m closure mid-route
    assert task["id"] in closed.json()["rerouted_tasks"]
    assert after["route"]["nodes"] != task["route"]["nodes"]
    assert [lon, lat] not in after["route"]["coordinates"]
    assert after["route"]["nodes"][0] == task["route"]["nodes"][0]
    assert after["route"]["nodes"][-1] == task["route"]["nodes"][-1]
    assert after["version"] == task["version"] + 1


def _set_off(boss: Any, task: dict[str, Any], driver: int) -> int:
    """The delivery assigned to `driver`, accepted and on its way; its version then."""
    version = int(task["version"])
    for action, body in (("assign", {"people": [driver]}), ("accept", {}), ("start", {})):
        moved = boss.post(f"/api/tasks/{task['id']}/{action}", json={"version": version, **body})
        assert moved.status_code == 200, moved.text
        version = moved.json()["version"]
    return version


def test_a_vehicle_on_its_way_is_rerouted_from_where_it_is(server: str, commander: str) -> None:
    # The delivery left some minutes ago: a road closed behind it changes nothing, one
    # closed ahead sends it round from the next junction it reaches, and the stretch it
    # has driven stays the start of its route.
    community = community_of("110101012")
    stock(RESERVE, "TENT", 200)
    driver = person("110101012")
    with client(server, commander) as boss:
        incident, task = _approved_tent_delivery(boss, community)
        _set_off(boss, task, driver)
        route = task["route"]
        nodes, coords = route["nodes"], route["coordinates"]
        assert len(nodes) >= 12
        # Half of the trip's time has gone by: the vehicle is half way along.
        sql(
            "UPDATE task SET en_route_at = en_route_at - make_interval(secs => $2) WHERE id=$1",
            task["id"],
            route["time_s"] / 2,
        )
        lon, lat = coords[len(coords) // 5]
        behind = boss.post(
            f"/api/incidents/{incident['id']}/closures",
            json={"near": [lat, lon], "radius_m": 15, "note": "身后积水"},
        )
        assert behind.status_code == 201, behind.text
        assert task["id"] not in behind.json()["rerouted_tasks"]
        assert boss.get(f"/api/tasks/{task['id']}").json()["route"]["nodes"] == nodes
        lon, lat = coords[len(coords) * 5 // 6]
        ahead = boss.post(
            f"/api/incidents/{incident['id']}/closures",
            json={"near": [lat, lon], "radius_m": 15, "note": "前方积水"},
        )
        assert ahead.status_code == 201, ahead.text
        after = boss.get(f"/api/tasks/{task['id']}").json()
    assert task["id"] in ahead.json()["rerouted_tasks"]
    new = after["route"]["nodes"]
    # The driven half is kept, then the way goes round before the closed stretch.
    kept = next(k for k, (a, b) in enumerate(zip(nodes, new, strict=False)) if a != b)
    assert len(nodes) // 3 <= kept <= len(nodes) * 5 // 6
    assert new[-1] == nodes[-1] and [lon, lat] not in after["route"]["coordinates"]
    assert coords[len(coords) // 5] in after["route"]["coordinates"]  # behind: still driven
    assert after["route"]["length_m"] > 0 and after["route"]["time_s"] > 0


def test_a_one_road_closure_names_a_road_and_gives_its_line(server: str, commander: str) -> None:
    community = community_of("110101013")
    road = sql("SELECT u, v FROM road_edge ORDER BY u, v LIMIT 1 OFFSET 700")[0]
    ends = {
        r["id"]: [r["lon"], r["lat"]]
        for r in sql(
            "SELECT id, lat, lon FROM road_node WHERE id = ANY($1::bigint[])",
            [road["u"], road["v"]],
        )
    }
    with client(server, commander) as boss:
        incident = boss.post(
            "/api/incidents",
            json={"type": "rainstorm", "level": "IV", "title": "单路", "communities": [community]},
        ).json()
        closures = f"/api/incidents/{incident['id']}/closures"
        made = boss.post(closures, json={"edge": [road["v"], road["u"]]})  # either way round
        assert made.status_code == 201, made.text
        listed = {c["id"]: c for c in boss.get("/api/closures").json()}
        for bad in ([road["u"], road["u"]], [road["u"], 999_999_999]):
            refused = boss.post(closures, json={"edge": bad})
            assert refused.status_code == 422, refused.text
            assert refused.json()["field"] == "edge"
        boss.post(f"/api/closures/{made.json()['id']}/reopen")
    assert made.json()["line"] == [ends[road["v"]], ends[road["u"]]]
    assert listed[made.json()["id"]]["line"] == made.json()["line"]
    circle = [c for c in listed.values() if c["kind"] == "circle"]
    assert all(c["line"] is None for c in circle)


def test_a_gps_fix_says_where_the_vehicle_is_and_closures_are_judged_from_it(
    server: str, commander: str
) -> None:
    # It set off just now, so by the clock it is at the start; its tablet says it is two
    # thirds of the way. A road closed at one third is behind it: nothing changes. One
    # closed further on sends it round from the junction the fix puts it at.
    from geo.coords import wgs84_to_gcj02

    street = "110101013"
    community = community_of(street, 2)
    stock(RESERVE, "TENT", 200)
    driver = person(street)
    leader = create_user(Role.STREET_LEADER, street=street)
    other = create_user(Role.STREET_LEADER, street="110101014")
    with client(server, commander) as boss:
        incident, task = _approved_tent_delivery(boss, community)
        positions = f"/api/tasks/{task['id']}/positions"
        waiting = boss.post(positions, json={"lat": 39.92, "lon": 116.41})
        assert waiting.status_code == 409 and waiting.json()["field"] == "status"
        version = _set_off(boss, task, driver)
        nodes, coords = task["route"]["nodes"], task["route"]["coordinates"]
        assert len(nodes) >= 12
        seen = len(nodes) * 2 // 3
        lon, lat = coords[seen]
    with client(server, leader) as tablet:
        reported = tablet.post(positions, json={"lat": lat, "lon": lon, "accuracy_m": 8})
        assert reported.status_code == 201, reported.text
        fix = reported.json()
        assert (fix["next_node"], fix["lat"], fix["lon"]) == (seen, lat, lon)
        assert fix["off_route_m"] < 1.0 and fix["accuracy_m"] == 8
        # from a Chinese map app: GCJ-02, stored as WGS-84 (within centimetres)
        g_lat, g_lon = wgs84_to_gcj02(lat, lon)
        gcj = tablet.post(positions, json={"lat": g_lat, "lon": g_lon, "system": "gcj02"})
        assert gcj.status_code == 201, gcj.text
        assert gcj.json()["lat"] == pytest.approx(lat, abs=1e-6)
        assert gcj.json()["lon"] == pytest.approx(lon, abs=1e-6)
        for bad, field in (
            ({"lat": lat + 0.1, "lon": lon}, "lat"),  # 11 km north: not on this route
            ({"lat": lat, "lon": lon, "at": "2099-01-01T00:00:00+08:00"}, "at"),
            ({"lat": lat, "lon": lon, "at": "2020-01-01T00:00:00+08:00"}, "at"),
            ({"lat": 91, "lon": lon}, "lat"),
            ({"lat": lat, "lon": lon, "accuracy_m": -1}, "accuracy_m"),
        ):
            refused = tablet.post(positions, json=bad)
            assert refused.status_code in (400, 422), refused.text
            assert refused.json()["field"] == field, refused.text
        shown = tablet.get(f"/api/tasks/{task['id']}").json()
        # the latest fix, and a fix changes no state: the version stays
        assert shown["position"] == gcj.json() and shown["version"] == version
        track = tablet.get(positions).json()  # fix by fix, in time order
        assert [(f["lat"], f["lon"]) for f in track] == [
            (lat, lon),
            (gcj.json()["lat"], gcj.json()["lon"]),
        ]
    with client(server, other) as stranger:
        assert stranger.post(positions, json={"lat": lat, "lon": lon}).status_code in (403, 404)
        assert stranger.get(positions).status_code == 404
    with client(server, commander) as boss:
        closures = f"/api/incidents/{incident['id']}/closures"
        lon_b, lat_b = coords[len(coords) // 3]
        behind = boss.post(closures, json={"near": [lat_b, lon_b], "radius_m": 15})
        assert behind.status_code == 201, behind.text
        assert task["id"] not in behind.json()["rerouted_tasks"]  # by the clock it would be
        lon_a, lat_a = coords[len(coords) * 5 // 6]
        ahead = boss.post(closures, json={"near": [lat_a, lon_a], "radius_m": 15})
        assert task["id"] in ahead.json()["rerouted_tasks"], ahead.text
        after = boss.get(f"/api/tasks/{task['id']}").json()["route"]
    new = after["nodes"]
    assert new[: seen + 1] == nodes[: seen + 1]  # it turns off no earlier than where it was
    assert new[-1] == nodes[-1] and [lon_a, lat_a] not in after["coordinates"]
