"""An evacuation task names its shelter: the one the commander chose (open, with room,
else refused naming `shelter` and the nearest open one), or the nearest open one with room
to the community; a plan's activation names the plan's first shelter with room."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dispatch.incidents.schemas import IncidentType, Level, TaskKind
from dispatch.preparedness.schemas import (
    HazardSpec,
    Holder,
    HolderKind,
    PlanCreate,
    RoleSpec,
    TaskTemplate,
)
from dispatch.preparedness.service import approve_plan, create_plan
from geo.coords import distance_m
from tests.dispatch.incidents.helpers import incident
from tests.dispatch.preparedness.helpers import community_of, plans_made_here, shelter
from tests.support import run, sql, system_context

STREET = "110101003"


@pytest.fixture(scope="module", autouse=True)
def _plans_superseded_after() -> Iterator[None]:
    yield from plans_made_here()


@pytest.fixture(scope="module")
def emergency() -> tuple[int, str]:
    """An incident in one community of the street (no plan there answers it)."""
    community = community_of(STREET, 5)
    return incident([community], level="IV", kind="heatwave"), community


def _committee(community: str) -> tuple[float, float]:
    row = sql("SELECT lat, lon FROM community WHERE code=$1", community)[0]
    return row["lat"], row["lon"]


def _evacuation(http: httpx.Client, incident_id: int, community: str, **extra: Any) -> Any:
    body = {"kind": "evacuation", "community": community, "people": 3, **extra}
    return http.post(f"/api/incidents/{incident_id}/tasks", json=body)


def _tasks(incident_id: int) -> int:
    """The incident's tasks (other tests' servers and plays write tasks of their own)."""
    return int(sql("SELECT count(*) AS n FROM task WHERE incident=$1", incident_id)[0]["n"])


def test_an_evacuation_names_the_shelter_chosen(
    boss: httpx.Client, emergency: tuple[int, str]
) -> None:
    incident_id, community = emergency
    lat, lon = _committee(community)
    place = shelter(boss, community, lat + 0.01, lon, capacity=40, status="open")
    made = _evacuation(boss, incident_id, community, shelter=place["id"])
    assert made.status_code == 201, made.text
    named = made.json()["shelter"]
    assert named["id"] == place["id"] and named["name"] == place["name"]
    assert named["room"] == 40 and named["status"] == "open"
    row = sql("SELECT shelter_id FROM task WHERE id=$1", made.json()["id"])[0]
    assert row["shelter_id"] == place["id"]
    read = boss.get(f"/api/tasks/{made.json()['id']}")
    assert read.status_code == 200 and read.json()["shelter"]["id"] == place["id"]


def test_a_full_or_unopened_shelter_is_refused_naming_the_field_and_nothing_is_written(
    boss: httpx.Client, emergency: tuple[int, str]
) -> None:
    incident_id, community = emergency
    lat, lon = 31.0, 101.0  # far from the district: the open one beside it is the nearest
    full = shelter(boss, community, lat, lon, capacity=2, status="open")
    assert boss.post(f"/api/shelters/{full['id']}/intake", json={"people": 2}).status_code == 201
    beside = shelter(boss, community, lat + 0.0045, lon, capacity=20, status="open")
    ready = shelter(boss, community, lat, lon + 0.001, capacity=20, status="ready")
    before = _tasks(incident_id)
    refused = _evacuation(boss, incident_id, community, shelter=full["id"])
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["field"] == "shelter" and body["code"] == "shelter.full"
    assert body["params"]["nearest_id"] == beside["id"]
    closed = _evacuation(boss, incident_id, community, shelter=ready["id"])
    assert closed.status_code == 409 and closed.json()["field"] == "shelter"
    assert closed.json()["code"] == "shelter.not_open"
    unknown = _evacuation(boss, incident_id, community, shelter=2_000_000_000)
    assert unknown.status_code == 422 and unknown.json()["field"] == "shelter"
    guard = boss.post(
        f"/api/incidents/{incident_id}/tasks",
        json={"kind": "guard", "community": community, "people": 1, "shelter": beside["id"]},
    )
    assert guard.status_code == 422 and guard.json()["field"] == "shelter"
    assert guard.json()["code"] == "task.shelter_not_evacuation"
    assert _tasks(incident_id) == before


def test_left_out_the_shelter_is_the_nearest_open_one_with_room(
    boss: httpx.Client, emergency: tuple[int, str]
) -> None:
    incident_id, community = emergency
    lat, lon = _committee(community)
    shelter(boss, community, lat + 0.002, lon, capacity=30, status="open")
    made = _evacuation(boss, incident_id, community)
    assert made.status_code == 201, made.text
    named = made.json()["shelter"]
    assert named is not None
    here = (lat, lon)
    gap = distance_m(here, (named["lat"], named["lon"]))
    rows = sql("SELECT lat, lon FROM shelter WHERE status='open' AND capacity > occupancy")
    assert all(distance_m(here, (r["lat"], r["lon"])) >= gap - 1e-6 for r in rows)


def test_an_activated_plans_evacuation_names_its_first_shelter_with_room(
    boss: httpx.Client,
) -> None:
    community = community_of(STREET, 2)
    lat, lon = _committee(community)
    first = shelter(boss, community, lat, lon, capacity=1, status="open")
    second = shelter(boss, community, lat + 0.003, lon, capacity=60, status="ready")
    assert boss.post(f"/api/shelters/{first['id']}/intake", json={"people": 1}).status_code == 201
    squad = sql("SELECT min(id) AS i FROM team WHERE kind='street_squad' AND street=$1", STREET)
    person = sql("SELECT min(id) AS i FROM person WHERE active AND street=$1", STREET)
    role = RoleSpec(
        "转移安置组",
        Holder(HolderKind.STREET_SQUAD, squad[0]["i"]),
        Holder(HolderKind.PERSON, person[0]["i"]),
    )
    evacuate = TaskTemplate(TaskKind.EVACUATION, 4, 90, [], "转移低洼院落居民")
    plan = PlanCreate(
        community,
        f"测试预案 {uuid.uuid4().hex[:6]}",
        [HazardSpec(IncidentType.BUILDING_COLLAPSE, Level.IV)],
        [role],
        [first["id"], second["id"]],
        [evacuate],
    )
    ctx = system_context()
    made = run(create_plan(ctx, plan))
    run(approve_plan(ctx, made.id))
    incident_id = incident([community], level="III", kind="building_collapse")
    rows = sql("SELECT shelter_id FROM task WHERE incident=$1 AND kind='evacuation'", incident_id)
    assert [r["shelter_id"] for r in rows] == [second["id"]]
    opened = sql("SELECT status FROM shelter WHERE id=$1", second["id"])[0]["status"]
    assert opened == "open"  # the activation opened the shelter its evacuation names
