"""A shelter's needs become supply requests the planner serves like a community's: needs
follow occupancy by the norms, asking twice asks for nothing more, a request for a shelter
that holds nobody (ready, closed) is refused naming `shelter`, another street's leader is
refused, and a plan stops at the shelter apart from the community's committee."""

from __future__ import annotations

import math
from typing import Any

import httpx

from dispatch.accounts.policy import Role
from dispatch.incidents.run_reroute import STOPS as REROUTE_STOPS
from dispatch.preparedness.shelter_needs import NORMS, norm_quantity
from tests.dispatch.incidents.helpers import crewed_van, incident, retire_van
from tests.dispatch.preparedness.helpers import community_of, shelter
from tests.dispatch.stock.helpers import new_item, receive
from tests.support import client, create_user, sql, unique

STREET = "110101014"  # 龙潭街道
OTHER_STREET = "110101013"
DEPOT = f"D{STREET}"


def _committee(community: str) -> tuple[float, float]:
    row = sql("SELECT lat, lon FROM community WHERE code=$1", community)[0]
    return float(row["lat"]), float(row["lon"])


def _open_shelter(http: httpx.Client, community: str, people: int) -> dict[str, Any]:
    """An open shelter ~700 m from the committee with `people` registered in it."""
    lat, lon = _committee(community)
    made = shelter(http, community, lat + 0.005, lon + 0.005, capacity=200, status="open")
    while people > 0:
        n = min(people, 100)
        took = http.post(f"/api/shelters/{made['id']}/intake", json={"people": n})
        assert took.status_code == 201, took.text
        people -= n
    return made


def _needs(http: httpx.Client, shelter_id: int) -> dict[str, dict[str, Any]]:
    answer = http.get(f"/api/shelters/{shelter_id}/needs")
    assert answer.status_code == 200, answer.text
    return {n["item"]: n for n in answer.json()["needs"]}


def test_needs_follow_occupancy_by_the_norms_and_heating(boss: httpx.Client) -> None:
    community = community_of(STREET)
    place = _open_shelter(boss, community, 10)
    needs = _needs(boss, place["id"])
    # no heating: a day's water and food per four, two quilts and a folding bed each
    assert {k: v["quantity"] for k, v in needs.items()} == {
        "WATER": 3,
        "FOOD": 3,
        "QUILT": 20,
        "COT": 10,
    }
    assert all(n["requested"] == 0 and n["to_request"] == n["quantity"] for n in needs.values())
    assert needs["WATER"]["item_name"] == "饮用水(箱)"
    assert needs["WATER"]["item_name_en"].startswith("drinking water")
    heated = boss.patch(f"/api/shelters/{place['id']}", json={"heating": True})
    assert heated.status_code == 200, heated.text
    needs = _needs(boss, place["id"])
    assert {k: v["quantity"] for k, v in needs.items()} == {"WATER": 3, "FOOD": 3, "QUILT": 10}
    for people in (1, 4, 5, 99):
        for norm in NORMS:
            want = math.ceil(people * norm.unheated / norm.people)
            assert norm_quantity(norm, people, heating=False) == want


