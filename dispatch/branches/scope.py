"""Whose branches a reader sees: the one scope rule of the package.

RULE. A branch lies in every street where one of its members lives (the person's street) or
where a household it assists now lives (an assistance in force). A street leader sees, and
acts on, the branches lying in their street, the pairings and visits of households in their
street, and the service records of people of their street; district roles see everything.
So a central ministry's branch whose members live across five streets is seen by those five
street leaders, each of whom meets in it their own street's people and households.
"""

from __future__ import annotations

from collections.abc import Sequence

from dispatch.accounts.policy import STREET_SCOPED, Actor, Target, authorize
from dispatch.errors import Forbidden

# the streets a branch lies in ($1: branch id), as the rule above says
BRANCH_STREETS = """
    SELECT p.street FROM branch_member m JOIN person p ON p.id = m.person_id
    WHERE m.branch_id = {b}
    UNION
    SELECT h.street FROM assistance a JOIN care_household h ON h.id = a.household_id
    WHERE a.branch_id = {b} AND a.ends_on IS NULL
"""
# the branches lying in a street ({s}: the street's parameter)
BRANCHES_IN_STREET = """
    SELECT m.branch_id FROM branch_member m JOIN person p ON p.id = m.person_id
    WHERE p.street = {s}
    UNION
    SELECT a.branch_id FROM assistance a JOIN care_household h ON h.id = a.household_id
    WHERE h.street = {s} AND a.ends_on IS NULL
"""


def limited_street(actor: Actor, action: str, street: str | None) -> str | None:
    """The street a read is limited to: the one asked for (inside the actor's scope, else
    403), a street leader's own when none is asked, None (the district) otherwise."""
    authorize(actor, action, Target(street=street) if street else None)
    if actor.role in STREET_SCOPED:
        return actor.street
    return street


def authorize_branch(actor: Actor, action: str, code: str, streets: Sequence[str]) -> None:
    """Refuse (403) a street-scoped actor a branch that does not lie in their street."""
    authorize(actor, action)
    if actor.role in STREET_SCOPED and actor.street not in streets:
        raise Forbidden(
            f"branch {code} lies outside the scope of {actor.username}",
            code="forbidden.scope",
            params={"where": code},
        )
