"""The illustrative preparedness `dispatch demo` seeds: one or two shelters per street and an
approved plan for each of the 169 communities, drawn from the synthetic people, the street
squads, community teams and the pairings in force. Labelled illustrative (source `demo`);
the names are synthetic, not real places. Seeded only into empty preparedness tables.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import asyncpg

from dispatch.accounts.policy import authorize
from dispatch.db import Command, Context, command, query
from dispatch.incidents.schemas import IncidentType, Level, TaskKind
from dispatch.preparedness.plans import insert_plan
from dispatch.preparedness.references import check_plan
from dispatch.preparedness.schemas import (
    AssemblyPoint,
    HazardSpec,
    Holder,
    HolderKind,
    PlanCreate,
    PledgeSpec,
    RoleSpec,
    ShelterStatus,
    Source,
    TaskTemplate,
)
from dispatch.preparedness.shelters import insert_shelter
from geo.coords import distance_m

DEMO_SEED = 20261204
CAPACITIES = (80, 120, 150, 200, 300)
EXTRA_HAZARDS = (
    HazardSpec(IncidentType.HEATWAVE, Level.III),
    HazardSpec(IncidentType.SNOW_ICE, Level.IV),
    HazardSpec(IncidentType.UTILITY_OUTAGE, Level.III),
)
# what a paired unit typically pledges to its community (item, low, high)
PLEDGES = (("WATER", 10, 40), ("FOOD", 5, 20), ("SANDBAG", 50, 200), ("FLASHLIGHT", 10, 30))
TASKS = [
    TaskTemplate(TaskKind.DOOR_CHECK, 2, 60, ["elderly_care"], "入户查看独居老人等关爱户（示意）"),
    TaskTemplate(TaskKind.EVACUATION, 4, 90, ["lifting"], "转移低洼院落居民至安置点（示意）"),
    TaskTemplate(TaskKind.GUARD, 2, 120, [], "积水点、危险路段值守（示意）"),
]


@dataclass(frozen=True)
class DemoReport:
    seeded: bool  # False: the tables held data already
    communities: int
    with_plan: int  # communities with an approved plan
    shelters: int


@dataclass
class _World:
    communities: list[asyncpg.Record]
    people: dict[str, list[int]]  # community -> active people, community workers first
    squads: dict[str, int]  # street -> its squad's team id
    teams: dict[str, int]  # community -> a community team
    units: dict[str, int]  # community -> the unit of its largest pairing in force


async def _world(conn: asyncpg.Connection, today: Any) -> _World:
    world = _World(
        await conn.fetch("SELECT code, name, street, lat, lon FROM community ORDER BY code"),
        {},
        {},
        {},
        {},
    )
    for r in await conn.fetch(
        "SELECT id, community FROM person WHERE active AND community IS NOT NULL "
        "ORDER BY community, kind <> 'community_worker', id"
    ):
        world.people.setdefault(r["community"], []).append(r["id"])
    for r in await conn.fetch("SELECT id, kind, street, community FROM team ORDER BY id"):
        if r["kind"] == "street_squad":
            world.squads.setdefault(r["street"], r["id"])
        elif r["kind"] == "community_team":
            world.teams.setdefault(r["community"], r["id"])
    for r in await conn.fetch(
        "SELECT community, unit_id FROM pairing WHERE status='active' AND valid_from <= $1 "
        "AND valid_until >= $1 ORDER BY community, pledged_people DESC, id",
        today,
    ):
        world.units.setdefault(r["community"], r["unit_id"])
    return world


async def _shelters(cmd: Command, world: _World, rng: random.Random) -> dict[str, list[Any]]:
    """One or two shelters per street, near one of its communities: street -> rows."""
    names = {r["code"]: r["name"] for r in await cmd.connection.fetch("SELECT * FROM street")}
    by_street: dict[str, list[asyncpg.Record]] = {}
    for c in world.communities:
        by_street.setdefault(c["street"], []).append(c)
    made: dict[str, list[Any]] = {}
    for street, communities in sorted(by_street.items()):
        for n, place in enumerate(
            rng.sample(communities, min(len(communities), rng.randint(1, 2))), 1
        ):
            values = {
                "code": f"SH{street[-3:]}-{n}",
                "name": f"{names[street]}第{n}临时安置点（示意）",
                "community": place["code"],
                "street": street,
                "lat": round(place["lat"] + rng.uniform(-0.002, 0.002), 6),
                "lon": round(place["lon"] + rng.uniform(-0.002, 0.002), 6),
                "capacity": rng.choice(CAPACITIES),
                "heating": rng.random() < 0.7,
                "accessible": rng.random() < 0.6,
                "medical": rng.random() < 0.4,
                "status": ShelterStatus.READY.value,
            }
            made.setdefault(street, []).append(await insert_shelter(cmd, values, Source.DEMO))
    return made


def _roles(world: _World, community: str, street: str) -> list[RoleSpec]:
    """The plan's roles, each with a deputy, from whoever the community has."""
    people = world.people.get(community, [])
    squad = world.squads.get(street)
    team, unit = world.teams.get(community), world.units.get(community)
    squad_h = None if squad is None else Holder(HolderKind.STREET_SQUAD, squad)
    backups = [
        *(Holder(HolderKind.PERSON, p) for p in people[:2]),
        *([] if team is None else [Holder(HolderKind.TEAM, team)]),
        *([] if squad_h is None else [squad_h]),
    ]
    roles = []
    if len(backups) >= 2:
        roles.append(RoleSpec("现场总指挥", backups[0], backups[1]))
    if squad_h is not None and team is not None:
        roles.append(RoleSpec("抢险救援组", squad_h, Holder(HolderKind.TEAM, team)))
    if unit is not None and backups:
        roles.append(RoleSpec("结对单位支援组", Holder(HolderKind.UNIT, unit), backups[-1]))
    return roles


