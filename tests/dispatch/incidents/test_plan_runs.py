"""A plan carries its delivery runs: what each depot sends, routed on that depot's crewed
vehicles, within their payload, every kilogram either on a run's stop or unserved with a
reason."""

from __future__ import annotations

import pytest

from dispatch.accounts.policy import Role
from tests.dispatch.incidents.helpers import community_of, incident, person, request, stock
from tests.support import client, create_user, sql

STREET = "110101017"
DEPOT = f"D{STREET}"
WATER_KG = 13.0  # the catalogue's case of water
REASONS = {"no_vehicle", "no_crew", "no_vehicle_fits_lanes", "over_capacity", "after_need_by"}


@pytest.fixture(scope="module")
def commander() -> str:
    return create_user(Role.COMMANDER)


def test_a_plan_routes_its_loads_on_the_sending_depots_vehicles(
    server: str, commander: str
) -> None:
    community = community_of(STREET)
    stock(DEPOT, "WATER", 2000)
    driver = person(STREET, skills=["driving"])
    with client(server, commander) as http:
        van = http.post(
            "/api/fleet/vehicles",
            json={"code": f"VR{driver}", "depot": DEPOT, "kind": "van", "payload_kg": 1000},
        )
        assert van.status_code == 201, van.text
        crewed = http.post(
            f"/api/fleet/vehicles/{van.json()['id']}/crew",
            json={"person_id": driver, "role": "driver"},
        )
        assert crewed.status_code == 200, crewed.text
        made = incident([community])
        request(made, community, "WATER", 100)  # 1,300 kg: more than the van takes at once
        plan = http.post(f"/api/incidents/{made}/plans", json={})
        assert plan.status_code == 201, plan.text
        view = plan.json()
    sent_kg = sum(line["quantity"] for line in view["lines"]) * WATER_KG
    runs = view["runs"]
    assert runs is not None and {r["depot"] for r in runs} == {x["depot"] for x in view["lines"]}
    routed = sum(
        s["kg"] for r in runs for run in r["runs"] for t in run["trips"] for s in t["stops"]
    )
    unserved = sum(u["kg"] for r in runs for u in r["unserved"])
    assert routed + unserved == pytest.approx(sent_kg, abs=0.5)  # every kilogram accounted for
    assert all(u["reason"] in REASONS for r in runs for u in r["unserved"])
    payload = {
        row["code"]: row["payload_kg"]
        for row in sql(
            "SELECT code, payload_kg FROM vehicle WHERE depot = ANY($1)", [r["depot"] for r in runs]
        )
    }
    for entry in runs:
        for run in entry["runs"]:
            assert run["vehicle"] in payload  # the sending depot's own vehicle
            for trip in run["trips"]:
                carried = sum(s["kg"] for s in trip["stops"])
                assert carried <= payload[run["vehicle"]] + 0.5
                assert trip["load_kg"] == pytest.approx(carried, abs=0.5)
                arrivals = [s["arrival_min"] for s in trip["stops"]]
                assert arrivals == sorted(arrivals) and trip["depart_min"] <= arrivals[0]
    ours = next((r for r in runs if r["depot"] == DEPOT), None)
    if ours is not None:  # the street's own depot sent: its van went, twice or split
        trips = [t for run in ours["runs"] for t in run["trips"]]
        assert (trips and len(trips) >= 2) or ours["split"]
