"""Authorisation: one table of which roles may do what, and one rule for scope.

Services call `authorize(actor, action, target)` before they touch anything, so the
HTTP API, the CLI and scenario replay obey the same rules.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from dispatch.errors import Forbidden


class Role(StrEnum):
    COMMANDER = "commander"
    STREET_LEADER = "street_leader"
    COMMUNITY_WORKER = "community_worker"
    VOLUNTEER = "volunteer"
    TRAINER = "trainer"
    VIEWER = "viewer"


# Roles whose work is bounded by a street or a community, and which one.
STREET_SCOPED = frozenset({Role.STREET_LEADER})
COMMUNITY_SCOPED = frozenset({Role.COMMUNITY_WORKER, Role.VOLUNTEER})
DISTRICT_WIDE = frozenset({Role.COMMANDER, Role.TRAINER, Role.VIEWER})
EVERYONE = frozenset(Role)


@dataclass(frozen=True)
class Actor:
    """Whoever issues a command: a user, or the system itself (CLI, loaders)."""

    user_id: int | None
    username: str
    role: Role
    street: str | None = None
    community: str | None = None
    community_street: str | None = None  # the street a community-scoped actor's community is in
    person_id: int | None = None  # the person this user is: field roles work their own tasks

    @property
    def is_district_wide(self) -> bool:
        return self.role in DISTRICT_WIDE

    @property
    def scope(self) -> Target:
        """The place this actor's work is bounded by (empty: the whole district)."""
        if self.is_district_wide:
            return Target()
        if self.role in STREET_SCOPED:
            return Target(street=self.street)
        return Target(community=self.community)

    def covers(self, target: Target) -> bool:
        """Whether the thing acted on lies inside this actor's scope."""
        if self.is_district_wide:
            return True
        if self.role in STREET_SCOPED:
            return target.street is not None and target.street == self.street
        return target.community is not None and target.community == self.community


SYSTEM = Actor(user_id=None, username="system", role=Role.COMMANDER)


@dataclass(frozen=True)
class Target:
    """Where the object of an action lives; empty fields mean district level."""

    street: str | None = None
    community: str | None = None


