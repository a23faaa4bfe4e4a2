"""Teams: street emergency squads, partner-unit teams and community teams, and their members.

Nobody enlists people outside their own scope (`check_enlistable`): a squad leader takes
their street's people and those paired with it, a community worker their community's.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import msgspec

from dispatch.accounts.policy import Actor, Target, authorize, enlistable
from dispatch.db import Command, Context, command, query
from dispatch.errors import Forbidden, InvalidInput, NotFound
from dispatch.people.eligibility import Worker
from dispatch.people.lookups import authorize_row, check_street, limit_to_scope
from dispatch.people.matching import load_workers
from dispatch.people.partners import check_unit
from dispatch.people.registry import resolve_home
from dispatch.people.schemas import (
    PersonKind,
    TeamCreate,
    TeamKind,
    TeamMembers,
    TeamMemberView,
    TeamView,
)


async def _team_views(conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]) -> list[TeamView]:
    ids = [r["id"] for r in rows]
    members: dict[int, list[TeamMemberView]] = {i: [] for i in ids}
    for m in await conn.fetch(
        """
        SELECT tm.team_id, p.id, p.name, p.kind, p.skills FROM team_member tm
        JOIN person p ON p.id = tm.person_id WHERE tm.team_id = ANY($1) ORDER BY tm.team_id, p.id
        """,
        ids,
    ):
        members[m["team_id"]].append(
            TeamMemberView(
                id=m["id"], name=m["name"], kind=PersonKind(m["kind"]), skills=list(m["skills"])
            )
        )
    return [
        TeamView(
            id=r["id"],
            name=r["name"],
            kind=TeamKind(r["kind"]),
            street=r["street"],
            community=r["community"],
            unit_id=r["unit_id"],
            leader_id=r["leader_id"],
            size=len(members[r["id"]]),
            members=members[r["id"]],
        )
        for r in rows
    ]


TEAM_COLUMNS = "id, name, kind, street, community, unit_id, leader_id"


async def _team(conn: asyncpg.Connection, team_id: int) -> TeamView:
    """A team as just written, with its members."""
    row = await conn.fetchrow(f"SELECT {TEAM_COLUMNS} FROM team WHERE id=$1", team_id)
    return (await _team_views(conn, [row]))[0]


async def list_teams(
    ctx: Context,
    street: str | None = None,
    community: str | None = None,
    kind: TeamKind | None = None,
) -> list[TeamView]:
    async with query(ctx) as conn:
        street, community = await limit_to_scope(conn, ctx.actor, "teams.read", street, community)
        rows = await conn.fetch(
            f"""
            SELECT {TEAM_COLUMNS} FROM team
            WHERE ($1::varchar IS NULL OR street = $1) AND ($2::varchar IS NULL OR community = $2)
              AND ($3::varchar IS NULL OR kind = $3)
            ORDER BY id
            """,
            street,
            community,
            kind.value if kind else None,
        )
        return await _team_views(conn, rows)


async def get_team(ctx: Context, team_id: int) -> TeamView:
    async with query(ctx) as conn:
        row = await conn.fetchrow(f"SELECT {TEAM_COLUMNS} FROM team WHERE id=$1", team_id)
        if row is None:
            raise NotFound(f"no team {team_id}", field="team_id")
        authorize_row(ctx.actor, "teams.read", row)
        return (await _team_views(conn, [row]))[0]


def check_enlistable(actor: Actor, workers: Sequence[Worker], field: str) -> None:
    """One cannot enlist (on a team, on a task) people outside one's own scope: 403."""
    for worker in workers:
        if not enlistable(actor.scope, worker.place, worker.paired):
            raise Forbidden(
                f"person {worker.id} ({worker.name}) is outside the scope of {actor.username}",
                field=field,
                code="forbidden.person_out_of_scope",
                params={"person": worker.name, "person_id": worker.id},
            )


async def check_members(
    cmd: Command, member_ids: Sequence[int], leader_id: int | None
) -> list[int]:
    """The member ids (with the leader), each a known person inside the actor's scope."""
    ids = sorted({*member_ids, *([leader_id] if leader_id else [])})
    found = await load_workers(cmd.connection, cmd.now, ids, active_only=False)
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(f"unknown people {missing[:10]}", field="member_ids")
    check_enlistable(cmd.ctx.actor, list(found.values()), "member_ids")
    return ids


async def _write_members(cmd: Command, team_id: int, ids: Sequence[int]) -> None:
    await cmd.connection.execute("DELETE FROM team_member WHERE team_id=$1", team_id)
    await cmd.connection.executemany(
        "INSERT INTO team_member (team_id, person_id, joined_at) VALUES ($1, $2, $3)",
        [(team_id, i, cmd.now) for i in ids],
    )


async def create_team(ctx: Context, new: TeamCreate) -> TeamView:
    authorize(ctx.actor, "teams.manage")
    async with command(ctx) as cmd:
        conn = cmd.connection
        street, community = new.street, new.community
        if community is not None:
            street, community = await resolve_home(conn, community, street)
        elif street is not None:
            await check_street(conn, street)
        if new.kind is TeamKind.STREET_SQUAD and street is None:
            raise InvalidInput("a street squad needs its street", field="street")
        if new.kind is TeamKind.COMMUNITY_TEAM and community is None:
            raise InvalidInput("a community team needs its community", field="community")
        if new.kind is TeamKind.UNIT_TEAM:
            if new.unit_id is None:
                raise InvalidInput("a partner-unit team needs its unit", field="unit_id")
            await check_unit(conn, new.unit_id)
        authorize(ctx.actor, "teams.manage", Target(street=street, community=community))
        ids = await check_members(cmd, new.member_ids, new.leader_id)
        team_id = await conn.fetchval(
            """
            INSERT INTO team (name, kind, street, community, unit_id, leader_id, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
            """,
            new.name,
            new.kind.value,
            street,
            community,
            new.unit_id if new.kind is TeamKind.UNIT_TEAM else None,
            new.leader_id,
            cmd.now,
        )
        await _write_members(cmd, team_id, ids)
        after = {**msgspec.to_builtins(new), "street": street, "member_ids": ids}
        await cmd.audit("teams.create", "team", team_id, None, after)
        cmd.emit("team.created", {"id": team_id}, street=street, community=community)
        return await _team(conn, team_id)


async def set_team_members(ctx: Context, team_id: int, change: TeamMembers) -> TeamView:
    """Replace a team's members (and leader; the leader is always a member)."""
    authorize(ctx.actor, "teams.manage")
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await conn.fetchrow(
            f"SELECT {TEAM_COLUMNS} FROM team WHERE id=$1 FOR UPDATE", team_id
        )
        if row is None:
            raise NotFound(f"no team {team_id}", field="team_id")
        authorize_row(ctx.actor, "teams.manage", row)
        before = [
            r["person_id"]
            for r in await conn.fetch(
                "SELECT person_id FROM team_member WHERE team_id=$1 ORDER BY person_id", team_id
            )
        ]
        ids = await check_members(cmd, change.member_ids, change.leader_id)
        await _write_members(cmd, team_id, ids)
        await conn.execute("UPDATE team SET leader_id=$2 WHERE id=$1", team_id, change.leader_id)
        await cmd.audit(
            "teams.members",
            "team",
            team_id,
            {"member_ids": before, "leader_id": row["leader_id"]},
            {"member_ids": ids, "leader_id": change.leader_id},
        )
        cmd.emit(
            "team.members",
            {"id": team_id, "size": len(ids)},
            street=row["street"],
            community=row["community"],
        )
        return await _team(conn, team_id)
