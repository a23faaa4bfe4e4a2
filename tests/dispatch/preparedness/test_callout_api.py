"""The recipient's own way in, through the API of a real server: a call-out reaches its
person on the live feed even outside their scope (in-app channel), they find it under
`/api/callouts/mine`, mark it delivered and acknowledge it; someone else of their role may
not; a declined call-out is on the board with its escalation. The phone is masked."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from dispatch.accounts.policy import SYSTEM, Actor, Role, Target
from dispatch.clock import WallClock
from dispatch.db import Context
from dispatch.incidents.schemas import IncidentType, Level
from dispatch.live import visible_to
from dispatch.preparedness.schemas import HazardSpec, Holder, HolderKind, PlanCreate, RoleSpec
from dispatch.preparedness.service import approve_plan, create_plan
from tests.dispatch.people.seed import ensure_district
from tests.dispatch.preparedness.helpers import (
    community_of,
    no_paired_units_called,
    people_of,
    plans_made_here,
)
from tests.dispatch.test_live import subscribed
from tests.support import client, create_user, run, sql

STREET = "110101011"
ELSEWHERE = "110101012001"  # the recipient's own community, in another street


@pytest.fixture(scope="module", autouse=True)
def _plans_superseded_after() -> Iterator[None]:
    yield from plans_made_here()


@pytest.fixture(scope="module", autouse=True)
def _roles_only() -> Iterator[None]:
    yield from no_paired_units_called(STREET)


@pytest.fixture(scope="module")
def setup() -> dict[str, Any]:
    ensure_district()
    community = community_of(STREET, 0)
    holder, deputy, bystander = people_of(STREET, 3)
    ctx = Context(SYSTEM, WallClock())
    role = RoleSpec(
        "医疗救护组", Holder(HolderKind.PERSON, holder), Holder(HolderKind.PERSON, deputy)
    )
    hazards = [HazardSpec(IncidentType.FIRE, Level.IV)]
    run(
        approve_plan(
            ctx, run(create_plan(ctx, PlanCreate(community, "接口测试预案", hazards, [role]))).id
        )
    )
    return {
        "community": community,
        "holder": holder,
        "deputy": deputy,
        "recipient": create_user(Role.VOLUNTEER, community=ELSEWHERE, person=holder),
        "bystander": create_user(Role.VOLUNTEER, community=community, person=bystander),
        "commander": create_user(Role.COMMANDER),
    }


def _declare(server: str, setup: dict[str, Any]) -> int:
    body = {
        "type": "fire",
        "level": "III",
        "title": f"火情（接口测试 {uuid.uuid4().hex[:6]}）",
        "communities": [setup["community"]],
    }
    with client(server, setup["commander"]) as http:
        made = http.post("/api/incidents", json=body)
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def test_the_recipient_hears_finds_and_acknowledges_their_call_out(
    server: str, setup: dict[str, Any]
) -> None:
    with subscribed(server, setup["recipient"]) as feed:
        incident = _declare(server, setup)
        heard = [m for m in feed.take(1) if m.event == "callout.sent"]
        assert feed.nothing_more(), "a volunteer elsewhere hears only what is addressed to them"
    assert heard and heard[0].data["person"] == setup["holder"]
    assert heard[0].data["data"]["incident"] == incident
    assert heard[0].data["data"]["channels"] == ["link", "app"]  # no SMS gateway here
    callout = heard[0].data["data"]["callout"]
    with client(server, setup["recipient"]) as http:
        mine = [c for c in http.get("/api/callouts/mine").json() if c["incident"] == incident]
        assert [c["id"] for c in mine] == [callout]
        assert "****" in mine[0]["recipient"]["phone"]
        delivered = http.post(f"/api/callouts/{callout}/delivered")
        assert delivered.status_code == 200, delivered.text
        assert (delivered.json()["state"], delivered.json()["delivered_via"]) == (
            "delivered",
            "app",
        )
        again = http.post(f"/api/callouts/{callout}/delivered")
        assert (
            again.status_code == 200
            and again.json()["delivered_at"] == delivered.json()["delivered_at"]
        )
        done = http.post(f"/api/callouts/{callout}/acknowledge", json={"eta_minutes": 8})
        assert done.status_code == 200, done.text
        assert (done.json()["state"], done.json()["answered_via"]) == ("acknowledged", "app")
        still_open = http.get("/api/callouts/mine").json()
        assert not [c for c in still_open if c["incident"] == incident]
        answered = http.get("/api/callouts/mine", params={"answered": "true"}).json()
        assert [c["state"] for c in answered if c["incident"] == incident] == ["acknowledged"]


def test_another_volunteer_may_not_answer_and_a_decline_shows_the_escalation(
    server: str, setup: dict[str, Any]
) -> None:
    incident = _declare(server, setup)
    [step] = sql("SELECT id FROM plan_callout WHERE incident=$1", incident)
    with client(server, setup["bystander"]) as http:
        refused = http.post(f"/api/callouts/{step['id']}/acknowledge", json={"eta_minutes": 5})
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden.role"
        assert http.get(f"/api/callouts/{step['id']}").status_code == 403
    with client(server, setup["recipient"]) as http:
        declined = http.post(f"/api/callouts/{step['id']}/decline", json={"reason": "正在外地"})
        assert declined.status_code == 200, declined.text
        assert declined.json()["escalated_at"] is not None
    with client(server, setup["commander"]) as http:
        board = http.get("/api/callouts", params={"incident": incident}).json()
    assert [(c["step"], c["state"], c["origin_id"]) for c in board] == [
        (0, "declined", step["id"]),
        (1, "sent", step["id"]),
    ]
    assert board[1]["recipient"]["id"] == setup["deputy"]


def test_a_call_out_event_reaches_its_person_and_its_place_only() -> None:
    payload = {"exercise": None, "street": STREET, "community": "110101011001", "person": 7}
    recipient = _actor(Role.VOLUNTEER, community=ELSEWHERE, person=7)
    stranger = _actor(Role.VOLUNTEER, community=ELSEWHERE, person=8)
    local = _actor(Role.COMMUNITY_WORKER, community="110101011001")
    assert visible_to(recipient, payload, None)
    assert not visible_to(stranger, payload, None)
    assert visible_to(local, payload, None)
    assert not visible_to(recipient, payload, "ex_1")  # never across worlds
    assert stranger.covers(Target(STREET, "110101011001")) is False


def _actor(role: Role, community: str | None = None, person: int | None = None) -> Actor:
    return Actor(user_id=1, username="t", role=role, community=community, person_id=person)
