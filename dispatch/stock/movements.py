"""Commands that move stock in or out of one depot: receive, issue, adjust, reverse and the
stocktake (a counted sheet whose differences become `count` adjustments).

Each checks its input and scope, then writes through the ledger; the common tail (audit,
standards crossed, `stock.moved`, the movements as written) is `moved`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import asyncpg
import msgspec

from dispatch.accounts.policy import authorize
from dispatch.clock import local
from dispatch.db import Command, Context, command, query
from dispatch.errors import Conflict, InvalidInput, NotFound
from dispatch.stock.ledger import (
    Move,
    Watch,
    idempotent_key,
    movements_of,
    post,
    take_out,
)
from dispatch.stock.lookups import (
    depot_target,
    find_depot,
    find_item,
    find_lot,
    issue_facts,
    near_expiry_days,
    today,
)
from dispatch.stock.picking import Taken
from dispatch.stock.references import Cited, check_references, cites, items_of
from dispatch.stock.schemas import (
    AdjustmentCreate,
    AdjustmentReason,
    IssueCreate,
    MovementKind,
    MovementResult,
    MovementView,
    ReceiptCreate,
    ReceiptLine,
    ReversalCreate,
    SheetLine,
    StocktakeCreate,
    StocktakeView,
)


async def receive_line(
    cmd: Command, depot: asyncpg.Record, line: ReceiptLine, name: str
) -> tuple[int, date | None]:
    """The lot a receipt line goes into, made on first sight; its expiry must agree."""
    conn = cmd.connection
    item = await find_item(conn, line.item, f"{name}.item")
    on = today(cmd.now)
    if line.expires_on is not None and line.expires_on < on:
        raise InvalidInput(
            f"lot {line.lot} expired on {line.expires_on}; expired stock is not received",
            field=f"{name}.expires_on",
        )
    existing = await conn.fetchrow(
        "SELECT id, expires_on FROM lot WHERE item=$1 AND lot_number=$2", line.item, line.lot
    )
    if existing is not None:
        if line.expires_on is not None and existing["expires_on"] != line.expires_on:
            raise InvalidInput(
                f"lot {line.lot} of {line.item} is recorded as expiring on "
                f"{existing['expires_on']}, not {line.expires_on}",
                field=f"{name}.expires_on",
            )
        if existing["expires_on"] is not None and existing["expires_on"] < on:
            raise InvalidInput(
                f"lot {line.lot} expired on {existing['expires_on']}", field=f"{name}.lot"
            )
        return int(existing["id"]), existing["expires_on"]
    if item["shelf_life_days"] is not None and line.expires_on is None:
        raise InvalidInput(
            f"{line.item} has a shelf life: a new lot needs its expiry date",
            field=f"{name}.expires_on",
        )
    lot_id = await conn.fetchval(
        """
        INSERT INTO lot (item, lot_number, expires_on, created_at) VALUES ($1, $2, $3, $4)
        ON CONFLICT (item, lot_number) DO NOTHING RETURNING id
        """,
        line.item,
        line.lot,
        line.expires_on,
        cmd.now,
    )
    if lot_id is None:  # made by a concurrent receipt a moment ago
        return await receive_line(cmd, depot, line, name)
    return int(lot_id), line.expires_on


async def post_receipt(
    cmd: Command,
    depot: asyncpg.Record,
    lot: tuple[int, date | None, ReceiptLine],
    watch: Watch,
    key: str | None,
    data: ReceiptCreate | None = None,
) -> int:
    """One receipt line into its lot; a lot that arrives near expiry is announced at once."""
    lot_id, expires_on, line = lot
    await watch.touch(depot, line.item)
    move = Move(
        MovementKind.RECEIPT,
        depot["code"],
        line.item,
        lot_id,
        line.qty,
        task=data.task if data else None,
        request=data.request if data else None,
        note=data.note if data else None,
    )
    movement = await post(cmd, move, key)
    if expires_on is not None and expires_on < today(cmd.now) + timedelta(days=near_expiry_days()):
        alert = {"kind": "near_expiry", "depot": depot["code"], "item": line.item}
        alert.update({"lot": line.lot, "expires_on": expires_on.isoformat()})
        cmd.emit("stock.alert", alert, street=depot["street"])
    return movement


async def _receipt(
    cmd: Command, data: ReceiptCreate, key: str | None, watch: Watch
) -> tuple[asyncpg.Record, list[int]]:
    depot = await find_depot(cmd.connection, data.depot)
    authorize(cmd.ctx.actor, "stock.receive", depot_target(depot))
    await check_references(cmd, Cited(task=data.task, request=data.request, items=items_of(data)))
    lots = []
    for i, line in enumerate(data.lines):
        lot_id, expires_on = await receive_line(cmd, depot, line, f"lines[{i}]")
        lots.append((lot_id, expires_on, line))
    ids = []
    # balance rows in the one order, (depot, item, lot), of every command: no deadlock
    for lot in sorted(lots, key=lambda p: (p[2].item, p[0])):
        ids.append(await post_receipt(cmd, depot, lot, watch, key, data))
    return depot, sorted(ids)


async def receive(ctx: Context, data: ReceiptCreate, key: str | None = None) -> MovementResult:
    """Stock arrives at a depot: one `receipt` movement per line."""
    async with command(ctx) as cmd:
        watch = Watch(cmd)
        depot, ids = await _receipt(cmd, data, idempotent_key(key), watch)
        audited = _lines_audit("stock.receive", depot, data, ids)
        return await moved(cmd, watch, MovementKind.RECEIPT, depot, ids, audited)


@dataclass(frozen=True)
class Audited:
    """The audit row a movement command writes: its action, the row acted on, the after."""

    action: str
    entity: str
    entity_id: str | int
    after: dict[str, Any]


def _lines_audit(action: str, depot: asyncpg.Record, data: Any, ids: Sequence[int]) -> Audited:
    """A command of lines at a depot is audited against the depot, with its movements."""
    after: dict[str, Any] = msgspec.to_builtins(data)
    after["movements"] = list(ids)
    return Audited(action, "depot", depot["code"], after)


async def moved(
    cmd: Command,
    watch: Watch,
    kind: MovementKind,
    depot: asyncpg.Record,
    ids: list[int],
    audited: Audited,
    *,
    community: str | None = None,
    written: list[MovementView] | None = None,
) -> MovementResult:
    """The tail every movement command shares: audit, announce the reserve standards it
    crossed, tell the depot's street (so its leader hears it on the live feed) and the
    community stock went to `stock.moved`, and answer the movements as written."""
    await cmd.audit(audited.action, audited.entity, audited.entity_id, None, audited.after)
    await watch.announce()
    cmd.emit(
        "stock.moved",
        {"kind": kind.value, "depot": depot["code"], "movements": ids},
        street=depot["street"],
        community=community,
    )
    if written is None:
        written = await movements_of(cmd.connection, ids)
    return MovementResult(written)


async def issue(ctx: Context, data: IssueCreate, key: str | None = None) -> MovementResult:
    """Stock handed to a community; unnamed lots are picked earliest expiry first."""
    async with command(ctx) as cmd:
        items = [line.item for line in data.lines]
        facts = await issue_facts(cmd.connection, data.depot, data.community, items, today(cmd.now))
        depot = facts.the_depot(data.depot)
        authorize(ctx.actor, "stock.issue", depot_target(depot))
        community = facts.the_community(data.community)
        if data.incident is None and not (data.purpose or "").strip():
            raise InvalidInput("an issue needs an incident or a purpose", field="purpose")
        await check_references(cmd, cites(data, community["code"]))
        watch = Watch(cmd)
        watch.know(depot, facts.items.values())

        def moves_of(picked: list[Taken]) -> list[Move]:
            return [
                Move(
                    MovementKind.ISSUE,
                    depot["code"],
                    line.item,
                    lot,
                    -n,
                    community=community["code"],
                    purpose=data.purpose,
                    incident=data.incident,
                    task=data.task,
                    request=data.request,
                    note=data.note,
                )
                for line, taken in zip(data.lines, picked, strict=True)
                for lot, n, _ in taken
            ]

        written = await take_out(
            cmd, depot["code"], data.lines, moves_of, key, watch, known=facts.items
        )
        watch.moved(written)
        ids = [m.id for m in written]
        audited = _lines_audit("stock.issue", depot, data, ids)
        return await moved(
            cmd,
            watch,
            MovementKind.ISSUE,
            depot,
            ids,
            audited,
            community=community["code"],
            written=written,
        )


SIGN = {
    AdjustmentReason.DAMAGED: -1,
    AdjustmentReason.EXPIRED: -1,
    AdjustmentReason.LOST: -1,
    AdjustmentReason.FOUND: 1,
}


async def adjust(ctx: Context, data: AdjustmentCreate, key: str | None = None) -> MovementResult:
    """A correction with a reason; `expired` writes off a lot past its date."""
    async with command(ctx) as cmd:
        conn = cmd.connection
        depot = await find_depot(conn, data.depot)
        authorize(ctx.actor, "stock.adjust", depot_target(depot))
        await find_item(conn, data.item)
        lot = await find_lot(conn, data.item, data.lot, "lot")
        if data.qty == 0:
            raise InvalidInput("an adjustment changes the quantity: qty cannot be 0", field="qty")
        sign = SIGN.get(data.reason)
        if sign is not None and data.qty * sign < 0:
            direction = "negative" if sign < 0 else "positive"
            raise InvalidInput(f"qty must be {direction} for {data.reason.value}", field="qty")
        if data.reason is AdjustmentReason.EXPIRED and not (
            lot["expires_on"] is not None and lot["expires_on"] < today(cmd.now)
        ):
            raise InvalidInput(f"lot {data.lot} has not expired", field="reason")
        watch = Watch(cmd)
        await watch.touch(depot, data.item)
        move = Move(
            MovementKind.ADJUSTMENT,
            depot["code"],
            data.item,
            lot["id"],
            data.qty,
            reason=data.reason,
            note=data.note,
        )
        ids = [await post(cmd, move, idempotent_key(key))]
        audited = _lines_audit("stock.adjust", depot, data, ids)
        return await moved(cmd, watch, MovementKind.ADJUSTMENT, depot, ids, audited)


REVERSIBLE = frozenset({MovementKind.RECEIPT, MovementKind.ISSUE, MovementKind.ADJUSTMENT})


async def reverse(
    ctx: Context, movement_id: int, data: ReversalCreate, key: str | None = None
) -> MovementResult:
    """Undo a movement with its opposite; a movement is reversed at most once."""
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await conn.fetchrow("SELECT * FROM stock_movement WHERE id=$1", movement_id)
        if row is None:
            raise NotFound(f"no movement {movement_id}", field="movement_id")
        depot = await find_depot(conn, row["depot"])
        authorize(ctx.actor, "stock.reverse", depot_target(depot))
        kind = MovementKind(row["kind"])
        if kind not in REVERSIBLE:
            hint = "cancel or receive the transfer" if row["transfer_id"] else "record a new one"
            raise Conflict(f"a {kind.value} movement cannot be reversed; {hint}", field="kind")
        done = await conn.fetchval("SELECT id FROM stock_movement WHERE reverses=$1", movement_id)
        if done is not None:
            raise Conflict(
                f"movement {movement_id} was already reversed by movement {done}",
                field="movement_id",
            )
        watch = Watch(cmd)
        await watch.touch(depot, row["item"])
        move = Move(
            MovementKind.REVERSAL,
            row["depot"],
            row["item"],
            row["lot"],
            -row["qty"],
            community=row["community"],
            incident=row["incident_id"],
            task=row["task_id"],
            request=row["request_id"],
            reverses=movement_id,
            note=data.note,
        )
        try:
            new = await post(cmd, move, idempotent_key(key))
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(
                f"movement {movement_id} was already reversed", field="movement_id"
            ) from exc
        audited = Audited(
            "stock.reverse", "stock_movement", movement_id, {"reversal": new, "note": data.note}
        )
        return await moved(cmd, watch, MovementKind.REVERSAL, depot, [new], audited)


async def stocktake(ctx: Context, data: StocktakeCreate, key: str | None = None) -> StocktakeView:
    """A counted sheet: each difference becomes a `count` adjustment; the sheet is kept."""
    async with command(ctx) as cmd:
        depot = await find_depot(cmd.connection, data.depot)
        authorize(ctx.actor, "stock.count", depot_target(depot))
        lots = await _counted_lots(cmd.connection, data)
        sheet = await _count_sheet(cmd.connection, depot, data, lots)
        take_id = await _keep_sheet(cmd, depot, data, sheet)
        watch = Watch(cmd)
        ids = await _post_differences(cmd, watch, depot, take_id, data.note, sheet, lots, key)
        await cmd.audit(
            "stock.count",
            "stocktake",
            take_id,
            None,
            {"depot": depot["code"], "lines": len(sheet), "movements": ids},
        )
        await watch.announce()
        cmd.emit(
            "stock.counted",
            {"depot": depot["code"], "stocktake": take_id, "movements": ids},
            street=depot["street"],
        )
        return StocktakeView(
            take_id,
            depot["code"],
            local(cmd.now) or cmd.now,
            ctx.actor.username,
            data.note,
            sheet,
            sorted(ids),
        )


async def _counted_lots(conn: asyncpg.Connection, data: StocktakeCreate) -> list[asyncpg.Record]:
    """The lot each line counts, in the lines' order; a lot counted twice is refused."""
    seen: set[tuple[str, str]] = set()
    lots = []
    for i, line in enumerate(data.lines):
        if (line.item, line.lot) in seen:
            raise InvalidInput(
                f"lot {line.lot} of {line.item} is counted twice", field=f"lines[{i}].lot"
            )
        seen.add((line.item, line.lot))
        await find_item(conn, line.item, f"lines[{i}].item")
        lots.append(await find_lot(conn, line.item, line.lot, f"lines[{i}].lot"))
    return lots


