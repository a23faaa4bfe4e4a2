"""Reads of stock within the reader's scope: the catalogue, lots, stock lines, totals, a
stock card, the street summary and the ledger's movements."""

from __future__ import annotations

from datetime import timedelta

from dispatch.accounts.policy import authorize
from dispatch.clock import local
from dispatch.db import Context, query
from dispatch.stock.ledger import movements_of
from dispatch.stock.lookups import (
    SCOPED_DEPOTS,
    find_item,
    lot_status,
    near_expiry_days,
    read_depot,
    read_street,
    today,
)
from dispatch.stock.schemas import (
    CardRow,
    ItemView,
    LotView,
    MovementKind,
    MovementView,
    StockCard,
    StockLine,
    StockTotal,
    SummaryRow,
    TotalsBy,
)


async def list_items(ctx: Context) -> list[ItemView]:
    authorize(ctx.actor, "stock.catalogue")
    async with query(ctx) as conn:
        rows = await conn.fetch("SELECT * FROM item ORDER BY code")
    return [ItemView(**dict(r)) for r in rows]


async def list_lots(ctx: Context, item: str | None = None) -> list[LotView]:
    authorize(ctx.actor, "stock.catalogue")
    on = today(ctx.now())
    async with query(ctx) as conn:
        rows = await conn.fetch(
            "SELECT id, item, lot_number, expires_on FROM lot "
            "WHERE $1::varchar IS NULL OR item = $1 ORDER BY item, expires_on NULLS LAST, id",
            item,
        )
    return [LotView(**dict(r), status=lot_status(r["expires_on"], on)) for r in rows]


async def list_stock(
    ctx: Context,
    depot: str | None = None,
    street: str | None = None,
    item: str | None = None,
    include_empty: bool = False,
) -> list[StockLine]:
    """Lot lines of stock, by depot, street or item, within the reader's scope."""
    limited, street = read_street(ctx.actor, street)
    on = today(ctx.now())
    async with query(ctx) as conn:
        if depot is not None:
            await read_depot(conn, ctx.actor, depot)
        rows = await conn.fetch(
            f"""
            SELECT b.depot, d.street, b.item, l.lot_number AS lot, l.expires_on, b.qty
            FROM stock_balance b JOIN depot d ON d.code = b.depot JOIN lot l ON l.id = b.lot
            WHERE {SCOPED_DEPOTS} AND ($4::varchar IS NULL OR b.item = $4)
              AND ($5::boolean OR b.qty > 0)
            ORDER BY b.depot, b.item, l.expires_on NULLS LAST, l.id
            """,
            limited,
            street,
            depot,
            item,
            include_empty,
        )
    return [StockLine(**dict(r), status=lot_status(r["expires_on"], on)) for r in rows]


async def stock_totals(
    ctx: Context,
    by: TotalsBy = TotalsBy.DEPOT,
    street: str | None = None,
    item: str | None = None,
) -> list[StockTotal]:
    """Quantities summed per depot, per street or per item: usable, near expiry, expired."""
    limited, street = read_street(ctx.actor, street)
    on = today(ctx.now())
    near = on + timedelta(days=near_expiry_days())
    keys = {
        TotalsBy.DEPOT: ("b.depot", "d.street"),
        TotalsBy.STREET: ("NULL::varchar", "d.street"),
        TotalsBy.ITEM: ("NULL::varchar", "NULL::varchar"),
    }[by]
    async with query(ctx) as conn:
        rows = await conn.fetch(
            f"""
            SELECT {keys[0]} AS depot, {keys[1]} AS street, b.item,
                sum(b.qty) FILTER (WHERE l.expires_on IS NULL OR l.expires_on >= $5)::int
                    AS usable,
                sum(b.qty) FILTER (WHERE l.expires_on >= $5 AND l.expires_on < $6)::int
                    AS near_expiry,
                sum(b.qty) FILTER (WHERE l.expires_on < $5)::int AS expired,
                sum(b.qty)::int AS total
            FROM stock_balance b JOIN depot d ON d.code = b.depot JOIN lot l ON l.id = b.lot
            WHERE {SCOPED_DEPOTS} AND ($4::varchar IS NULL OR b.item = $4)
            GROUP BY 1, 2, 3 ORDER BY 1 NULLS FIRST, 2 NULLS FIRST, 3
            """,
            limited,
            street,
            None,
            item,
            on,
            near,
        )
    return [
        StockTotal(
            depot=r["depot"],
            street=r["street"],
            item=r["item"],
            usable=r["usable"] or 0,
            near_expiry=r["near_expiry"] or 0,
            expired=r["expired"] or 0,
            total=r["total"] or 0,
        )
        for r in rows
    ]