# action -> roles allowed to attempt it (scope is checked separately, against the target)
PERMISSIONS: dict[str, frozenset[Role]] = {
    "places.read": EVERYONE,
    "places.correct_coordinates": frozenset({Role.COMMANDER}),
    "places.load_reference": frozenset({Role.COMMANDER}),
    "places.load_roads": frozenset({Role.COMMANDER}),
    "users.read": frozenset({Role.COMMANDER}),
    "users.manage": frozenset({Role.COMMANDER}),
    "audit.read": frozenset({Role.COMMANDER}),
    # stock (scope: the depot's street; the district reserve has none, so district roles only)
    "stock.catalogue": EVERYONE,
    "stock.read": frozenset({Role.COMMANDER, Role.STREET_LEADER, Role.TRAINER, Role.VIEWER}),
    "stock.read_transfers": EVERYONE,  # community-scoped roles: deliveries to their community
    "stock.receive": frozenset({Role.COMMANDER, Role.STREET_LEADER}),
    "stock.issue": frozenset({Role.COMMANDER, Role.STREET_LEADER}),
    "stock.adjust": frozenset({Role.COMMANDER, Role.STREET_LEADER}),
    "stock.count": frozenset({Role.COMMANDER, Role.STREET_LEADER}),
    "stock.reverse": frozenset({Role.COMMANDER, Role.STREET_LEADER}),
    "stock.transfer.create": frozenset({Role.COMMANDER}),
    "stock.transfer.dispatch": frozenset({Role.COMMANDER, Role.STREET_LEADER}),
    "stock.transfer.receive": frozenset(
        {Role.COMMANDER, Role.STREET_LEADER, Role.COMMUNITY_WORKER}
    ),
    "stock.transfer.cancel": frozenset({Role.COMMANDER, Role.STREET_LEADER}),
    "stock.standards": frozenset({Role.COMMANDER}),
    "stock.load_catalogue": frozenset({Role.COMMANDER}),
    "stock.demo": frozenset({Role.COMMANDER}),
    # fleet (scope as depots: the depot's street; the district reserve's, district roles only)
    "fleet.read": frozenset({Role.COMMANDER, Role.STREET_LEADER, Role.TRAINER, Role.VIEWER}),
    "fleet.manage": frozenset({Role.COMMANDER, Role.STREET_LEADER}),
    "fleet.import": frozenset({Role.COMMANDER, Role.STREET_LEADER}),
    "fleet.demo": frozenset({Role.COMMANDER}),
    # people (scope: the person's street/community; partner units are district level)
    "skills.read": EVERYONE,
    "skills.manage": frozenset({Role.COMMANDER}),
    "units.read": EVERYONE - {Role.VOLUNTEER},
    "units.manage": frozenset({Role.COMMANDER}),
    "pairings.read": EVERYONE - {Role.VOLUNTEER},
    "pairings.manage": frozenset({Role.COMMANDER}),
    "people.read": frozenset(
        {Role.COMMANDER, Role.TRAINER, Role.VIEWER, Role.STREET_LEADER, Role.COMMUNITY_WORKER}
    ),
    "people.manage": frozenset({Role.COMMANDER, Role.STREET_LEADER, Role.COMMUNITY_WORKER}),
    "people.reveal": frozenset({Role.COMMANDER, Role.STREET_LEADER, Role.COMMUNITY_WORKER}),
    "people.suggest": frozenset({Role.COMMANDER, Role.STREET_LEADER, Role.COMMUNITY_WORKER}),
    "people.import": frozenset({Role.COMMANDER}),
    "people.export": frozenset({Role.COMMANDER, Role.STREET_LEADER, Role.COMMUNITY_WORKER}),
    "teams.read": EVERYONE - {Role.VOLUNTEER},
    "teams.manage": frozenset({Role.COMMANDER, Role.STREET_LEADER, Role.COMMUNITY_WORKER}),
    "duty.read": EVERYONE,
    "duty.manage": frozenset({Role.COMMANDER, Role.STREET_LEADER, Role.COMMUNITY_WORKER}),
    "duty.check_in": frozenset({Role.COMMANDER, Role.STREET_LEADER, Role.COMMUNITY_WORKER}),
    # care households: the most sensitive data; every read is audited
    "care.read": frozenset({Role.COMMANDER, Role.COMMUNITY_WORKER}),
    "care.manage": frozenset({Role.COMMANDER, Role.COMMUNITY_WORKER}),
    "care.reveal": frozenset({Role.COMMANDER, Role.COMMUNITY_WORKER}),
    "care.export": frozenset({Role.COMMANDER}),
    # Party branches and their service records (scope: the streets of a branch's members and
    # of the households it assists; see dispatch/branches/scope.py)
    "branches.read": frozenset({Role.COMMANDER, Role.STREET_LEADER, Role.TRAINER, Role.VIEWER}),
    "branches.manage": frozenset({Role.COMMANDER}),
    "branches.demo": frozenset({Role.COMMANDER}),
    "branches.import": frozenset({Role.COMMANDER}),
    "assistance.read": frozenset({Role.COMMANDER, Role.STREET_LEADER}),
    "assistance.manage": frozenset({Role.COMMANDER, Role.STREET_LEADER}),
    "service.report": frozenset({Role.COMMANDER, Role.STREET_LEADER, Role.TRAINER, Role.VIEWER}),
    # community activities (scope: the activity's community; see dispatch/branches/activities.py:
    # everyone reads their area's and signs themselves up, the organiser takes attendance)
    "activities.read": EVERYONE,
    "activities.join": EVERYONE,
    "activities.manage": frozenset({Role.COMMANDER, Role.STREET_LEADER, Role.COMMUNITY_WORKER}),
    "activities.demo": frozenset({Role.COMMANDER}),
    # incidents, requests, tasks (scope: the request's or task's street and community)
    "incidents.read": EVERYONE,
    "incidents.manage": frozenset({Role.COMMANDER}),
    "requests.read": EVERYONE,
    "requests.create": frozenset({Role.COMMANDER, Role.STREET_LEADER, Role.COMMUNITY_WORKER}),
    "tasks.read": EVERYONE,
    "tasks.create": frozenset({Role.COMMANDER, Role.STREET_LEADER}),
    "tasks.assign": frozenset({Role.COMMANDER, Role.STREET_LEADER}),
    "tasks.work": frozenset(
        {Role.COMMANDER, Role.STREET_LEADER, Role.COMMUNITY_WORKER, Role.VOLUNTEER}
    ),
    # 12345 hotline tickets (scope: the street or community the ticket is dispatched to;
    # the caller's rating is the district's return visit, not the assessed street's)
    "hotline.read": frozenset(
        {Role.COMMANDER, Role.STREET_LEADER, Role.COMMUNITY_WORKER, Role.TRAINER, Role.VIEWER}
    ),
    "hotline.create": frozenset({Role.COMMANDER, Role.STREET_LEADER, Role.COMMUNITY_WORKER}),
    "hotline.edit": frozenset({Role.COMMANDER, Role.STREET_LEADER, Role.COMMUNITY_WORKER}),
    "hotline.assign": frozenset({Role.COMMANDER, Role.STREET_LEADER}),
    "hotline.work": frozenset({Role.COMMANDER, Role.STREET_LEADER, Role.COMMUNITY_WORKER}),
    "hotline.rate": frozenset({Role.COMMANDER}),
    "hotline.close": frozenset({Role.COMMANDER}),
    "hotline.reveal": frozenset({Role.COMMANDER, Role.STREET_LEADER, Role.COMMUNITY_WORKER}),
    "hotline.deadlines": frozenset({Role.COMMANDER}),
    "hotline.import": frozenset({Role.COMMANDER}),
    # plans: the command center's
    "plans.read": frozenset({Role.COMMANDER, Role.TRAINER, Role.VIEWER}),
    "plans.create": frozenset({Role.COMMANDER}),
    "plans.approve": frozenset({Role.COMMANDER}),
    # preparedness (scope: the shelter's or plan's street; a community worker registers
    # evacuees at their community's shelters and drafts their community's plan)
    "shelters.read": EVERYONE,
    "shelters.manage": frozenset({Role.COMMANDER, Role.STREET_LEADER}),
    "shelters.intake": frozenset({Role.COMMANDER, Role.STREET_LEADER, Role.COMMUNITY_WORKER}),
    "preparedness.read": EVERYONE - {Role.VOLUNTEER},
    "preparedness.draft": frozenset({Role.COMMANDER, Role.STREET_LEADER, Role.COMMUNITY_WORKER}),
    "preparedness.approve": frozenset({Role.COMMANDER, Role.STREET_LEADER}),
    "preparedness.demo": frozenset({Role.COMMANDER}),
    "callouts.read": EVERYONE - {Role.VOLUNTEER},
    "callouts.answer": frozenset({Role.COMMANDER, Role.STREET_LEADER, Role.COMMUNITY_WORKER}),
    # a call-out's recipient reads and answers their own, wherever it is (a user who is the
    # person it reaches, or the leader of the team it went to)
    "callouts.read_own": EVERYONE,
    "callouts.answer_own": EVERYONE - {Role.VIEWER, Role.TRAINER},
    # exercises (drill sandboxes): trainers and commanders manage them; anyone may act in one
    "exercises.read": frozenset({Role.COMMANDER, Role.TRAINER}),
    "exercises.manage": frozenset({Role.COMMANDER, Role.TRAINER}),
    "exercises.join": EVERYONE,
}