def test_asking_twice_asks_for_nothing_more(boss: httpx.Client) -> None:
    community = community_of(STREET, 1)
    place = _open_shelter(boss, community, 10)
    made = incident([community])
    url = f"/api/shelters/{place['id']}/requests"
    key = {"Idempotency-Key": unique("needs")}
    first = boss.post(url, json={"incident": made, "priority": "high"}, headers=key)
    assert first.status_code == 201, first.text
    asked = {r["item"]: r for r in first.json()["requests"]}
    assert {k: r["quantity"] for k, r in asked.items()} == {
        "WATER": 3,
        "FOOD": 3,
        "QUILT": 20,
        "COT": 10,
    }
    for r in asked.values():
        assert r["shelter"] == {"id": place["id"], "name": place["name"]}
        assert r["community"] == community and r["priority"] == "high" and r["status"] == "open"
    replay = boss.post(url, json={"incident": made, "priority": "high"}, headers=key)
    assert replay.status_code == 201 and replay.json() == first.json()  # a keyed retry
    again = boss.post(url, json={"incident": made})
    assert again.status_code == 201, again.text
    assert again.json()["requests"] == []
    rows = sql("SELECT count(*)::int AS n FROM supply_request WHERE shelter_id=$1", place["id"])
    assert rows[0]["n"] == 4
    needs = _needs(boss, place["id"])
    assert all(n["to_request"] == 0 and n["requested"] == n["quantity"] for n in needs.values())
    # the request reads with its shelter, alone and in the incident's list
    one = boss.get(f"/api/requests/{asked['WATER']['id']}").json()
    assert one["shelter"] == {"id": place["id"], "name": place["name"]}
    listed = boss.get(f"/api/incidents/{made}/requests").json()
    assert {r["shelter"]["id"] for r in listed} == {place["id"]}
    # four more people: only what they add is asked
    assert boss.post(url.replace("/requests", "/intake"), json={"people": 4}).status_code == 201
    more = boss.post(url, json={"incident": made})
    assert more.status_code == 201, more.text
    assert {r["item"]: r["quantity"] for r in more.json()["requests"]} == {
        "WATER": 1,
        "FOOD": 1,
        "QUILT": 8,
        "COT": 4,
    }


def test_a_shelter_that_holds_nobody_is_refused_naming_shelter(boss: httpx.Client) -> None:
    community = community_of(STREET, 2)
    lat, lon = _committee(community)
    ready = shelter(boss, community, lat, lon, status="ready")
    made = incident([community])
    body = {"community": community, "item": "WATER", "quantity": 2, "shelter": ready["id"]}
    refused = boss.post(f"/api/incidents/{made}/requests", json=body)
    assert refused.status_code == 409, refused.text
    assert refused.json()["field"] == "shelter"
    assert refused.json()["code"] == "request.shelter_not_open"
    closed = shelter(boss, community, lat, lon, status="open")
    assert boss.patch(f"/api/shelters/{closed['id']}", json={"status": "closed"}).status_code == 200
    by_needs = boss.post(f"/api/shelters/{closed['id']}/requests", json={"incident": made})
    assert by_needs.status_code == 409, by_needs.text
    assert by_needs.json()["field"] == "shelter"
    assert by_needs.json()["params"]["shelter"] == closed["name"]
    elsewhere = {**body, "community": community_of(STREET, 3)}
    elsewhere["shelter"] = _open_shelter(boss, community, 1)["id"]
    wrong = boss.post(f"/api/incidents/{made}/requests", json=elsewhere)
    assert wrong.status_code == 422 and wrong.json()["field"] == "shelter", wrong.text
    assert wrong.json()["code"] == "request.shelter_elsewhere"
    unknown = boss.post(f"/api/incidents/{made}/requests", json={**body, "shelter": 2**31 - 1})
    assert unknown.status_code == 422 and unknown.json()["field"] == "shelter", unknown.text
    assert sql("SELECT count(*)::int AS n FROM supply_request WHERE incident=$1", made)[0]["n"] == 0


def test_a_street_leader_of_another_street_is_refused(server: str, boss: httpx.Client) -> None:
    community = community_of(STREET, 4)
    place = _open_shelter(boss, community, 3)
    made = incident([community])
    with client(server, create_user(Role.STREET_LEADER, street=OTHER_STREET)) as other:
        asked = other.post(f"/api/shelters/{place['id']}/requests", json={"incident": made})
        assert asked.status_code == 403, asked.text
        body = {"community": community, "item": "WATER", "quantity": 1, "shelter": place["id"]}
        direct = other.post(f"/api/incidents/{made}/requests", json=body)
        assert direct.status_code == 403, direct.text
        assert other.get(f"/api/shelters/{place['id']}/needs").status_code == 403
    with client(server, create_user(Role.STREET_LEADER, street=STREET)) as own:
        mine = own.post(f"/api/shelters/{place['id']}/requests", json={"incident": made})
        assert mine.status_code == 201, mine.text
    # one request per item the norms ask for (water, food, quilts, beds): the leader's own
    assert sql("SELECT count(*)::int AS n FROM supply_request WHERE incident=$1", made)[0]["n"] == 4