async def stock_card(ctx: Context, depot: str, item: str) -> StockCard:
    """The ledger of one item at one depot, oldest first, with the running balance."""
    async with query(ctx) as conn:
        await read_depot(conn, ctx.actor, depot)
        await find_item(conn, item)
        rows = await conn.fetch(
            """
            SELECT m.id, m.at, m.kind, l.lot_number AS lot, l.expires_on, m.qty,
                (sum(m.qty) OVER (ORDER BY m.id))::int AS balance, m.reason, m.community,
                m.transfer_id AS transfer, m.reverses, m.actor, m.note
            FROM stock_movement m JOIN lot l ON l.id = m.lot
            WHERE m.depot=$1 AND m.item=$2 ORDER BY m.id
            """,
            depot,
            item,
        )
    card = [
        CardRow(**{**dict(r), "at": local(r["at"]), "kind": MovementKind(r["kind"])}) for r in rows
    ]
    return StockCard(depot, item, card[-1].balance if card else 0, card)


async def summary(ctx: Context, street: str | None = None) -> list[SummaryRow]:
    """On hand (usable) against the reserve standard, per street and item."""
    limited, street = read_street(ctx.actor, street)
    on = today(ctx.now())
    async with query(ctx) as conn:
        rows = await conn.fetch(
            f"""
            WITH held AS (
                SELECT b.depot, b.item, sum(b.qty)::int AS qty
                FROM stock_balance b JOIN lot l ON l.id = b.lot
                WHERE l.expires_on IS NULL OR l.expires_on >= $4
                GROUP BY b.depot, b.item
            ), lines AS (
                SELECT depot, item FROM reserve_standard UNION SELECT depot, item FROM held
            )
            SELECT d.street, coalesce(s.name, '区级储备') AS street_name, x.item,
                coalesce(sum(h.qty), 0)::int AS on_hand,
                coalesce(sum(r.minimum), 0)::int AS standard
            FROM lines x JOIN depot d ON d.code = x.depot
            LEFT JOIN street s ON s.code = d.street
            LEFT JOIN held h ON h.depot = x.depot AND h.item = x.item
            LEFT JOIN reserve_standard r ON r.depot = x.depot AND r.item = x.item
            WHERE {SCOPED_DEPOTS}
            GROUP BY d.street, s.name, x.item ORDER BY d.street NULLS FIRST, x.item
            """,
            limited,
            street,
            None,
            on,
        )
    return [
        SummaryRow(
            street=r["street"],
            street_name=r["street_name"],
            item=r["item"],
            on_hand=r["on_hand"],
            standard=r["standard"],
            gap=max(0, r["standard"] - r["on_hand"]),
            percent=round(100 * r["on_hand"] / r["standard"], 1) if r["standard"] else None,
        )
        for r in rows
    ]


async def list_movements(
    ctx: Context,
    depot: str | None = None,
    item: str | None = None,
    kind: MovementKind | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[MovementView]:
    """The ledger, newest first, within the reader's scope."""
    limited, street = read_street(ctx.actor)
    async with query(ctx) as conn:
        if depot is not None:
            await read_depot(conn, ctx.actor, depot)
        rows = await conn.fetch(
            f"""
            SELECT m.id FROM stock_movement m JOIN depot d ON d.code = m.depot
            WHERE {SCOPED_DEPOTS} AND ($4::varchar IS NULL OR m.item = $4)
              AND ($5::varchar IS NULL OR m.kind = $5) AND ($6::bigint IS NULL OR m.id < $6)
            ORDER BY m.id DESC LIMIT $7
            """,
            limited,
            street,
            depot,
            item,
            kind.value if kind else None,
            before_id,
            limit,
        )
        found = await movements_of(conn, [r["id"] for r in rows])
    return sorted(found, key=lambda m: -m.id)