async def _count_sheet(
    conn: asyncpg.Connection,
    depot: asyncpg.Record,
    data: StocktakeCreate,
    lots: list[asyncpg.Record],
) -> list[SheetLine]:
    """Held against counted, per line; the depot's balance rows are locked (in the one
    order, item then lot) so nothing moves between the count and its adjustments."""
    held = {
        r["lot"]: r["qty"]
        for r in await conn.fetch(
            "SELECT lot, qty FROM stock_balance WHERE depot=$1 ORDER BY item, lot FOR UPDATE",
            depot["code"],
        )
    }
    return [
        SheetLine(
            line.item,
            line.lot,
            held.get(lot["id"], 0),
            line.counted,
            line.counted - held.get(lot["id"], 0),
        )
        for line, lot in zip(data.lines, lots, strict=True)
    ]


async def _keep_sheet(
    cmd: Command, depot: asyncpg.Record, data: StocktakeCreate, sheet: list[SheetLine]
) -> int:
    """The sheet is kept as counted, differences or not; its id is cited by the adjustments."""
    take_id: int = await cmd.connection.fetchval(
        "INSERT INTO stocktake (depot, at, actor, note, sheet) VALUES ($1, $2, $3, $4, $5) "
        "RETURNING id",
        depot["code"],
        cmd.now,
        cmd.ctx.actor.username,
        data.note,
        msgspec.json.encode(sheet).decode(),
    )
    return take_id


