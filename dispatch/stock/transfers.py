"""Transfers between depots or to a community: plan, dispatch, receive, cancel (the state
machine planned -> dispatched -> received | cancelled), and the transfer reads within
the reader's transfer scope."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

from dispatch.accounts.policy import STREET_SCOPED, Actor, Target, authorize
from dispatch.clock import local
from dispatch.db import Command, Context, command, query
from dispatch.errors import Conflict, Forbidden, InvalidInput, NotFound
from dispatch.stock.ledger import (
    Move,
    Watch,
    idempotent_key,
    post,
)
from dispatch.stock.lookups import (
    depot_target,
    find_community,
    find_depot,
    find_item,
    find_lot,
)
from dispatch.stock.picking import pick_all
from dispatch.stock.references import check_references, cites
from dispatch.stock.schemas import (
    InTransitRow,
    MovementKind,
    PickLine,
    PickView,
    TransferCancel,
    TransferCreate,
    TransferLineView,
    TransferReceive,
    TransferStatus,
    TransferView,
)


async def _transfer_row(conn: asyncpg.Connection, transfer_id: int) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM stock_transfer WHERE id=$1 FOR UPDATE", transfer_id)
    if row is None:
        raise NotFound(f"no transfer {transfer_id}", field="transfer_id")
    return row


async def _dest_target(conn: asyncpg.Connection, row: asyncpg.Record) -> Target:
    if row["dest_depot"] is not None:
        return depot_target(await find_depot(conn, row["dest_depot"], "dest_depot"))
    community = await find_community(conn, row["dest_community"], "dest_community")
    return Target(street=community["street"], community=community["code"])


def _illegal(row: asyncpg.Record, wanted: str) -> Conflict:
    return Conflict(
        f"transfer {row['id']} is {row['status']}: it cannot be {wanted}", field="status"
    )


async def create_transfer(ctx: Context, data: TransferCreate) -> TransferView:
    """Plan a transfer; nothing moves until it is dispatched."""
    async with command(ctx) as cmd:
        conn = cmd.connection
        source = await find_depot(conn, data.source, "source")
        authorize(ctx.actor, "stock.transfer.create", depot_target(source))
        if (data.dest_depot is None) == (data.dest_community is None):
            raise InvalidInput(
                "name exactly one destination: dest_depot or dest_community", field="dest_depot"
            )
        if data.dest_depot is not None:
            await find_depot(conn, data.dest_depot, "dest_depot")
            if data.dest_depot == data.source:
                raise InvalidInput("a transfer goes to another depot", field="dest_depot")
        if data.dest_community is not None:
            await find_community(conn, data.dest_community, "dest_community")
        await check_references(cmd, cites(data, data.dest_community))
        lots: list[int | None] = []
        for i, line in enumerate(data.lines):
            await find_item(conn, line.item, f"lines[{i}].item")
            lot = await find_lot(conn, line.item, line.lot, f"lines[{i}].lot") if line.lot else None
            lots.append(lot["id"] if lot else None)
        transfer_id: int = await conn.fetchval(
            """
            INSERT INTO stock_transfer (source, dest_depot, dest_community, status, incident_id,
                task_id, request_id, note, created_at, created_by)
            VALUES ($1, $2, $3, 'planned', $4, $5, $6, $7, $8, $9) RETURNING id
            """,
            data.source,
            data.dest_depot,
            data.dest_community,
            data.incident,
            data.task,
            data.request,
            data.note,
            cmd.now,
            ctx.actor.username,
        )
        for line, lot_id in zip(data.lines, lots, strict=True):
            await conn.execute(
                "INSERT INTO stock_transfer_line (transfer, item, lot, qty) VALUES ($1,$2,$3,$4)",
                transfer_id,
                line.item,
                lot_id,
                line.qty,
            )
        view = await transfer_view(conn, transfer_id)
        await cmd.audit("stock.transfer.create", "stock_transfer", transfer_id, None, _plain(view))
        cmd.emit(
            "transfer.planned",
            {"transfer": transfer_id, "source": data.source},
            street=source["street"],
            community=data.dest_community,
        )
        return view


def _plain(view: TransferView) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(view)
    return out


async def _stepped(
    cmd: Command,
    watch: Watch,
    row: asyncpg.Record,
    *,
    action: str,
    after: dict[str, Any],
    event: str,
    data: dict[str, Any],
    street: str | None,
) -> TransferView:
    """The tail every step of a transfer shares: audit the change from the status it had
    (`row`, locked), announce the reserve standards crossed, tell the street and the
    destination community, and answer the transfer as it now is."""
    await cmd.audit(action, "stock_transfer", row["id"], {"status": row["status"]}, after)
    await watch.announce()
    cmd.emit(event, data, street=street, community=row["dest_community"])
    return await transfer_view(cmd.connection, row["id"])


async def dispatch_transfer(ctx: Context, transfer_id: int, key: str | None = None) -> TransferView:
    """planned -> dispatched: stock leaves the source (earliest expiry first) and is in transit."""
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await _transfer_row(conn, transfer_id)
        source = await find_depot(conn, row["source"], "source")
        authorize(ctx.actor, "stock.transfer.dispatch", depot_target(source))
        if row["status"] != TransferStatus.PLANNED:
            raise _illegal(row, "dispatched")
        lines = await conn.fetch(
            "SELECT l.*, lot.lot_number FROM stock_transfer_line l "
            "LEFT JOIN lot ON lot.id = l.lot WHERE l.transfer=$1 ORDER BY l.id",
            transfer_id,
        )
        watch = Watch(cmd)
        for line in lines:
            await watch.touch(source, line["item"])
        wanted = [PickLine(item=x["item"], qty=x["qty"], lot=x["lot_number"]) for x in lines]
        ids = []
        picked = await pick_all(cmd, source["code"], wanted)
        for i, (line, taken) in enumerate(zip(lines, picked, strict=True)):
            for lot, n, _ in taken:
                move = Move(
                    MovementKind.TRANSFER_OUT,
                    source["code"],
                    line["item"],
                    lot,
                    -n,
                    community=row["dest_community"],
                    incident=row["incident_id"],
                    task=row["task_id"],
                    request=row["request_id"],
                    transfer=transfer_id,
                )
                ids.append(await post(cmd, move, idempotent_key(key), f"lines[{i}].qty"))
                await conn.execute(
                    "INSERT INTO stock_transfer_pick (transfer, line, item, lot, qty_sent) "
                    "VALUES ($1, $2, $3, $4, $5)",
                    transfer_id,
                    line["id"],
                    line["item"],
                    lot,
                    n,
                )
        await conn.execute(
            "UPDATE stock_transfer SET status='dispatched', dispatched_at=$2 WHERE id=$1",
            transfer_id,
            cmd.now,
        )
        return await _stepped(
            cmd,
            watch,
            row,
            action="stock.transfer.dispatch",
            after={"status": "dispatched", "movements": ids},
            event="transfer.dispatched",
            data={"transfer": transfer_id, "source": row["source"], "movements": ids},
            street=source["street"],
        )


def _apportion(picks: list[asyncpg.Record], data: TransferReceive) -> dict[int, int]:
    """How much of each pick arrived; an item without a lot fills its picks by expiry."""
    if data.lines is None:
        return {p["id"]: p["qty_sent"] for p in picks}
    got = {p["id"]: 0 for p in picks}
    for i, line in enumerate(data.lines):
        mine = [
            p
            for p in picks
            if p["item"] == line.item and (line.lot is None or p["lot_number"] == line.lot)
        ]
        if not mine:
            what = f"lot {line.lot} of {line.item}" if line.lot else line.item
            raise InvalidInput(f"{what} was not sent on this transfer", field=f"lines[{i}].item")
        mine.sort(key=lambda p: (p["expires_on"] is None, p["expires_on"], p["id"]))
        left = line.qty
        for p in mine:
            n = min(left, p["qty_sent"] - got[p["id"]])
            got[p["id"]] += n
            left -= n
        if left:
            raise InvalidInput(
                f"{line.qty} of {line.item} received but only "
                f"{sum(p['qty_sent'] for p in mine)} were sent",
                field=f"lines[{i}].qty",
            )
    return got


async def receive_transfer(
    ctx: Context, transfer_id: int, data: TransferReceive, key: str | None = None
) -> TransferView:
    """dispatched -> received: what arrived enters the destination; a shortfall needs a reason."""
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await _transfer_row(conn, transfer_id)
        target = await _dest_target(conn, row)
        authorize(ctx.actor, "stock.transfer.receive", target)
        if row["status"] != TransferStatus.DISPATCHED:
            raise _illegal(row, "received")
        picks = await conn.fetch(
            "SELECT p.*, lot.lot_number, lot.expires_on FROM stock_transfer_pick p "
            "JOIN lot ON lot.id = p.lot WHERE p.transfer=$1 ORDER BY p.item, p.lot, p.id",
            transfer_id,
        )
        got = _apportion(list(picks), data)
        shortfall = sum(p["qty_sent"] for p in picks) - sum(got.values())
        reason = (data.shortfall_reason or "").strip() or None
        if shortfall and reason is None:
            raise InvalidInput(
                f"{shortfall} units short: say why in shortfall_reason", field="shortfall_reason"
            )
        ids = []
        dest = await find_depot(conn, row["dest_depot"]) if row["dest_depot"] else None
        watch = Watch(cmd)
        for p in picks:
            await conn.execute(
                "UPDATE stock_transfer_pick SET qty_received=$2 WHERE id=$1", p["id"], got[p["id"]]
            )
            if dest is None or got[p["id"]] == 0:
                continue
            await watch.touch(dest, p["item"])
            move = Move(
                MovementKind.TRANSFER_IN,
                dest["code"],
                p["item"],
                p["lot"],
                got[p["id"]],
                incident=row["incident_id"],
                task=row["task_id"],
                request=row["request_id"],
                transfer=transfer_id,
            )
            ids.append(await post(cmd, move, idempotent_key(key)))
        await conn.execute(
            "UPDATE stock_transfer SET status='received', received_at=$2, shortfall_reason=$3 "
            "WHERE id=$1",
            transfer_id,
            cmd.now,
            reason if shortfall else None,
        )
        after = {"status": "received", "shortfall": shortfall, "reason": reason, "movements": ids}
        return await _stepped(
            cmd,
            watch,
            row,
            action="stock.transfer.receive",
            after=after,
            event="transfer.received",
            data={"transfer": transfer_id, "shortfall": shortfall, "movements": ids},
            street=target.street,
        )


async def cancel_transfer(
    ctx: Context, transfer_id: int, data: TransferCancel, key: str | None = None
) -> TransferView:
    """planned or dispatched -> cancelled; dispatched stock returns to the source."""
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await _transfer_row(conn, transfer_id)
        source = await find_depot(conn, row["source"], "source")
        authorize(ctx.actor, "stock.transfer.cancel", depot_target(source))
        if row["status"] not in (TransferStatus.PLANNED, TransferStatus.DISPATCHED):
            raise _illegal(row, "cancelled")
        picks = await conn.fetch(
            "SELECT * FROM stock_transfer_pick WHERE transfer=$1 ORDER BY item, lot, id",
            transfer_id,
        )
        watch = Watch(cmd)
        ids = []
        for p in picks:
            await watch.touch(source, p["item"])
            move = Move(
                MovementKind.TRANSFER_IN,
                source["code"],
                p["item"],
                p["lot"],
                p["qty_sent"],
                transfer=transfer_id,
                note="returned: transfer cancelled",
            )
            ids.append(await post(cmd, move, idempotent_key(key)))
        await conn.execute(
            "UPDATE stock_transfer SET status='cancelled', cancelled_at=$2, cancel_reason=$3 "
            "WHERE id=$1",
            transfer_id,
            cmd.now,
            data.reason,
        )
        return await _stepped(
            cmd,
            watch,
            row,
            action="stock.transfer.cancel",
            after={"status": "cancelled", "reason": data.reason, "movements": ids},
            event="transfer.cancelled",
            data={"transfer": transfer_id, "movements": ids},
            street=source["street"],
        )


async def transfer_view(conn: asyncpg.Connection, transfer_id: int) -> TransferView:
    row = await conn.fetchrow("SELECT * FROM stock_transfer WHERE id=$1", transfer_id)
    if row is None:
        raise NotFound(f"no transfer {transfer_id}", field="transfer_id")
    lines = await conn.fetch(
        "SELECT l.item, lot.lot_number, l.qty FROM stock_transfer_line l "
        "LEFT JOIN lot ON lot.id = l.lot WHERE l.transfer=$1 ORDER BY l.id",
        transfer_id,
    )
    picks = await conn.fetch(
        "SELECT p.item, lot.lot_number, lot.expires_on, p.qty_sent, p.qty_received "
        "FROM stock_transfer_pick p JOIN lot ON lot.id = p.lot WHERE p.transfer=$1 "
        "ORDER BY p.id",
        transfer_id,
    )
    shortfall = sum(
        p["qty_sent"] - p["qty_received"] for p in picks if p["qty_received"] is not None
    )
    return TransferView(
        id=row["id"],
        source=row["source"],
        dest_depot=row["dest_depot"],
        dest_community=row["dest_community"],
        status=TransferStatus(row["status"]),
        lines=[TransferLineView(r["item"], r["lot_number"], r["qty"]) for r in lines],
        picks=[
            PickView(r["item"], r["lot_number"], r["expires_on"], r["qty_sent"], r["qty_received"])
            for r in picks
        ],
        shortfall=shortfall,
        shortfall_reason=row["shortfall_reason"],
        cancel_reason=row["cancel_reason"],
        incident=row["incident_id"],
        task=row["task_id"],
        request=row["request_id"],
        note=row["note"],
        created_at=local(row["created_at"]) or row["created_at"],
        created_by=row["created_by"],
        dispatched_at=local(row["dispatched_at"]),
        received_at=local(row["received_at"]),
        cancelled_at=local(row["cancelled_at"]),
    )


# --- read scope -------------------------------------------------------------------------


def _transfer_scope(actor: Actor) -> tuple[str, str | None]:
    """Who sees which transfers: district roles all, a leader their street's, a community
    worker the deliveries to their community."""
    authorize(actor, "stock.read_transfers")
    if actor.is_district_wide:
        return "all", None
    if actor.role in STREET_SCOPED:
        return "street", actor.street
    return "community", actor.community


TRANSFER_SCOPE = """
    ($1 = 'all'
     OR ($1 = 'street' AND (src.street = $2 OR dst.street = $2 OR c.street = $2))
     OR ($1 = 'community' AND t.dest_community = $2))
