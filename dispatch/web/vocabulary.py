"""The codes the pages need, read from where the service keeps them.

The pages used to copy lists the service owns (incident types, priorities, the task
machine, who may do what) and drifted when one side changed. `GET /api/vocabulary` builds
them from the Python sources each time, so there is no second hand-written copy; the
pages keep only presentation (labels, badge colours) keyed by these codes. The answer is
the same for every user and every world (real or drill), so the squad tablet's service
worker keeps it like any API read and the page starts offline from that copy.
"""

from __future__ import annotations

import msgspec
from litestar import Controller, get

from dispatch.accounts.policy import COMMUNITY_SCOPED, DISTRICT_WIDE, PERMISSIONS, Role
from dispatch.hotline.lifecycle import STEPS as HOTLINE_STEPS
from dispatch.hotline.schemas import (
    Category,
    DeadlineState,
    Rating,
    ReplyChannel,
    TicketStatus,
    Urgency,
)
from dispatch.incidents.schemas import (
    OPEN_REQUEST,
    IncidentStatus,
    IncidentType,
    Level,
    Priority,
    RequestSource,
    RequestStatus,
    TaskKind,
    TaskStatus,
)
from dispatch.incidents.tasks import TASK_ACTIVE, TRANSITIONS
from geo.assignment import BUILTIN_SKILLS


class Vocabulary(msgspec.Struct):
    """Lists keep the service's order (priorities from most to least urgent, levels I–IV)."""

    incident_types: list[str]
    incident_levels: list[str]
    incident_statuses: list[str]
    priorities: list[str]
    request_sources: list[str]
    request_statuses: list[str]
    request_open: list[str]  # requests still waiting for stock
    task_kinds: list[str]
    task_statuses: list[str]
    task_active: list[str]  # tasks still to be worked
    task_after: dict[str, str | None]  # task step -> the status it leads to (None: unchanged)
    roles: list[str]
    district_wide: list[str]  # roles whose scope is the whole district
    field_roles: list[str]  # roles that work only the tasks they are assigned to
    permissions: dict[str, list[str]]  # action -> roles that may attempt it
    builtin_skills: list[str]  # the skills every district starts with
    hotline_statuses: list[str]
    hotline_after: dict[str, str]  # ticket step -> the status it leads to
    hotline_categories: list[str]
    hotline_urgencies: list[str]  # most urgent first
    hotline_ratings: list[str]  # best first
    hotline_channels: list[str]
    hotline_deadline_states: list[str]


def _roles(roles: frozenset[Role]) -> list[str]:
    """In the order Role declares them, so the answer is stable."""
    return [role.value for role in Role if role in roles]


def vocabulary() -> Vocabulary:
    return Vocabulary(
        incident_types=[x.value for x in IncidentType],
        incident_levels=[x.value for x in Level],
        incident_statuses=[x.value for x in IncidentStatus],
        priorities=[x.value for x in Priority],
        request_sources=[x.value for x in RequestSource],
        request_statuses=[x.value for x in RequestStatus],
        request_open=[x.value for x in OPEN_REQUEST],
        task_kinds=[x.value for x in TaskKind],
        task_statuses=[x.value for x in TaskStatus],
        task_active=list(TASK_ACTIVE),
        task_after={
            step: (after.value if after else None) for step, (_, after) in TRANSITIONS.items()
        },
        roles=[x.value for x in Role],
        district_wide=_roles(DISTRICT_WIDE),
        field_roles=_roles(COMMUNITY_SCOPED),
        permissions={action: _roles(roles) for action, roles in PERMISSIONS.items()},
        builtin_skills=list(BUILTIN_SKILLS),
        hotline_statuses=[x.value for x in TicketStatus],
        hotline_after={step: after.value for step, (_, after, _) in HOTLINE_STEPS.items()},
        hotline_categories=[x.value for x in Category],
        hotline_urgencies=[x.value for x in Urgency],
        hotline_ratings=[x.value for x in Rating],
        hotline_channels=[x.value for x in ReplyChannel],
        hotline_deadline_states=[x.value for x in DeadlineState],
    )


class VocabularyController(Controller):
    path = "/api/vocabulary"
    tags = ["pages"]

    @get("/", summary="The codes the pages use: statuses, types, roles and permissions")
    async def read(self) -> Vocabulary:
        """Any logged-in user (the token middleware sees to it); nothing here is scoped."""
        return vocabulary()