async def _post_differences(
    cmd: Command,
    watch: Watch,
    depot: asyncpg.Record,
    take_id: int,
    note: str | None,
    sheet: list[SheetLine],
    lots: list[asyncpg.Record],
    key: str | None,
) -> list[int]:
    """One `count` adjustment per line whose count differs, in lot order (no deadlock)."""
    ids = []
    order = sorted(range(len(sheet)), key=lambda i: lots[i]["id"])
    for i in order:
        counted = sheet[i]
        if counted.difference == 0:
            continue
        await watch.touch(depot, counted.item)
        move = Move(
            MovementKind.ADJUSTMENT,
            depot["code"],
            counted.item,
            lots[i]["id"],
            counted.difference,
            reason=AdjustmentReason.COUNT,
            stocktake=take_id,
            note=note,
        )
        ids.append(await post(cmd, move, idempotent_key(key)))
    return ids


async def get_stocktake(ctx: Context, take_id: int) -> StocktakeView:
    async with query(ctx) as conn:
        row = await conn.fetchrow("SELECT * FROM stocktake WHERE id=$1", take_id)
        if row is None:
            raise NotFound(f"no stocktake {take_id}", field="take_id")
        depot = await find_depot(conn, row["depot"])
        authorize(ctx.actor, "stock.read", depot_target(depot))
        ids = await conn.fetch(
            "SELECT id FROM stock_movement WHERE stocktake_id=$1 ORDER BY id", take_id
        )
    sheet = msgspec.json.decode(row["sheet"], type=list[SheetLine])
    return StocktakeView(
        row["id"],
        row["depot"],
        local(row["at"]) or row["at"],
        row["actor"],
        row["note"],
        sheet,
        [r["id"] for r in ids],
    )
