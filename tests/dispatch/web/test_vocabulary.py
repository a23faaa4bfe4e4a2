"""GET /api/vocabulary: the pages' codes come from the service's own definitions."""

from __future__ import annotations

from typing import Any

import pytest

from dispatch.accounts.policy import COMMUNITY_SCOPED, DISTRICT_WIDE, PERMISSIONS, Role
from dispatch.hotline.lifecycle import STEPS
from dispatch.hotline.schemas import Category, TicketStatus, Urgency
from dispatch.incidents.schemas import (
    IncidentType,
    Level,
    Priority,
    RequestSource,
    RequestStatus,
    TaskStatus,
)
from dispatch.incidents.tasks import TASK_ACTIVE, TRANSITIONS
from geo.assignment import BUILTIN_SKILLS
from tests.support import client, create_user

COMMUNITY = "110101001001"  # a volunteer is the narrowest login: it may read the vocabulary too


@pytest.fixture(scope="module")
def vocabulary(server: str) -> dict[str, Any]:
    with client(server, create_user(Role.VOLUNTEER, community=COMMUNITY)) as http:
        response = http.get("/api/vocabulary")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_it_needs_a_login(server: str) -> None:
    with client(server) as http:
        assert http.get("/api/vocabulary").status_code == 401


def test_task_codes_are_the_task_machine(vocabulary: dict[str, Any]) -> None:
    assert set(vocabulary["task_statuses"]) == {s.value for s in TaskStatus}
    assert vocabulary["task_active"] == list(TASK_ACTIVE)
    assert vocabulary["task_after"] == {
        step: after.value if after else None for step, (_, after) in TRANSITIONS.items()
    }
    assert vocabulary["task_after"]["start"] == "en_route"


def test_incident_and_request_codes_keep_the_service_order(
    vocabulary: dict[str, Any],
) -> None:
    assert vocabulary["incident_types"] == [x.value for x in IncidentType]
    assert vocabulary["incident_levels"] == ["I", "II", "III", "IV"] == [x.value for x in Level]
    # most urgent first: the pages sort and pick the worst by this order
    assert vocabulary["priorities"] == ["critical", "high", "normal"] == [x.value for x in Priority]
    assert vocabulary["request_sources"] == [x.value for x in RequestSource]
    assert set(vocabulary["request_statuses"]) == {x.value for x in RequestStatus}
    assert set(vocabulary["request_open"]) == {"open", "planned", "partially_fulfilled"}


def test_roles_and_permissions_are_the_policy_table(vocabulary: dict[str, Any]) -> None:
    permissions = vocabulary["permissions"]
    assert {action: set(roles) for action, roles in permissions.items()} == {
        action: {r.value for r in roles} for action, roles in PERMISSIONS.items()
    }
    assert vocabulary["roles"] == [r.value for r in Role]
    assert set(vocabulary["district_wide"]) == {r.value for r in DISTRICT_WIDE}
    assert set(vocabulary["field_roles"]) == {r.value for r in COMMUNITY_SCOPED}
    assert vocabulary["builtin_skills"] == list(BUILTIN_SKILLS)


def test_hotline_codes_are_the_ticket_machine(vocabulary: dict[str, Any]) -> None:
    assert vocabulary["hotline_statuses"] == [s.value for s in TicketStatus]
    assert vocabulary["hotline_after"] == {step: a.value for step, (_, a, _) in STEPS.items()}
    assert vocabulary["hotline_after"]["return"] == "returned"
    assert vocabulary["hotline_categories"] == [c.value for c in Category]
    assert (
        vocabulary["hotline_urgencies"]
        == ["critical", "urgent", "normal"]
        == [u.value for u in Urgency]
    )
    assert vocabulary["hotline_ratings"] == ["satisfied", "basically_satisfied", "dissatisfied"]