def _end_coordinates(line: dict[str, Any]) -> tuple[float, float]:
    lon, lat = line["route"]["coordinates"][-1]
    return float(lat), float(lon)


def _far(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot(a[0] - b[0], (a[1] - b[1]) * math.cos(math.radians(a[0])))


def test_a_plan_stops_at_the_shelter_apart_from_the_committee(boss: httpx.Client) -> None:
    community = community_of(STREET, 5)
    committee = _committee(community)
    place = _open_shelter(boss, community, 2)
    at_shelter = (place["lat"], place["lon"])
    item = new_item(shelf_life_days=None)
    receive(DEPOT, item, "L1", 100)
    van = crewed_van(boss, STREET)
    try:
        made = incident([community])
        url = f"/api/incidents/{made}/requests"
        for body in (
            {"community": community, "item": item, "quantity": 10},
            {"community": community, "item": item, "quantity": 5, "shelter": place["id"]},
        ):
            assert boss.post(url, json=body).status_code == 201
        plan = boss.post(f"/api/incidents/{made}/plans", json={})
        assert plan.status_code == 201, plan.text
        view = plan.json()
        lines = {(x["shelter"] or {}).get("id"): x for x in view["lines"]}
        assert set(lines) == {None, place["id"]} and all(
            x["depot"] == DEPOT for x in lines.values()
        )
        assert lines[place["id"]]["shelter"]["name"] == place["name"]
        assert lines[place["id"]]["community"] == lines[None]["community"] == community
        # the shelter's line ends at the shelter's node, the committee's at the committee's
        shelter_end, committee_end = (
            _end_coordinates(lines[place["id"]]),
            _end_coordinates(lines[None]),
        )
        assert lines[place["id"]]["route"]["nodes"][-1] != lines[None]["route"]["nodes"][-1]
        assert _far(shelter_end, at_shelter) < _far(shelter_end, committee)
        assert _far(committee_end, committee) < _far(committee_end, at_shelter)
        (ours,) = [r for r in view["runs"] if r["depot"] == DEPOT]
        stops = [s for run in ours["runs"] for t in run["trips"] for s in t["stops"]]
        assert not ours["unserved"], ours
        assert sorted(s.get("shelter") or 0 for s in stops) == [0, place["id"]]
        assert all(s["community"] == community for s in stops)
        (stop,) = [s for s in stops if s.get("shelter")]
        assert stop["shelter_name"] == place["name"]
        # approved: the run task's stops name the shelter where its goods are unloaded
        approved = boss.post(f"/api/plans/{view['id']}/approve", json={})
        assert approved.status_code == 200, approved.text
        tasks = boss.get("/api/tasks", params={"incident": made}).json()
        (task,) = [t for t in tasks if t["vehicle"] is not None]
        named = sorted((s["shelter"] or {}).get("id", 0) for s in task["stops"])
        assert named == [0, place["id"]]
        for s in task["stops"]:
            want = 5 if s["shelter"] else 10
            assert sum(line["quantity"] for line in s["lines"]) == want
        # a reroute round a closure routes the shelter's stop to the shelter
        where = {r["id"]: (r["lat"], r["lon"]) for r in sql(REROUTE_STOPS, task["id"])}
        for s in task["stops"]:
            assert where[s["id"]] == (at_shelter if s["shelter"] else committee)
    finally:
        retire_van(boss, van)
