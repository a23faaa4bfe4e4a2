"""A shelter's needs (安置点物资需求): what its present occupancy calls for by per-person
norms, less what is already asked for it, and those needs turned into supply requests the
planner serves like a community's, delivered at the shelter.

Asking is idempotent by content, not only by key: the needs are always "norm for the people
there now, minus what is already requested for this shelter and item", so asking twice
asks for nothing more, and the shelter's row is locked while asking, so two workers asking
at once cannot both ask for the same quilts. (A keyed retry is answered from the
Idempotency-Key record before it gets here.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import asyncpg

from dispatch.accounts.policy import authorize
from dispatch.db import Context, command, query
from dispatch.errors import Conflict, NotFound
from dispatch.incidents.records import ACTIVE_INCIDENT
from dispatch.incidents.requests import check_shelter, insert_request
from dispatch.incidents.schemas import RequestCreate, RequestStatus, RequestView
from dispatch.preparedness.schemas import (
    ShelterNeed,
    ShelterNeeds,
    ShelterRequestsCreate,
    ShelterRequestsResult,
)
from dispatch.preparedness.shelters import shelter_row, shelter_target


@dataclass(frozen=True)
class Norm:
    """`heated` units (or `unheated` in a shelter without heating) per `people` evacuees."""

    item: str
    people: int
    heated: int
    unheated: int


# Illustrative norms, not a standard: one day's drinking water (a case of 24 × 550 ml is
# about 13 L, three litres a person a day) and instant food for every four people, a quilt
# each, and where the shelter has no heating a second quilt and a folding bed off the cold
# floor. The item codes are the catalogue's (geo/data/dongcheng/items.csv).
NORMS = (
    Norm("WATER", people=4, heated=1, unheated=1),
    Norm("FOOD", people=4, heated=1, unheated=1),
    Norm("QUILT", people=1, heated=1, unheated=2),
    Norm("COT", people=1, heated=0, unheated=1),
)
# what counts as already asked for: waiting, planned or delivered (not cancelled or unmet)
ASKED = (
    RequestStatus.OPEN,
    RequestStatus.PLANNED,
    RequestStatus.PARTIALLY_FULFILLED,
    RequestStatus.FULFILLED,
)


def norm_quantity(norm: Norm, occupancy: int, heating: bool) -> int:
    """Units for `occupancy` people, rounded up: a part of a case is a whole case."""
    per = norm.heated if heating else norm.unheated
    return math.ceil(occupancy * per / norm.people)


async def _needs(conn: asyncpg.Connection, shelter: asyncpg.Record) -> ShelterNeeds:
    """The norms for the people there now, against what is asked for this shelter in any
    active incident (a shelter is one place: what one incident sent is there for all)."""
    items = {
        r["code"]: r
        for r in await conn.fetch(
            "SELECT code, name_zh, name_en, unit FROM item WHERE code = ANY($1::varchar[])",
            [n.item for n in NORMS],
        )
    }
    asked = {
        r["item"]: int(r["qty"])
        for r in await conn.fetch(
            "SELECT r.item, sum(r.quantity) AS qty FROM supply_request r "
            "JOIN incident i ON i.id = r.incident WHERE r.shelter_id = $1 "
            "AND r.status = ANY($2::varchar[]) AND i.status = ANY($3::varchar[]) GROUP BY r.item",
            shelter["id"],
            [s.value for s in ASKED],
            list(ACTIVE_INCIDENT),
        )
    }
    needs = []
    for norm in NORMS:
        quantity = norm_quantity(norm, shelter["occupancy"], shelter["heating"])
        item = items.get(norm.item)
        if item is None or quantity == 0:
            continue
        requested = asked.get(norm.item, 0)
        needs.append(
            ShelterNeed(
                item=norm.item,
                item_name=item["name_zh"],
                item_name_en=item["name_en"],
                unit=item["unit"],
                quantity=quantity,
                requested=requested,
                to_request=max(0, quantity - requested),
            )
        )
    return ShelterNeeds(
        shelter=shelter["id"],
        shelter_name=shelter["name"],
        occupancy=shelter["occupancy"],
        heating=shelter["heating"],
        needs=needs,
    )


async def shelter_needs(ctx: Context, shelter_id: int) -> ShelterNeeds:
    """The shelter's needs, to those who may ask for its community."""
    authorize(ctx.actor, "requests.read")
    async with query(ctx) as conn:
        shelter = await shelter_row(conn, shelter_id)
        authorize(ctx.actor, "requests.read", shelter_target(shelter))
        return await _needs(conn, shelter)


async def request_needs(
    ctx: Context, shelter_id: int, data: ShelterRequestsCreate
) -> ShelterRequestsResult:
    """One supply request per item still needed, for the shelter, in the incident: all
    in one transaction, or none."""
    authorize(ctx.actor, "requests.create")
    async with command(ctx) as cmd:
        conn = cmd.connection
        shelter = await shelter_row(conn, shelter_id, lock=True)
        authorize(ctx.actor, "requests.create", shelter_target(shelter))
        incident = await conn.fetchrow("SELECT * FROM incident WHERE id=$1", data.incident)
        if incident is None:
            raise NotFound(f"no incident {data.incident}", field="incident")
        if incident["status"] not in ACTIVE_INCIDENT:
            raise Conflict(
                f"incident {data.incident} is {incident['status']}",
                field="incident",
                code="incident.not_active",
                params={"incident": data.incident, "status": incident["status"]},
            )
        await check_shelter(conn, shelter_id, shelter["community"])
        needs = await _needs(conn, shelter)
        people = shelter["occupancy"]
        note = f"安置点需求：按 {people} 人计 · shelter needs for {people} people"
        made: list[RequestView] = []
        for need in needs.needs:
            if need.to_request == 0:
                continue
            body = RequestCreate(
                community=shelter["community"],
                item=need.item,
                quantity=need.to_request,
                priority=data.priority,
                need_by=data.need_by,
                note=note,
                shelter=shelter_id,
            )
            made.append(await insert_request(cmd, incident, shelter["street"], body))
        return ShelterRequestsResult(needs=needs, requests=made)
