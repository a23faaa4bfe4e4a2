"""Who may do what to a ticket: the policy's one rule (`authorize`), its refusal naming
the rule a page can show: the role's (`hotline.role`) or the scope's
(`hotline.out_of_scope`, with the ticket and its place)."""

from __future__ import annotations

from typing import Any

from dispatch.accounts.policy import PERMISSIONS, Actor, Target, authorize
from dispatch.errors import Forbidden


def allow(actor: Actor, action: str, target: Target | None = None, **about: Any) -> None:
    """`authorize`, its refusal naming the rule: the role's (`hotline.role`) or the
    scope's (`hotline.out_of_scope`, with the ticket and its place)."""
    try:
        authorize(actor, action, target)
    except Forbidden as exc:
        if actor.role not in PERMISSIONS[action]:
            raise Forbidden(
                f"role {actor.role.value} may not perform {action}",
                code="hotline.role",
                params={"role": actor.role.value, "action": action},
            ) from exc
        ticket = about.get("ticket", "-")
        place = about.get("place", "区级（未派单）")
        raise Forbidden(
            f"{action}: ticket {ticket} ({place}) is outside the scope of {actor.username} "
            f"(a {actor.role.value} acts on their own "
            f"{'street' if actor.street else 'community'}'s tickets only)",
            code="hotline.out_of_scope",
            params={"ticket": ticket, "place": place, "action": action, "role": actor.role.value},
        ) from exc


def scope_clause(actor: Actor, args: list[Any], *, alias: str = "t") -> str:
    """The SQL condition on tickets `alias` a reader's scope allows, its parameter appended
    to `args`: district roles read every ticket, a street leader their street's, a
    community worker their community's."""
    if actor.is_district_wide:
        return "TRUE"
    if actor.street is not None:
        args.append(actor.street)
        return f"{alias}.street = ${len(args)}"
    args.append(actor.community)
    return f"{alias}.community = ${len(args)}"