def _plan(world: _World, c: asyncpg.Record, shelters: list[Any], rng: random.Random) -> PlanCreate:
    near = min(shelters, key=lambda s: distance_m((c["lat"], c["lon"]), (s["lat"], s["lon"])))
    return PlanCreate(
        community=c["code"],
        title=f"{c['name']}社区应急工作预案（示意）",
        hazards=[
            HazardSpec(IncidentType.RAINSTORM, Level.IV),
            HazardSpec(IncidentType.FIRE, Level.III),
            HazardSpec(IncidentType.EARTHQUAKE, Level.IV),
            rng.choice(EXTRA_HAZARDS),
        ],
        roles=_roles(world, c["code"], c["street"]),
        shelters=[near["id"]],
        tasks=list(TASKS),
        assembly_points=[_assembly_point(c)],
        pledges=_pledges(world.units.get(c["code"]), c["code"]),
    )


def _assembly_point(c: asyncpg.Record) -> AssemblyPoint:
    # drawn from the community's own seed: the plans seeded before these parts existed
    # (hazards, roles) come out the same
    rng = random.Random(f"{DEMO_SEED}-assembly-{c['code']}")
    return AssemblyPoint(
        name=f"{c['name']}社区居委会门前广场（示意）",
        lat=round(c["lat"] + rng.uniform(-0.0008, 0.0008), 6),
        lon=round(c["lon"] + rng.uniform(-0.0008, 0.0008), 6),
    )


def _pledges(unit: int | None, community: str) -> list[PledgeSpec]:
    """Two of the usual items from the community's paired unit, if it has one."""
    if unit is None:
        return []
    rng = random.Random(f"{DEMO_SEED}-pledges-{community}")
    return [
        PledgeSpec(unit=unit, item=item, quantity=rng.randint(low, high))
        for item, low, high in rng.sample(PLEDGES, 2)
    ]


async def demo_report(ctx: Context, seeded: bool) -> DemoReport:
    async with query(ctx) as conn:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM community) AS communities, "
            "(SELECT count(DISTINCT community) FROM community_plan WHERE status='approved') "
            "AS with_plan, (SELECT count(*) FROM shelter) AS shelters"
        )
    return DemoReport(seeded, row["communities"], row["with_plan"], row["shelters"])


async def seed_demo_preparedness(ctx: Context, seed: int = DEMO_SEED) -> DemoReport:
    """Shelters and approved plans, only into empty tables; every reference checked."""
    authorize(ctx.actor, "preparedness.demo")
    rng = random.Random(seed)
    async with command(ctx) as cmd:
        conn = cmd.connection
        if await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM shelter) OR EXISTS (SELECT 1 FROM community_plan)"
        ):
            seeded = False
        else:
            world = await _world(conn, cmd.now.date())
            shelters = await _shelters(cmd, world, rng)
            for c in world.communities:
                plan = _plan(world, c, shelters[c["street"]], rng)
                await check_plan(conn, plan, c["street"], c["code"])
                await insert_plan(cmd, plan, c["street"], Source.DEMO, approved=True)
            await cmd.audit(
                "preparedness.demo",
                "community_plan",
                None,
                None,
                {"seed": seed, "plans": len(world.communities)},
            )
            seeded = True
    return await demo_report(ctx, seeded)
