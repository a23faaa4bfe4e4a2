"""Matching people to a need: who could go (`load_workers`, as the assignment rules see them)
and who should (`suggest_for_needs`, exact min-cost matching in `geo.assignment`).

The road network in force is kept here per process with its router and snapper (`roads`),
rebuilt off the event loop only when another network becomes active.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from dispatch.accounts.policy import Target, authorize
from dispatch.db import Context, query
from dispatch.people.eligibility import Worker
from dispatch.people.lookups import HOURS_TODAY, Place, day_start, find_place, local_day
from dispatch.people.schemas import (
    PersonKind,
    Shortfall,
    Suggestion,
    SuggestRequest,
    SuggestResponse,
)
from dispatch.people.skills import check_skills
from dispatch.places.service import active_road_network
from geo.assignment import (
    WALK_OR_RIDE,
    AssignmentResult,
    AssignOptions,
    Candidate,
    Need,
    assign_people,
)
from geo.network import RoadNetwork, RoadState, Snapper
from geo.routing import Router


@dataclass
class Roads:
    network: RoadNetwork
    router: Router
    state: RoadState
    snapper: Snapper


_roads: Roads | None = None


def _prepare_roads(network: RoadNetwork) -> Roads:
    snapper = Snapper(network, network.usable_nodes(WALK_OR_RIDE))
    return Roads(network, Router(network), RoadState(network), snapper)


async def roads(ctx: Context) -> Roads:
    """The active road network (places) with a router and a snapper, kept per process and
    rebuilt (off the event loop) only when another network becomes active."""
    global _roads
    network = await active_road_network(ctx)
    if _roads is None or _roads.network is not network:
        _roads = await asyncio.to_thread(_prepare_roads, network)
    return _roads


# the communities (and their streets) each partner unit is paired with today ($3: today)
PAIRED_TODAY = """
    SELECT p.unit_id, array_agg(p.community ORDER BY p.community) AS communities,
           array_agg(p.street ORDER BY p.community) AS streets FROM pairing p
    WHERE p.status = 'active' AND p.valid_from <= $3 AND p.valid_until >= $3
    GROUP BY p.unit_id
"""
# people on an active task that allows no other, by person
ON_TASKS = """
    SELECT a.person, array_agg(a.task ORDER BY a.task) AS tasks
    FROM task_assignee a JOIN task t ON t.id = a.task
    WHERE t.status IN ('assigned', 'accepted', 'en_route') AND NOT t.concurrent
    GROUP BY a.person
