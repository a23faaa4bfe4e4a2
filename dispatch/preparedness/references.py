"""What a plan refers to, checked before it is written, and shown with names.

A role's holder (and deputy) is a person (active), a team, a partner unit, or the street
squad of the plan's own street; a plan's shelters are shelter rows; its task templates
name known skills. The first reference that names nothing is refused (422) by its field.
Phones shown with a holder are masked like everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import asyncpg

from dispatch.errors import InvalidInput
from dispatch.incidents.schemas import TaskKind
from dispatch.people.lookups import mask_phone
from dispatch.preparedness.schemas import (
    HazardSpec,
    Holder,
    HolderKind,
    HolderView,
    PlanCreate,
    PledgeSpec,
    RoleSpec,
    TaskTemplate,
)

KIND_ZH = {
    HolderKind.PERSON: "人员",
    HolderKind.TEAM: "队伍",
    HolderKind.UNIT: "结对单位",
    HolderKind.STREET_SQUAD: "街道应急队",
}
# (kind) -> the row of a holder: its name and the phone to show (masked)
HOLDER_SELECT = {
    HolderKind.PERSON: "SELECT id, name, phone FROM person WHERE id = ANY($1::int[]) AND active",
    HolderKind.TEAM: (
        "SELECT t.id, t.name, p.phone, t.kind, t.street FROM team t "
        "LEFT JOIN person p ON p.id = t.leader_id WHERE t.id = ANY($1::int[])"
    ),
    HolderKind.UNIT: (
        "SELECT id, name, contact_phone AS phone FROM partner_unit WHERE id = ANY($1::int[])"
    ),
}
HOLDER_SELECT[HolderKind.STREET_SQUAD] = HOLDER_SELECT[HolderKind.TEAM]


def unknown(kind: str, ref: int | str, field: str) -> InvalidInput:
    return InvalidInput(
        f"no {kind} {ref}", field=field, code="reference.unknown", params={"kind": kind, "id": ref}
    )


async def holder_rows(
    conn: asyncpg.Connection, holders: Iterable[Holder]
) -> dict[tuple[HolderKind, int], asyncpg.Record]:
    """The rows of the holders that exist, by (kind, id)."""
    wanted: dict[HolderKind, set[int]] = {}
    for h in holders:
        wanted.setdefault(h.kind, set()).add(h.id)
    found: dict[tuple[HolderKind, int], asyncpg.Record] = {}
    for kind, ids in wanted.items():
        for row in await conn.fetch(HOLDER_SELECT[kind], sorted(ids)):
            found[(kind, row["id"])] = row
    return found


def _check_holder(
    rows: dict[tuple[HolderKind, int], asyncpg.Record], holder: Holder, street: str, field: str
) -> None:
    row = rows.get((holder.kind, holder.id))
    if row is None:
        raise unknown(KIND_ZH[holder.kind], holder.id, field)
    if holder.kind is HolderKind.STREET_SQUAD and (
        row["kind"] != "street_squad" or row["street"] != street
    ):
        raise InvalidInput(
            f"team {holder.id} is not the street squad of street {street}",
            field=field,
            code="plan.not_street_squad",
            params={"team": row["name"], "street": street},
        )


async def check_roles(conn: asyncpg.Connection, roles: Sequence[RoleSpec], street: str) -> None:
    rows = await holder_rows(conn, [h for r in roles for h in (r.holder, r.deputy)])
    for i, role in enumerate(roles):
        _check_holder(rows, role.holder, street, f"roles[{i}].holder")
        _check_holder(rows, role.deputy, street, f"roles[{i}].deputy")
        if role.holder == role.deputy:
            raise InvalidInput(
                f"role {role.role}: the deputy is the holder",
                field=f"roles[{i}].deputy",
                code="plan.deputy_is_holder",
                params={"role": role.role},
            )


async def check_shelters(conn: asyncpg.Connection, shelters: Sequence[int]) -> None:
    known = {
        r["id"]
        for r in await conn.fetch("SELECT id FROM shelter WHERE id = ANY($1::int[])", shelters)
    }
    for i, shelter in enumerate(shelters):
        if shelter not in known:
            raise unknown("安置点", shelter, f"shelters[{i}]")
    if len(set(shelters)) != len(shelters):
        raise InvalidInput("a shelter is named twice", field="shelters", code="plan.duplicate")


async def check_tasks(conn: asyncpg.Connection, tasks: Sequence[TaskTemplate]) -> None:
    known = {r["code"] for r in await conn.fetch("SELECT code FROM skill")}
    for i, task in enumerate(tasks):
        if task.kind is TaskKind.DELIVERY:
            raise InvalidInput(
                "delivery tasks come from approved supply plans, not emergency plans",
                field=f"tasks[{i}].kind",
                code="plan.delivery_task",
            )
        for j, skill in enumerate(task.skills):
            if skill not in known:
                raise unknown("技能", skill, f"tasks[{i}].skills[{j}]")


def check_hazards(hazards: Sequence[HazardSpec]) -> None:
    types = [h.type for h in hazards]
    if len(set(types)) != len(types):
        raise InvalidInput("a hazard is named twice", field="hazards", code="plan.duplicate")


async def check_pledges(
    conn: asyncpg.Connection, pledges: Sequence[PledgeSpec], community: str
) -> None:
    """A pledge names a known item and a partner unit paired with the plan's community:
    the pairing agreement (结对共建) is what makes the unit a reserve of that community."""
    units = {
        r["id"]: r
        for r in await conn.fetch(
            "SELECT u.id, u.name, EXISTS (SELECT 1 FROM pairing p WHERE p.unit_id = u.id "
            "AND p.community = $2 AND p.status = 'active') AS paired "
            "FROM partner_unit u WHERE u.id = ANY($1::int[])",
            sorted({p.unit for p in pledges}),
            community,
        )
    }
    items = {r["code"] for r in await conn.fetch("SELECT code FROM item")}
    seen: set[tuple[int, str]] = set()
    for i, pledge in enumerate(pledges):
        unit = units.get(pledge.unit)
        if unit is None:
            raise unknown(KIND_ZH[HolderKind.UNIT], pledge.unit, f"pledges[{i}].unit")
        if not unit["paired"]:
            name = await conn.fetchval("SELECT name FROM community WHERE code=$1", community)
            raise InvalidInput(
                f"unit {pledge.unit} is not paired with community {community}",
                field=f"pledges[{i}].unit",
                code="plan.unit_not_paired",
                params={"unit": unit["name"], "community": name or community},
            )
        if pledge.item not in items:
            raise unknown("物资", pledge.item, f"pledges[{i}].item")
        if (pledge.unit, pledge.item) in seen:
            raise InvalidInput(
                "a unit pledges one item twice", field=f"pledges[{i}]", code="plan.duplicate"
            )
        seen.add((pledge.unit, pledge.item))


async def check_plan(
    conn: asyncpg.Connection, data: PlanCreate, street: str, community: str
) -> None:
    """Every reference of the plan, before anything of it is written."""
    check_hazards(data.hazards)
    await check_roles(conn, data.roles, street)
    await check_shelters(conn, data.shelters)
    await check_tasks(conn, data.tasks)
    await check_pledges(conn, data.pledges, community)


def holder_view(
    rows: dict[tuple[HolderKind, int], asyncpg.Record], kind: HolderKind, ref: int
) -> HolderView:
    row = rows.get((kind, ref))
    name = "（已停用）" if row is None else row["name"]
    phone = None if row is None else mask_phone(row["phone"])
    return HolderView(kind=kind, id=ref, name=name, phone=phone)
