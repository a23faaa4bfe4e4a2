"""Shelters: occupancy never exceeds capacity, decided by the database under concurrent
intake; a refusal names the nearest open shelter with room; street leaders manage their
own street's shelters only."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from dispatch.accounts.policy import Role
from tests.dispatch.people.seed import ensure_district
from tests.dispatch.preparedness.helpers import community_of, shelter
from tests.support import client, create_user, sql

STREET = "110101011"
OTHER_STREET = "110101012"
# far from Dongcheng, so no other test's shelter is nearer than these
BASE = (30.0, 100.0)


def test_twenty_concurrent_intakes_fill_exactly_and_refusals_name_nearest_open(
    server: str, boss: httpx.Client
) -> None:
    community = community_of(STREET)
    lat, lon = BASE
    target = shelter(boss, community, lat, lon, capacity=13, status="open")
    shelter(boss, community, lat + 0.0009, lon, capacity=50, status="ready")  # nearer, not open
    near = shelter(boss, community, lat + 0.0045, lon, capacity=50, status="open")
    shelter(boss, community, lat + 0.03, lon, capacity=50, status="open")  # farther
    token = boss.headers["Authorization"]
    barrier = threading.Barrier(20)

    def arrive(i: int) -> httpx.Response:
        with httpx.Client(base_url=server, headers={"Authorization": token}, timeout=60) as http:
            barrier.wait()
            return http.post(
                f"/api/shelters/{target['id']}/intake", json={"people": 1, "needs": f"户{i}"}
            )

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(arrive, range(20)))
    accepted = [a for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code == 409]
    assert len(accepted) == 13 and len(refused) == 7, [a.status_code for a in answers]
    row = sql("SELECT occupancy, capacity, status FROM shelter WHERE id=$1", target["id"])[0]
    assert row["occupancy"] == row["capacity"] == 13 and row["status"] == "full"
    registered = sql(
        "SELECT id FROM shelter_registration WHERE shelter_id=$1 AND left_at IS NULL ORDER BY id",
        target["id"],
    )
    assert sorted(r["id"] for r in registered) == sorted(
        a.json()["registration"]["id"] for a in accepted
    )
    for answer in refused:
        body = answer.json()
        assert body["code"] == "shelter.full", body
        assert body["params"]["nearest_id"] == near["id"]
        assert body["params"]["nearest"] == near["name"]
        assert 450 <= body["params"]["distance_m"] <= 550


def test_discharge_frees_room_and_reopens_a_full_shelter(boss: httpx.Client) -> None:
    target = shelter(boss, community_of(STREET, 1), *BASE, capacity=3, status="open")
    made = boss.post(f"/api/shelters/{target['id']}/intake", json={"people": 3})
    assert made.status_code == 201, made.text
    assert made.json()["shelter"]["status"] == "full"
    registration = made.json()["registration"]["id"]
    left = boss.post(f"/api/shelters/{target['id']}/registrations/{registration}/leave")
    assert left.status_code == 200, left.text
    assert left.json()["shelter"]["occupancy"] == 0
    assert left.json()["shelter"]["status"] == "open"
    again = boss.post(f"/api/shelters/{target['id']}/registrations/{registration}/leave")
    assert again.status_code == 409 and again.json()["code"] == "shelter.not_present"


def test_intake_refused_when_not_open_and_over_capacity_in_one_request(
    boss: httpx.Client,
) -> None:
    ready = shelter(boss, community_of(STREET, 2), 31.0, 101.0, capacity=5)
    refused = boss.post(f"/api/shelters/{ready['id']}/intake", json={"people": 1})
    assert refused.status_code == 409 and refused.json()["code"] == "shelter.not_open"
    opened = boss.patch(f"/api/shelters/{ready['id']}", json={"status": "open"})
    assert opened.status_code == 200 and opened.json()["status"] == "open"
    too_many = boss.post(f"/api/shelters/{ready['id']}/intake", json={"people": 6})
    assert too_many.status_code == 409
    assert too_many.json()["code"] in {"shelter.full", "shelter.full_none_open"}
    assert sql("SELECT occupancy FROM shelter WHERE id=$1", ready["id"])[0]["occupancy"] == 0


def test_care_household_is_registered_once_and_shown_without_name_or_phone(
    boss: httpx.Client,
) -> None:
    ensure_district()  # the synthetic care households
    households = sql("SELECT id, code FROM care_household ORDER BY id DESC LIMIT 1")
    target = shelter(boss, community_of(STREET, 3), 32.0, 102.0, capacity=20, status="open")
    other = shelter(boss, community_of(STREET, 3), 32.0, 102.01, capacity=20, status="open")
    body = {"people": 2, "household_id": households[0]["id"]}
    first = boss.post(f"/api/shelters/{target['id']}/intake", json=body)
    assert first.status_code == 201, first.text
    assert first.json()["registration"]["household_code"] == households[0]["code"]
    second = boss.post(f"/api/shelters/{other['id']}/intake", json=body)
    assert second.status_code == 409 and second.json()["code"] == "shelter.household_registered"
    listed = boss.get(f"/api/shelters/{target['id']}/registrations").json()
    assert "phone" not in listed[0] and "head_name" not in listed[0]
    boss.post(
        f"/api/shelters/{target['id']}/registrations/{first.json()['registration']['id']}/leave"
    )


def test_street_leaders_manage_their_own_streets_shelters_only(server: str) -> None:
    leader = client(server, create_user(Role.STREET_LEADER, street=STREET))
    own = shelter(leader, community_of(STREET), 33.0, 103.0, capacity=5)
    body = {
        "code": "TX-OTHER-1",
        "name": "他街安置点",
        "community": community_of(OTHER_STREET),
        "lat": 33.0,
        "lon": 103.0,
        "capacity": 5,
    }
    outside = leader.post("/api/shelters", json=body)
    assert outside.status_code == 403 and outside.json()["code"] == "forbidden.scope"
    other_leader = client(server, create_user(Role.STREET_LEADER, street=OTHER_STREET))
    change = other_leader.patch(f"/api/shelters/{own['id']}", json={"status": "open"})
    assert change.status_code == 403 and change.json()["code"] == "forbidden.scope"
    intake = other_leader.post(f"/api/shelters/{own['id']}/intake", json={"people": 1})
    assert intake.status_code == 403
    assert leader.patch(f"/api/shelters/{own['id']}", json={"status": "open"}).status_code == 200
    assert other_leader.get(f"/api/shelters/{own['id']}").status_code == 200  # where is public
