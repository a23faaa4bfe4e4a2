"""Reserve standards (the minimum each depot keeps of an item) and the alerts: below
standard, near expiry, expired."""

from __future__ import annotations

from datetime import timedelta

from dispatch.accounts.policy import authorize
from dispatch.clock import local
from dispatch.db import Context, command, query
from dispatch.stock.lookups import (
    SCOPED_DEPOTS,
    depot_target,
    find_depot,
    find_item,
    near_expiry_days,
    read_depot,
    read_street,
    today,
)
from dispatch.stock.schemas import (
    AlertKind,
    AlertView,
    StandardUpdate,
    StandardView,
)


async def list_standards(
    ctx: Context, depot: str | None = None, street: str | None = None
) -> list[StandardView]:
    limited, street = read_street(ctx.actor, street)
    async with query(ctx) as conn:
        if depot is not None:
            await read_depot(conn, ctx.actor, depot)
        rows = await conn.fetch(
            f"""
            SELECT r.depot, r.item, r.minimum, r.source, r.updated_at
            FROM reserve_standard r JOIN depot d ON d.code = r.depot
            WHERE {SCOPED_DEPOTS} ORDER BY r.depot, r.item
            """,
            limited,
            street,
            depot,
        )
    return [StandardView(**{**dict(r), "updated_at": local(r["updated_at"])}) for r in rows]


async def set_standard(ctx: Context, depot: str, item: str, data: StandardUpdate) -> StandardView:
    """A commander changes a minimum; audited, and kept by later catalogue loads."""
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await find_depot(conn, depot)
        authorize(ctx.actor, "stock.standards", depot_target(row))
        await find_item(conn, item)
        before = await conn.fetchrow(
            "SELECT minimum, source FROM reserve_standard WHERE depot=$1 AND item=$2 FOR UPDATE",
            depot,
            item,
        )
        after = await conn.fetchrow(
            """
            INSERT INTO reserve_standard (depot, item, minimum, source, updated_at)
            VALUES ($1, $2, $3, 'edited', $4)
            ON CONFLICT (depot, item) DO UPDATE
                SET minimum = EXCLUDED.minimum, source = 'edited', updated_at = EXCLUDED.updated_at
            RETURNING depot, item, minimum, source, updated_at
            """,
            depot,
            item,
            data.minimum,
            cmd.now,
        )
        await cmd.audit(
            "stock.standards",
            "reserve_standard",
            f"{depot}/{item}",
            dict(before) if before else None,
            {"minimum": data.minimum, "source": "edited", "note": data.note},
        )
        cmd.emit(
            "stock.standard_changed",
            {"depot": depot, "item": item, "minimum": data.minimum},
            street=row["street"],
        )
    return StandardView(**{**dict(after), "updated_at": local(after["updated_at"])})


async def alerts(
    ctx: Context,
    depot: str | None = None,
    street: str | None = None,
    kind: AlertKind | None = None,
) -> list[AlertView]:
    """Below standard (usable stock), near expiry and expired lots, within scope."""
    limited, street = read_street(ctx.actor, street)
    on = today(ctx.now())
    near = on + timedelta(days=near_expiry_days())
    found: list[AlertView] = []
    async with query(ctx) as conn:
        if depot is not None:
            await read_depot(conn, ctx.actor, depot)
        if kind in (None, AlertKind.BELOW_STANDARD):
            rows = await conn.fetch(
                f"""
                SELECT r.depot, d.street, r.item, r.minimum,
                    coalesce((SELECT sum(b.qty) FROM stock_balance b JOIN lot l ON l.id = b.lot
                              WHERE b.depot = r.depot AND b.item = r.item
                                AND (l.expires_on IS NULL OR l.expires_on >= $4)), 0)::int AS qty
                FROM reserve_standard r JOIN depot d ON d.code = r.depot
                WHERE {SCOPED_DEPOTS}
                ORDER BY r.depot, r.item
                """,
                limited,
                street,
                depot,
                on,
            )
            found += [
                AlertView(
                    AlertKind.BELOW_STANDARD,
                    r["depot"],
                    r["street"],
                    r["item"],
                    r["qty"],
                    minimum=r["minimum"],
                )
                for r in rows
                if r["qty"] < r["minimum"]
            ]
        if kind in (None, AlertKind.NEAR_EXPIRY, AlertKind.EXPIRED):
            rows = await conn.fetch(
                f"""
                SELECT b.depot, d.street, b.item, b.qty, l.lot_number, l.expires_on
                FROM stock_balance b JOIN depot d ON d.code = b.depot JOIN lot l ON l.id = b.lot
                WHERE {SCOPED_DEPOTS} AND b.qty > 0 AND l.expires_on < $4
                ORDER BY l.expires_on, b.depot, b.item
                """,
                limited,
                street,
                depot,
                near,
            )
            for r in rows:
                expired = r["expires_on"] < on
                this = AlertKind.EXPIRED if expired else AlertKind.NEAR_EXPIRY
                if kind in (None, this):
                    found.append(
                        AlertView(
                            this,
                            r["depot"],
                            r["street"],
                            r["item"],
                            r["qty"],
                            lot=r["lot_number"],
                            expires_on=r["expires_on"],
                            days_left=(r["expires_on"] - on).days,
                        )
                    )
    return found