"""


async def load_workers(
    conn: asyncpg.Connection,
    now: datetime,
    ids: Sequence[int] | None = None,
    *,
    active_only: bool = True,
) -> dict[int, Worker]:
    """People (the given ones, or all) as the assignment rules see them: skills, place,
    pairings, hours worked today and the tasks they are on; what suggestions count too."""
    rows = await conn.fetch(
        f"""
        WITH hours AS ({HOURS_TODAY} GROUP BY person_id), paired AS ({PAIRED_TODAY}),
        busy AS ({ON_TASKS})
        SELECT p.id, p.name, p.street, p.community, p.skills, p.unit_id,
               coalesce(h.hours, 0)::float8 AS hours, pr.communities, pr.streets, b.tasks
        FROM person p
        LEFT JOIN hours h ON h.person_id = p.id
        LEFT JOIN paired pr ON pr.unit_id = p.unit_id
        LEFT JOIN busy b ON b.person = p.id
        WHERE ($4::int[] IS NULL OR p.id = ANY($4)) AND (p.active OR NOT $5)
        ORDER BY p.id
        """,
        day_start(now),
        now,
        local_day(now),
        None if ids is None else list(ids),
        active_only,
    )
    paired: dict[int | None, frozenset[Target]] = {None: frozenset()}
    for r in rows:  # a unit's pairings, made once for all its people (hundreds of them)
        if r["unit_id"] not in paired:
            paired[r["unit_id"]] = frozenset(
                Target(street=st, community=c)
                for c, st in zip(r["communities"] or [], r["streets"] or [], strict=True)
            )
    return {
        r["id"]: Worker(
            id=r["id"],
            name=r["name"],
            place=Target(street=r["street"], community=r["community"]),
            skills=frozenset(r["skills"]),
            paired=paired[r["unit_id"]],
            hours_today=max(float(r["hours"]), 0.0),
            tasks=frozenset(r["tasks"] or []),
        )
        for r in rows
    }


async def _candidates(
    conn: asyncpg.Connection, now: datetime, on_duty_only: bool
) -> list[asyncpg.Record]:
    """Active people with where they are (check-in point, duty community or home) and hours."""
    return list(
        await conn.fetch(
            f"""
            WITH hours AS ({HOURS_TODAY} GROUP BY person_id), paired AS ({PAIRED_TODAY})
            SELECT p.id, p.name, p.kind, p.community, p.skills,
                   coalesce(ci.lat, cc.lat, hc.lat, s.lat) AS lat,
                   coalesce(ci.lon, cc.lon, hc.lon, s.lon) AS lon,
                   coalesce(h.hours, 0)::float8 AS hours,
                   coalesce(pr.communities, '{{}}') AS paired
            FROM person p
            JOIN street s ON s.code = p.street
            LEFT JOIN check_in ci ON ci.person_id = p.id AND ci.checked_out_at IS NULL
            LEFT JOIN community cc ON cc.code = ci.community
            LEFT JOIN community hc ON hc.code = p.community
            LEFT JOIN hours h ON h.person_id = p.id
            LEFT JOIN paired pr ON pr.unit_id = p.unit_id
            WHERE p.active AND (NOT $4 OR ci.id IS NOT NULL)
            ORDER BY p.id
            """,
            day_start(now),
            now,
            local_day(now),
            on_duty_only,
        )
    )


def _candidate_id(person_id: int) -> str:
    return f"P{person_id:09d}"


async def _need_places(
    ctx: Context, conn: asyncpg.Connection, requests: Sequence[SuggestRequest]
) -> list[Place]:
    """Each need's community, inside the actor's scope, with its skills known."""
    places = []
    for k, req in enumerate(requests):
        place = await find_place(conn, req.community)
        authorize(ctx.actor, "people.suggest", place.target)
        await check_skills(conn, req.skills, "skills" if len(requests) == 1 else f"[{k}].skills")
        places.append(place)
    return places


def _needs(requests: Sequence[SuggestRequest], places: Sequence[Place]) -> list[Need]:
    return [
        Need(
            id=f"N{k:04d}",
            community=req.community,
            people=req.people,
            skills=frozenset(req.skills),
            duration_h=req.duration_h,
            lat=place.lat,
            lon=place.lon,
        )
        for k, (req, place) in enumerate(zip(requests, places, strict=True))
    ]


def _candidate(cid: str, r: asyncpg.Record) -> Candidate:
    return Candidate(
        id=cid,
        skills=frozenset(r["skills"]),
        community=r["community"],
        paired_communities=frozenset(r["paired"]),
        hours_worked=max(float(r["hours"]), 0.0),
        lat=r["lat"],
        lon=r["lon"],
    )


def _options(requests: Sequence[SuggestRequest]) -> AssignOptions:
    """Exact matching within the tightest travel limit any request sets."""
    limits = [r.max_travel_min for r in requests if r.max_travel_min is not None]
    return AssignOptions(policy="exact", max_travel_s=min(limits) * 60 if limits else None)


def _suggestions(
    need: Need, result: AssignmentResult, people: dict[str, asyncpg.Record]
) -> list[Suggestion]:
    """The people assigned to one need, named (the explanation too) instead of by id."""
    suggestions = []
    for a in result.assignments:
        if a.need_id != need.id:
            continue
        r = people[a.candidate_id]
        suggestions.append(
            Suggestion(
                person_id=r["id"],
                name=r["name"],
                kind=PersonKind(r["kind"]),
                community=r["community"],
                skills=list(r["skills"]),
                hours_today=round(max(float(r["hours"]), 0.0), 2),
                travel_min=round(a.travel_s / 60, 1),
                preferred=a.preferred,
                explanation=a.explanation.replace(a.candidate_id, r["name"]),
            )
        )
    return suggestions


def _response(
    need: Need,
    req: SuggestRequest,
    result: AssignmentResult,
    people: dict[str, asyncpg.Record],
    considered: int,
) -> SuggestResponse:
    suggestions = _suggestions(need, result, people)
    short = [
        Shortfall(missing=s.missing, reason=s.reason, explanation=s.explanation)
        for s in result.short
        if s.need_id == need.id
    ]
    return SuggestResponse(
        community=req.community,
        wanted=req.people,
        staffed=len(suggestions),
        considered=considered,
        suggestions=suggestions,
        short=short,
    )


async def suggest_for_needs(
    ctx: Context,
    requests: Sequence[SuggestRequest],
    state: Any = None,
    only: frozenset[int] | None = None,
) -> list[SuggestResponse]:
    """People for several needs at once (the incidents domain calls this for its tasks).

    Exact matching (min-cost max-flow in `geo.assignment`): as many people as possible,
    then the community's paired units and residents first, then the shortest travel, within
    skills and the daily hours limit; every need left short says why. `state` is a
    `geo.network.RoadState` with closures, default: all roads open; `only`, the people
    who may be offered at all (for a task: those `eligibility.placeable` on it).
    """
    authorize(ctx.actor, "people.suggest")
    if not requests:
        return []
    now = ctx.now()
    async with query(ctx) as conn:
        places = await _need_places(ctx, conn, requests)
        on_duty_only = all(r.on_duty_only for r in requests)
        rows = await _candidates(conn, now, on_duty_only)
    if only is not None:
        rows = [r for r in rows if r["id"] in only]
    road = await roads(ctx)
    needs = _needs(requests, places)
    people = {_candidate_id(r["id"]): r for r in rows}
    candidates = [_candidate(cid, r) for cid, r in people.items()]
    result = await asyncio.to_thread(
        assign_people,
        needs,
        candidates,
        state or road.state,
        road.router,
        options=_options(requests),
        community_nodes=None,
        snapper=road.snapper,
    )
    return [
        _response(need, req, result, people, len(candidates))
        for need, req in zip(needs, requests, strict=True)
    ]


async def suggest_people(ctx: Context, req: SuggestRequest, state: Any = None) -> SuggestResponse:
    """People for one need: suggestions, and the reason for any shortfall."""
    return (await suggest_for_needs(ctx, [req], state))[0]
