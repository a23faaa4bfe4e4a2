"""Door checks go first to the household's assisting branch (结对帮扶): its members who are
on duty and may take the task are matched first (the same exact matching, limited to them),
the rest of the need from everyone else; each of them says why in the suggestion.

The members are asked for by household (`assisting_members`); the matching itself is the
people registry's (`people.matching.suggest_for_needs`), so skills, the daily hours limit,
travel on today's roads and who may be offered at all hold for them as for anyone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
import msgspec

from dispatch.db import Context
from dispatch.people.matching import suggest_for_needs
from dispatch.people.schemas import Suggestion, SuggestRequest, SuggestResponse

ASSISTING = "assisting"  # the suggestion's `preferred`: a member of the assisting branch
ASSISTING_MEMBERS = """
    SELECT DISTINCT ON (m.person_id) m.person_id, b.name AS branch
    FROM assistance a JOIN party_branch b ON b.id = a.branch_id
    JOIN branch_member m ON m.branch_id = b.id
    WHERE a.household_id = ANY($1::int[]) AND a.ends_on IS NULL
    ORDER BY m.person_id, b.name
"""


async def assisting_members(conn: asyncpg.Connection, households: Sequence[int]) -> dict[int, str]:
    """person id -> the name of the branch assisting one of the households."""
    if not households:
        return {}
    rows = await conn.fetch(ASSISTING_MEMBERS, list(households))
    return {r["person_id"]: r["branch"] for r in rows}


def _with_reason(s: Suggestion, branch: str) -> Suggestion:
    why = (
        f"结对帮扶：{branch}党员，该户的帮扶支部 / "
        f"member of {branch}, the household's assisting branch"
    )
    return msgspec.structs.replace(s, preferred=ASSISTING, explanation=f"{why}; {s.explanation}")


async def suggest_assisting_first(
    ctx: Context,
    need: SuggestRequest,
    state: Any,
    only: frozenset[int],
    assisting: Mapping[int, str],
) -> SuggestResponse:
    """The assisting branch's eligible members first (nearest of them), then the rest of
    the need from the other people in `only`."""
    theirs = only & frozenset(assisting)
    if not theirs:
        return (await suggest_for_needs(ctx, [need], state, only))[0]
    first = (await suggest_for_needs(ctx, [need], state, theirs))[0]
    picked = [_with_reason(s, assisting[s.person_id]) for s in first.suggestions]
    missing = need.people - len(picked)
    if missing <= 0:
        return msgspec.structs.replace(first, suggestions=picked, short=[])
    rest_need = msgspec.structs.replace(need, people=missing)
    others = only - {s.person_id for s in picked}
    rest = (await suggest_for_needs(ctx, [rest_need], state, others))[0]
    return SuggestResponse(
        community=need.community,
        wanted=need.people,
        staffed=len(picked) + rest.staffed,
        considered=rest.considered,
        suggestions=picked + rest.suggestions,
        short=rest.short,
    )
