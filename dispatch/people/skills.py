"""Skills: the list people, pledges and needs are checked against, and its extension.

The built-in skills (first_aid, driving, ...) come with the schema; a commander may add more.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import msgspec

from dispatch.accounts.policy import authorize
from dispatch.db import Context, command, query
from dispatch.errors import Conflict, InvalidInput
from dispatch.people.schemas import SkillCreate, SkillView


async def check_skills(conn: asyncpg.Connection, skills: Sequence[str], field: str) -> list[str]:
    """The skills given, sorted and without repeats; any unknown one is refused."""
    wanted = sorted(set(skills))
    if not wanted:
        return []
    known = {
        r["code"] for r in await conn.fetch("SELECT code FROM skill WHERE code = ANY($1)", wanted)
    }
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise InvalidInput(f"unknown skill {', '.join(unknown)}", field=field)
    return wanted


async def list_skills(ctx: Context) -> list[SkillView]:
    authorize(ctx.actor, "skills.read")
    async with query(ctx) as conn:
        rows = await conn.fetch("SELECT code, name, builtin FROM skill ORDER BY NOT builtin, code")
    return [SkillView(**dict(r)) for r in rows]


async def create_skill(ctx: Context, new: SkillCreate) -> SkillView:
    """A commander extends the fixed list (first_aid, driving, ...)."""
    authorize(ctx.actor, "skills.manage")
    async with command(ctx) as cmd:
        if await cmd.connection.fetchval("SELECT 1 FROM skill WHERE code=$1", new.code):
            raise Conflict(f"skill {new.code} exists", field="code")
        await cmd.connection.execute(
            "INSERT INTO skill (code, name, builtin, created_at) VALUES ($1, $2, false, $3)",
            new.code,
            new.name,
            cmd.now,
        )
        view = SkillView(code=new.code, name=new.name, builtin=False)
        await cmd.audit("skills.create", "skill", new.code, None, msgspec.to_builtins(view))
        cmd.emit("skill.created", {"code": new.code})
    return view