"""
TRANSFER_JOINS = """
    JOIN depot src ON src.code = t.source
    LEFT JOIN depot dst ON dst.code = t.dest_depot
    LEFT JOIN community c ON c.code = t.dest_community
"""


async def list_transfers(
    ctx: Context, status: TransferStatus | None = None, limit: int = 100
) -> list[TransferView]:
    scope, where = _transfer_scope(ctx.actor)
    async with query(ctx) as conn:
        rows = await conn.fetch(
            f"""
            SELECT t.id FROM stock_transfer t {TRANSFER_JOINS}
            WHERE {TRANSFER_SCOPE} AND ($3::varchar IS NULL OR t.status = $3)
            ORDER BY t.id DESC LIMIT $4
            """,
            scope,
            where,
            status.value if status else None,
            limit,
        )
        return [await transfer_view(conn, r["id"]) for r in rows]


async def get_transfer(ctx: Context, transfer_id: int) -> TransferView:
    scope, where = _transfer_scope(ctx.actor)
    async with query(ctx) as conn:
        row = await conn.fetchrow(
            f"SELECT t.id, {TRANSFER_SCOPE} AS visible FROM stock_transfer t {TRANSFER_JOINS} "
            "WHERE t.id = $3",
            scope,
            where,
            transfer_id,
        )
        if row is None:
            raise NotFound(f"no transfer {transfer_id}", field="transfer_id")
        if not row["visible"]:
            raise Forbidden(f"transfer {transfer_id} is outside the scope of {ctx.actor.username}")
        return await transfer_view(conn, transfer_id)


async def in_transit(ctx: Context) -> list[InTransitRow]:
    """Stock that has left a depot on a transfer and not yet arrived."""
    scope, where = _transfer_scope(ctx.actor)
    async with query(ctx) as conn:
        rows = await conn.fetch(
            f"""
            SELECT t.id AS transfer, t.source, t.dest_depot, t.dest_community, p.item,
                l.lot_number AS lot, l.expires_on, p.qty_sent AS qty, t.dispatched_at
            FROM stock_transfer t {TRANSFER_JOINS}
            JOIN stock_transfer_pick p ON p.transfer = t.id JOIN lot l ON l.id = p.lot
            WHERE {TRANSFER_SCOPE} AND t.status = 'dispatched'
            ORDER BY t.id, p.id
            """,
            scope,
            where,
        )
    return [InTransitRow(**{**dict(r), "dispatched_at": local(r["dispatched_at"])}) for r in rows]
