"""Authorisation: one table of which roles may do what, and one rule for scope.

Services call `authorize(actor, action, target)` before they touch anything, so the
HTTP API, the CLI and scenario replay obey the same rules.
"""

from __future__ import annotations

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

    @property
    def is_district_wide(self) -> bool:
        return self.role in DISTRICT_WIDE

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
    "users.read": frozenset({Role.COMMANDER}),
    "users.manage": frozenset({Role.COMMANDER}),
    "audit.read": frozenset({Role.COMMANDER}),
}


def authorize(actor: Actor, action: str, target: Target | None = None) -> None:
    """Refuse (403) unless the role may do `action` and the target is in the actor's scope."""
    allowed = PERMISSIONS.get(action)
    if allowed is None:
        raise KeyError(f"unknown action {action!r}: add it to PERMISSIONS")
    if actor.role not in allowed:
        raise Forbidden(f"role {actor.role.value} may not perform {action}")
    if target is not None and not actor.covers(target):
        where = target.community or target.street or "district level"
        raise Forbidden(f"{where} is outside the scope of {actor.username}")
