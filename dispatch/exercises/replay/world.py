"""The world before the clock starts: the copy's roster stood down, its closures and
outages lifted, the reference stock, the depots' vehicle crews, and the scenario's `world`
(people on duty, teams on call, depots out, roads closed)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dispatch.db import command, query
from dispatch.errors import DomainError
from dispatch.exercises import scenario as sc
from dispatch.exercises.replay.roads import close, take_depot_out
from dispatch.exercises.replay.state import CREW_PER_DEPOT, ReplayState, as_minutes
from dispatch.incidents.service import depot_back, reopen_road
from dispatch.people.schemas import (
    CheckInRequest,
    ImportKind,
    TeamCreate,
    TeamKind,
    UnitCreate,
    UnitKind,
)
from dispatch.people.service import check_in, create_team, create_unit, import_table
from dispatch.stock.schemas import ReceiptCreate, ReceiptLine, StocktakeCreate
from dispatch.stock.schemas import StocktakeLine as CountLine
from dispatch.stock.service import receive, stocktake


async def prepare_world(state: ReplayState) -> None:
    policy = state.scenario.policy
    state.record(
        "scenario",
        state.scenario.name,
        state.scenario.seed,
        state.planner,
        as_minutes(policy.replan_every),
        policy.auto_approve,
        policy.assign_people,
        policy.vehicle_speed_kmh,
        policy.handling_minutes,
    )
    await lift_copied_state(state)
    await reference_stock(state)
    await make_crews(state)
    world = state.scenario.world
    for k, duty in enumerate(world.on_duty):
        await arrive_on_duty(state, duty.community, duty.people, duty.skills, f"W{k}")
    for team in world.teams:
        await team_on_call(state, team)
    for depot in world.depots_out:
        await take_depot_out(state, depot)
    for closure in world.closed_roads:
        try:
            await close(state, closure, None)
        except DomainError as exc:  # e.g. an edge that is no road of this network
            state.refuse("close_road", exc)
    state.record("world", len(world.stock), list(world.depots_out), len(world.closed_roads))


async def lift_copied_state(state: ReplayState) -> None:
    """The copy's duty roster stands down (setup, in the sandbox only: the scenario says
    who is on duty); closures and outages copied from the real world are lifted."""
    ctx = state.context()
    async with command(ctx) as cmd:
        stood_down = await cmd.connection.execute(
            "UPDATE check_in SET checked_out_at = greatest(checked_in_at, $1) "
            "WHERE checked_out_at IS NULL",
            state.now,
        )
        await cmd.audit("replay.roster_stood_down", "check_in", None, None, {"rows": stood_down})
        closures = await cmd.connection.fetch(
            "SELECT id FROM road_closure WHERE opened_at IS NULL ORDER BY id"
        )
        outages = await cmd.connection.fetch(
            "SELECT id FROM depot_outage WHERE back_at IS NULL ORDER BY id"
        )
    for row in closures:
        await reopen_road(ctx, row["id"])
    for row in outages:
        await depot_back(ctx, row["id"])


async def reference_stock(state: ReplayState) -> None:
    """Every depot holds its reserve standard, in one lot per item, except the lines
    `world.stock` sets: counted through a stocktake, filled through a receipt."""
    ctx = state.context()
    async with query(ctx) as conn:
        standards = await conn.fetch(
            "SELECT depot, item, minimum FROM reserve_standard ORDER BY depot, item"
        )
        lots = await conn.fetch(
            "SELECT b.depot, b.item, l.lot_number FROM stock_balance b "
            "JOIN lot l ON l.id = b.lot WHERE b.qty > 0 ORDER BY b.depot, b.item, l.lot_number"
        )
        shelf = {
            r["code"]: r["shelf_life_days"]
            for r in await conn.fetch("SELECT code, shelf_life_days FROM item")
        }
        depots = [r["code"] for r in await conn.fetch("SELECT code FROM depot ORDER BY code")]
    start_day = state.scenario.start.date()

    def expiry(item: str) -> Any:
        days = shelf.get(item)
        return None if not days else start_day + timedelta(days=int(days))

    target: dict[tuple[str, str], tuple[int, Any, str]] = {
        (r["depot"], r["item"]): (int(r["minimum"]), expiry(r["item"]), "REF") for r in standards
    }
    for line in state.scenario.world.stock:
        expires = line.expires or expiry(line.item)
        tag = "REF" if line.expires is None else f"S{line.expires:%Y%m%d}"
        target[(line.depot, line.item)] = (line.quantity, expires, tag)
    for depot in depots:
        counted = [CountLine(item=r["item"], lot=r["lot_number"], counted=0) for r in lots]
        counted = [c for c, r in zip(counted, lots, strict=True) if r["depot"] == depot]
        if counted:
            await stocktake(ctx, StocktakeCreate(depot=depot, lines=counted))
        lines = [
            ReceiptLine(
                item=item,
                lot=f"REPLAY-{tag}-{item}",
                qty=qty,
                expires_on=expires,
            )
            for (d, item), (qty, expires, tag) in sorted(target.items())
            if d == depot and qty > 0
        ]
        if lines:
            await receive(
                ctx,
                ReceiptCreate(depot=depot, lines=lines, note="演练初始库存 / the replay's world"),
            )
    state.record("stock", sum(q for q, _, _ in target.values()), len([t for t in target if t]))


async def new_people(
    state: ReplayState,
    community: str | None,
    street: str | None,
    count: int,
    skills: tuple[str, ...],
    kind: str,
    unit_code: str = "",
) -> list[tuple[str, int]]:
    """People made for the scenario (one import, one command), with replay codes."""
    rows = ["code,name,kind,community,street,unit_code,skills,party_branch"]
    branch = "演练党支部" if kind == "party_member" else ""
    codes = []
    for _ in range(count):
        state.people_made += 1
        code = f"RP{state.people_made:06d}"
        codes.append(code)
        rows.append(
            f"{code},演练人员R{state.people_made:04d},{kind},{community or ''},{street or ''},"
            f"{unit_code},{';'.join(skills)},{branch}"
        )
    await import_table(
        state.context(), ImportKind.PEOPLE, ("\n".join(rows) + "\n").encode(), "people.csv"
    )
    async with query(state.context()) as conn:
        found = await conn.fetch(
            "SELECT code, id FROM person WHERE code = ANY($1::varchar[])", codes
        )
    ids = {r["code"]: r["id"] for r in found}
    made = [(code, ids[code]) for code in codes]
    for code, person in made:
        state.codes[person] = code
    return made


async def make_crews(state: ReplayState) -> None:
    """Two vehicle crew per depot (street squad members, not on duty for other tasks):
    deliveries are staffed by the depot that sends them."""
    async with query(state.context()) as conn:
        depots = await conn.fetch(
            "SELECT d.code, coalesce(d.street, (SELECT min(code) FROM street)) AS street "
            "FROM depot d ORDER BY d.code"
        )
    for row in depots:
        made = await new_people(
            state, None, row["street"], CREW_PER_DEPOT, ("driving",), "squad_member"
        )
        state.crews[row["code"]] = [person for _, person in made]


async def arrive_on_duty(
    state: ReplayState, community: str, people: int, skills: tuple[str, ...], key: str
) -> None:
    made = await new_people(state, community, None, people, skills, "party_member")
    for code, person in made:
        await check_in(state.context(), CheckInRequest(person_id=person, community=community))
        state.on_duty.setdefault(community, []).append((code, person))
    state.record("check_in", key, community, people, sorted(skills))


async def team_on_call(state: ReplayState, team: sc.TeamOnCall) -> None:
    ctx = state.context()
    code = f"RT{team.id}"[:20]
    unit = await create_unit(
        ctx, UnitCreate(code=code, name=team.unit[:120], kind=UnitKind.MUNICIPAL)
    )
    made = await new_people(
        state, team.community, None, team.size, team.skills, "unit_member", code
    )
    ids = [person for _, person in made]
    await create_team(
        ctx,
        TeamCreate(
            name=f"{team.unit}·{team.id}"[:80],
            kind=TeamKind.UNIT_TEAM,
            community=team.community,
            unit_id=unit.id,
            leader_id=ids[0],
            member_ids=ids,
        ),
    )
    for code_, person in made:
        await check_in(ctx, CheckInRequest(person_id=person, community=team.community))
        state.on_duty.setdefault(team.community, []).append((code_, person))
    state.record("team", team.id, team.community, team.size, sorted(team.skills))