def _inside(scope: Target, place: Target) -> bool:
    if scope.community is not None:
        return place.community == scope.community
    if scope.street is not None:
        return place.street == scope.street
    return True  # the district holds everything


def enlistable(scope: Target, person: Target, paired: Collection[Target] = ()) -> bool:
    """Whether a person may be put to work inside `scope`: they live or serve inside it, or
    their partner unit is paired with a community inside it (`paired`: those communities).

    One rule for who joins a team (the scope is the enlisting actor's) and who is assigned
    to a task (the actor's scope, and the task's street), so nobody is put on work in a
    place they do not belong to, and nobody enlists people outside their own scope.
    """
    return any(_inside(scope, place) for place in (person, *paired))


@dataclass(frozen=True)
class TaskTarget:
    """A task as the rule of who may act on it sees it: where it is and who is on it."""

    id: int
    street: str
    community: str
    assignees: frozenset[int] = frozenset()


# task action -> the permission it needs; the actions the people on a task take themselves
TASK_ACTIONS: dict[str, str] = {
    "assign": "tasks.assign",
    "cancel": "tasks.assign",
    "accept": "tasks.work",
    "start": "tasks.work",
    "complete": "tasks.work",
    "fail": "tasks.work",
    "note": "tasks.work",
    "position": "tasks.work",
    "stop": "tasks.work",  # a run's stop unloaded and signed for
}
ASSIGNEE_ACTIONS = frozenset({"accept", "start", "complete", "fail", "note", "position", "stop"})


def authorize_task(actor: Actor, action: str, task: TaskTarget) -> None:
    """Who may act on a task: district roles, the street leader of the task's street, and
    the people assigned to it. A volunteer or community worker acts only on tasks assigned
    to them (wherever those are: assignment already decided that they go there), never on
    another task of their community."""
    permission = TASK_ACTIONS[action]
    if actor.role not in COMMUNITY_SCOPED or action not in ASSIGNEE_ACTIONS:
        authorize(actor, permission, Target(task.street, task.community))
        return
    authorize(actor, permission)
    if actor.person_id is None or actor.person_id not in task.assignees:
        raise Forbidden(
            f"{actor.username} is not assigned to task {task.id}: a {actor.role.value} acts "
            "only on tasks assigned to them",
            code="forbidden.not_assignee",
            params={"task": task.id, "role": actor.role.value},
        )


def authorize(actor: Actor, action: str, target: Target | None = None) -> None:
    """Refuse (403) unless the role may do `action` and the target is in the actor's scope."""
    allowed = PERMISSIONS.get(action)
    if allowed is None:
        raise KeyError(f"unknown action {action!r}: add it to PERMISSIONS")
    if actor.role not in allowed:
        raise Forbidden(
            f"role {actor.role.value} may not perform {action}",
            code="forbidden.role",
            params={"role": actor.role.value, "action": action},
        )
    if target is not None and not actor.covers(target):
        where = target.community or target.street or "district level"
        raise Forbidden(
            f"{where} is outside the scope of {actor.username}",
            code="forbidden.scope",
            params={"where": where},
        )
