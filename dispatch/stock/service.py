"""Stock: the ledger and everything built on it.

Every change of stock is a movement row and a balance update in the same transaction.
A decrease is a guarded `UPDATE ... SET qty = qty - n WHERE ... AND qty >= n`, so two
concurrent issues can never take the same unit; the balance table's CHECK forbids a
negative quantity, and the movement table refuses UPDATE and DELETE. Balance rows are
locked in one order (depot, lot id), so concurrent commands never deadlock.
"""

from __future__ import annotations

import csv
import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from dispatch import spreadsheets
from dispatch.accounts.policy import STREET_SCOPED, Actor, Target, authorize
from dispatch.clock import SHANGHAI, local
from dispatch.db import Command, Context, command, query
from dispatch.errors import Conflict, Forbidden, InvalidInput, NotFound
from dispatch.places.schemas import LoadReport
from dispatch.settings import get_settings
from dispatch.stock.references import Cited, check_references
from dispatch.stock.schemas import (
    AdjustmentCreate,
    AdjustmentReason,
    AlertKind,
    AlertView,
    CardRow,
    ExportFormat,
    ImportResult,
    InTransitRow,
    IssueCreate,
    ItemView,
    LotStatus,
    LotView,
    MovementKind,
    MovementResult,
    MovementView,
    PickLine,
    PickView,
    ReceiptCreate,
    ReceiptLine,
    ReversalCreate,
    SheetLine,
    StandardUpdate,
    StandardView,
    StockCard,
    StockLine,
    StocktakeCreate,
    StocktakeView,
    StockTotal,
    SummaryRow,
    TotalsBy,
    TransferCancel,
    TransferCreate,
    TransferLineView,
    TransferReceive,
    TransferStatus,
    TransferView,
)

MAX_KEY = 200


def today(now: datetime) -> date:
    """Expiry is by the calendar in Beijing, whatever the server's zone."""
    return now.astimezone(SHANGHAI).date()


def near_expiry_days() -> int:
    return get_settings().near_expiry_days


def lot_status(expires_on: date | None, on: date) -> LotStatus:
    if expires_on is None:
        return LotStatus.OK
    if expires_on < on:
        return LotStatus.EXPIRED
    if expires_on < on + timedelta(days=near_expiry_days()):
        return LotStatus.NEAR_EXPIRY
    return LotStatus.OK


# --- lookups ----------------------------------------------------------------------------


async def _depot(conn: asyncpg.Connection, code: str, name: str = "depot") -> asyncpg.Record:
    row = await conn.fetchrow("SELECT code, street, kind FROM depot WHERE code=$1", code)
    if row is None:
        raise NotFound(f"no depot {code}", field=name)
    return row


def _depot_target(depot: asyncpg.Record) -> Target:
    """The district reserve has no street: only district-wide roles reach it."""
    return Target(street=depot["street"])


async def _item(conn: asyncpg.Connection, code: str, name: str = "item") -> asyncpg.Record:
    row = await conn.fetchrow("SELECT code, shelf_life_days FROM item WHERE code=$1", code)
    if row is None:
        raise NotFound(f"no item {code} in the catalogue", field=name)
    return row


async def _community(conn: asyncpg.Connection, code: str, name: str) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT code, street FROM community WHERE code=$1", code)
    if row is None:
        raise NotFound(f"no community {code}", field=name)
    return row


async def _lot(conn: asyncpg.Connection, item: str, number: str, name: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT id, item, lot_number, expires_on FROM lot WHERE item=$1 AND lot_number=$2",
        item,
        number,
    )
    if row is None:
        raise NotFound(f"no lot {number} of {item}", field=name)
    return row


# --- the ledger primitive ---------------------------------------------------------------


@dataclass
class Move:
    kind: MovementKind
    depot: str
    item: str
    lot: int
    qty: int  # signed: + into the depot, - out of it
    reason: AdjustmentReason | None = None
    community: str | None = None
    purpose: str | None = None
    incident: int | None = None
    task: int | None = None
    request: int | None = None
    transfer: int | None = None
    stocktake: int | None = None
    reverses: int | None = None
    note: str | None = None


class Shortage(Conflict):
    """409 naming item, depot, asked and available; with several lines short, every one
    is listed in `shortages` (the first also at the top, for older clients)."""

    code = "stock.shortage"


def shortage(depot: str, item: str, asked: int, available: int, name: str) -> Shortage:
    return Shortage(
        f"not enough {item} at {depot}: asked {asked}, available {available}",
        field=name,
        params={"item": item, "depot": depot, "asked": asked, "available": available},
        item=item,
        depot=depot,
        asked=asked,
        available=available,
    )


async def _shortages(conn: asyncpg.Connection, depot: str, short: list[dict[str, Any]]) -> Shortage:
    """One refusal for every short line, with the names people read (depot, item)."""
    names = await conn.fetch(
        "SELECT code, name_zh, name_en, unit FROM item WHERE code = ANY($1::varchar[])",
        [s["item"] for s in short],
    )
    depot_name = await conn.fetchval("SELECT name FROM depot WHERE code=$1", depot)
    by_code = {r["code"]: r for r in names}
    listed = []
    for s in short:
        item = by_code.get(s["item"])
        listed.append(
            {
                **{k: v for k, v in s.items() if k != "line"},
                "depot": depot,
                "field": s.get("field") or f"lines[{s['line']}].qty",
                "item_name": item["name_zh"] if item else s["item"],
                "item_name_en": item["name_en"] if item else s["item"],
                "unit": item["unit"] if item else "",
            }
        )
    first = listed[0]
    what = "; ".join(f"{s['item']}: asked {s['asked']}, available {s['available']}" for s in listed)
    error = shortage(depot, first["item"], first["asked"], first["available"], first["field"])
    error.detail = f"not enough at {depot}: {what}"
    error.args = (error.detail,)
    lines = "；".join(
        f"{s['item_name']} 需要 {s['asked']}{s['unit']}、现有 {s['available']}{s['unit']}"
        for s in listed
    )
    error.params = {**error.params, "depot_name": depot_name or depot, "count": len(listed)}
    error.params["lines"] = lines
    error.params["lines_en"] = "; ".join(
        f"{s['item_name_en']} asked {s['asked']} {s['unit']}, available {s['available']}"
        for s in listed
    )
    error.code = "stock.shortage" if len(listed) == 1 else "stock.shortages"
    error.extra["shortages"] = listed
    return error


MOVEMENT_INSERT = """
INSERT INTO stock_movement
    (at, kind, depot, item, lot, qty, reason, community, purpose, incident_id, task_id,
     request_id, transfer_id, stocktake_id, reverses, actor, actor_id, idempotency_key, key_seq,
     note)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
RETURNING id
"""


async def post(cmd: Command, move: Move, key: str | None, name: str = "qty") -> int:
    """Write one movement and change its balance, in the command's transaction."""
    conn = cmd.connection
    if move.qty < 0:
        left = await conn.fetchval(
            "UPDATE stock_balance SET qty = qty - $3 WHERE depot=$1 AND lot=$2 AND qty >= $3 "
            "RETURNING qty",
            move.depot,
            move.lot,
            -move.qty,
        )
        if left is None:
            have = await conn.fetchval(
                "SELECT qty FROM stock_balance WHERE depot=$1 AND lot=$2", move.depot, move.lot
            )
            short = {"item": move.item, "asked": -move.qty, "available": int(have or 0)}
            raise await _shortages(conn, move.depot, [{**short, "field": name}])
    else:
        await conn.execute(
            """
            INSERT INTO stock_balance (depot, item, lot, qty) VALUES ($1, $2, $3, $4)
            ON CONFLICT (depot, lot) DO UPDATE SET qty = stock_balance.qty + EXCLUDED.qty
            """,
            move.depot,
            move.item,
            move.lot,
            move.qty,
        )
    actor = cmd.ctx.actor
    movement_id: int = await conn.fetchval(
        MOVEMENT_INSERT,
        cmd.now,
        move.kind.value,
        move.depot,
        move.item,
        move.lot,
        move.qty,
        move.reason.value if move.reason else None,
        move.community,
        move.purpose,
        move.incident,
        move.task,
        move.request,
        move.transfer,
        move.stocktake,
        move.reverses,
        actor.username,
        actor.user_id,
        key[:MAX_KEY] if key else None,
        cmd.next_keyed() if key else None,
        move.note,
    )
    return movement_id


MOVEMENTS_OUT = """
WITH taken AS (
    UPDATE stock_balance b SET qty = b.qty - t.qty
    FROM unnest($21::bigint[], $22::integer[]) AS t(lot, qty)
    WHERE b.depot = $23 AND b.lot = t.lot AND b.qty >= t.qty
    RETURNING b.lot
), written AS (
    INSERT INTO stock_movement
        (at, kind, depot, item, lot, qty, reason, community, purpose, incident_id, task_id,
         request_id, transfer_id, stocktake_id, reverses, actor, actor_id, idempotency_key,
         key_seq, note)
    SELECT $1, m.kind, m.depot, m.item, m.lot, m.qty, m.reason, m.community, m.purpose,
        m.incident, m.task, m.request, m.transfer, m.stocktake, m.reverses, $2, $3, $4,
        m.key_seq, m.note
    FROM unnest($5::varchar[], $6::varchar[], $7::varchar[], $8::bigint[], $9::integer[],
                $10::varchar[], $11::varchar[], $12::varchar[], $13::bigint[], $14::bigint[],
                $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[], $19::integer[],
                $20::varchar[])
        WITH ORDINALITY AS m(kind, depot, item, lot, qty, reason, community, purpose, incident,
                             task, request, transfer, stocktake, reverses, key_seq, note, n)
    WHERE (SELECT count(*) FROM taken) = cardinality($21::bigint[])
    ORDER BY m.n
    RETURNING *
)
SELECT w.*, l.lot_number, l.expires_on FROM written w JOIN lot l ON l.id = w.lot ORDER BY w.id
"""


async def post_out(
    cmd: Command, depot: str, moves: Sequence[Move], key: str | None
) -> list[MovementView]:
    """Write movements out of one depot (each qty negative) whose balance rows the command
    holds locked (`pick_all`): the balances and the ledger rows of every line in one
    statement (one round trip while the rows are held, whatever the number of lines).
    The movements as written, in the order given."""
    conn = cmd.connection
    out: dict[int, int] = {}
    for move in moves:
        out[move.lot] = out.get(move.lot, 0) - move.qty
    lots = sorted(out)

    def column(name: str) -> list[Any]:
        return [getattr(m, name) for m in moves]

    actor = cmd.ctx.actor
    rows = await conn.fetch(
        MOVEMENTS_OUT,
        cmd.now,
        actor.username,
        actor.user_id,
        key[:MAX_KEY] if key else None,
        [m.kind.value for m in moves],
        column("depot"),
        column("item"),
        column("lot"),
        column("qty"),
        [m.reason.value if m.reason else None for m in moves],
        column("community"),
        column("purpose"),
        column("incident"),
        column("task"),
        column("request"),
        column("transfer"),
        column("stocktake"),
        column("reverses"),
        [cmd.next_keyed() if key else None for _ in moves],
        column("note"),
        lots,
        [out[lot] for lot in lots],
        depot,
    )
    if len(rows) != len(moves):  # a balance could not give: only if not locked first
        raise await _short_of(conn, depot, moves, out)
    return [_movement_view(r) for r in rows]


async def _short_of(
    conn: asyncpg.Connection, depot: str, moves: Sequence[Move], out: dict[int, int]
) -> Shortage:
    held = {
        r["lot"]: r["qty"]
        for r in await conn.fetch(
            "SELECT lot, qty FROM stock_balance WHERE depot=$1 AND lot = ANY($2::bigint[])",
            depot,
            sorted(out),
        )
    }
    lot = next(lot for lot in sorted(out) if held.get(lot, 0) < out[lot])
    item = next(m.item for m in moves if m.lot == lot)
    short = {"item": item, "asked": out[lot], "available": int(held.get(lot, 0))}
    return await _shortages(conn, depot, [{**short, "field": "lines"}])


LotOf = tuple[int, date | None]  # a lot and its expiry
Taken = list[tuple[int, int, date | None]]  # (lot, qty, expires_on) a line takes


async def pick_all(
    cmd: Command, depot: str, lines: Sequence[PickLine], watch: Watch | None = None
) -> list[Taken]:
    """Which lots each line takes its quantity from: the named lot, or usable lots by
    earliest expiry; one list per line, in the lines' order.

    Every balance row of the depot's items is locked in one statement, in the one order
    (depot, item, lot) every command follows, so two commands with the same lines in other
    orders wait for each other instead of deadlocking; the choice stays true until commit.
    A shortage on several lines is one refusal listing each (see `Shortages`). An item
    whose every lot is now held is told to the `watch` with its usable stock, so the reserve
    standard is judged on that exact figure without reading it again.
    """
    conn = cmd.connection
    on = today(cmd.now)
    named = await _named_lots(cmd, lines, on)
    rows = await conn.fetch(
        """
        SELECT b.item, b.lot, b.qty, l.expires_on FROM stock_balance b JOIN lot l ON l.id = b.lot
        WHERE b.depot = $1 AND (b.item = ANY($2::varchar[]) OR b.lot = ANY($3::bigint[]))
        ORDER BY b.depot, b.item, b.lot FOR UPDATE OF b
        """,
        depot,
        sorted({line.item for i, line in enumerate(lines) if i not in named}),
        sorted({lot for lot, _ in named.values()}),
    )
    left = {r["lot"]: r["qty"] for r in rows}
    usable: dict[str, list[LotOf]] = {}
    for r in sorted(rows, key=lambda r: (r["expires_on"] is None, r["expires_on"], r["lot"])):
        if r["expires_on"] is None or r["expires_on"] >= on:
            usable.setdefault(r["item"], []).append((r["lot"], r["expires_on"]))
    if watch is not None:
        for item in {line.item for i, line in enumerate(lines) if i not in named}:
            watch.held(depot, item, sum(left[lot] for lot, _ in usable.get(item, [])))
    taken: list[Taken] = []
    short: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        candidates = [named[i]] if i in named else usable.get(line.item, [])
        have = sum(left.get(lot, 0) for lot, _ in candidates)
        if have < line.qty:
            short.append({"line": i, "item": line.item, "asked": line.qty, "available": have})
            taken.append([])
            continue
        taken.append(_take(candidates, left, line.qty))
    if short:
        raise await _shortages(conn, depot, short)
    return taken


def _take(candidates: Sequence[LotOf], left: dict[int, int], qty: int) -> Taken:
    """Take `qty` from the candidate lots in their order, out of what is `left` of each."""
    taken: Taken = []
    need = qty
    for lot, expires_on in candidates:
        if need == 0:
            break
        n = min(need, left.get(lot, 0))
        if n:
            taken.append((lot, n, expires_on))
            left[lot] -= n
            need -= n
    return taken


async def _named_lots(cmd: Command, lines: Sequence[PickLine], on: date) -> dict[int, LotOf]:
    """The lot each line names (checked: it exists and has not expired), by line index;
    every item and lot looked up in one query each, whatever the number of lines."""
    conn = cmd.connection
    known = {
        r["code"]
        for r in await conn.fetch(
            "SELECT code FROM item WHERE code = ANY($1::varchar[])", [x.item for x in lines]
        )
    }
    for i, line in enumerate(lines):
        if line.item not in known:
            raise NotFound(f"no item {line.item} in the catalogue", field=f"lines[{i}].item")
    wanted = [(i, line) for i, line in enumerate(lines) if line.lot is not None]
    if not wanted:
        return {}
    found = {
        (r["item"], r["lot_number"]): r
        for r in await conn.fetch(
            "SELECT id, item, lot_number, expires_on FROM lot "
            "WHERE (item, lot_number) IN (SELECT * FROM unnest($1::varchar[], $2::varchar[]))",
            [line.item for _, line in wanted],
            [line.lot for _, line in wanted],
        )
    }
    named: dict[int, LotOf] = {}
    for i, line in wanted:
        lot = found.get((line.item, line.lot))
        if lot is None:
            raise NotFound(f"no lot {line.lot} of {line.item}", field=f"lines[{i}].lot")
        if lot["expires_on"] is not None and lot["expires_on"] < on:
            raise Conflict(
                f"lot {line.lot} of {line.item} expired on {lot['expires_on']}: it cannot be "
                "issued or sent; write it off with reason `expired`",
                field=f"lines[{i}].lot",
                code="stock.lot_expired",
                params={"lot": line.lot, "item": line.item, "expires_on": str(lot["expires_on"])},
            )
        named[i] = (lot["id"], lot["expires_on"])
    return named


USABLE_OF = """
SELECT w.depot, w.item,
    coalesce((SELECT sum(b.qty) FROM stock_balance b JOIN lot l ON l.id = b.lot
              WHERE b.depot = w.depot AND b.item = w.item
                AND (l.expires_on IS NULL OR l.expires_on >= $3)), 0) AS usable,
    (SELECT r.minimum FROM reserve_standard r WHERE r.depot = w.depot AND r.item = w.item)
        AS minimum
FROM unnest($1::varchar[], $2::varchar[]) AS w(depot, item)
"""


class Watch:
    """Usable stock of the (depot, item) lines a command touches, before and after.

    Crossing a reserve standard downwards (or back up) is announced as an event. Every
    line is read in one query before and one after, whatever the number of lines.
    """

    def __init__(self, cmd: Command) -> None:
        self.cmd = cmd
        self.before: dict[tuple[str, str], int] = {}
        self.minimum: dict[tuple[str, str], int | None] = {}
        self.streets: dict[str, str | None] = {}
        self.exact: dict[tuple[str, str], int] = {}  # usable stock read under the lock
        self.delta: dict[tuple[str, str], int] = {}

    def held(self, depot: str, item: str, usable: int) -> None:
        """Every lot of the item at the depot is locked by this command: `usable` is its
        stock before the command's own movements, which no one else can change now."""
        self.exact[(depot, item)] = usable

    def moved(self, moves: Iterable[MovementView]) -> None:
        for m in moves:
            self.delta[(m.depot, m.item)] = self.delta.get((m.depot, m.item), 0) + m.qty

    async def _usable(self, pairs: Sequence[tuple[str, str]]) -> list[asyncpg.Record]:
        return list(
            await self.cmd.connection.fetch(
                USABLE_OF,
                [d for d, _ in pairs],
                [i for _, i in pairs],
                today(self.cmd.now),
            )
        )

    async def touch(self, depot: asyncpg.Record, item: str) -> None:
        await self.touch_all(depot, [item])

    async def touch_all(self, depot: asyncpg.Record, items: Iterable[str]) -> None:
        new = sorted({(depot["code"], i) for i in items} - set(self.before))
        if not new:
            return
        self.streets[depot["code"]] = depot["street"]
        for row in await self._usable(new):
            key = (row["depot"], row["item"])
            self.before[key] = int(row["usable"])
            self.minimum[key] = row["minimum"]

    async def announce(self) -> None:
        watched = sorted(k for k in self.before if self.minimum.get(k))
        figures = {k: (v, v + self.delta.get(k, 0)) for k, v in self.exact.items()}
        unknown = [k for k in watched if k not in figures]
        for row in await self._usable(unknown) if unknown else []:
            key = (row["depot"], row["item"])
            figures[key] = (self.before[key], int(row["usable"]))
        for depot, item in watched:
            before, after = figures[(depot, item)]
            minimum = self.minimum[(depot, item)]
            assert minimum is not None
            data = {"depot": depot, "item": item, "qty": after, "minimum": minimum}
            street = self.streets[depot]
            if before >= minimum > after:
                self.cmd.emit("stock.alert", {"kind": "below_standard", **data}, street=street)
            elif before < minimum <= after:
                self.cmd.emit("stock.restored", data, street=street)


def _items(data: ReceiptCreate | IssueCreate | TransferCreate) -> frozenset[str]:
    return frozenset(line.item for line in data.lines)


def _cited(data: IssueCreate | TransferCreate, community: str | None) -> Cited:
    """What an issue or a transfer cites, checked by `references` before any row is written."""
    return Cited(data.incident, data.task, data.request, community=community, items=_items(data))


def _idempotent_key(key: str | None) -> str | None:
    return key[:MAX_KEY] if key else None


# --- commands ---------------------------------------------------------------------------


async def _receive_line(
    cmd: Command, depot: asyncpg.Record, line: ReceiptLine, name: str
) -> tuple[int, date | None]:
    """The lot a receipt line goes into, made on first sight; its expiry must agree."""
    conn = cmd.connection
    item = await _item(conn, line.item, f"{name}.item")
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
        return await _receive_line(cmd, depot, line, name)
    return int(lot_id), line.expires_on


async def _post_receipt(
    cmd: Command,
    depot: asyncpg.Record,
    lot: tuple[int, date | None, ReceiptLine],
    watch: Watch,
    key: str | None,
    data: ReceiptCreate | None = None,
) -> int:
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


async def _receipt(cmd: Command, data: ReceiptCreate, key: str | None, watch: Watch) -> list[int]:
    depot = await _depot(cmd.connection, data.depot)
    authorize(cmd.ctx.actor, "stock.receive", _depot_target(depot))
    await check_references(cmd, Cited(task=data.task, request=data.request, items=_items(data)))
    lots = []
    for i, line in enumerate(data.lines):
        lot_id, expires_on = await _receive_line(cmd, depot, line, f"lines[{i}]")
        lots.append((lot_id, expires_on, line))
    ids = []
    # balance rows in the one order, (depot, item, lot), of every command: no deadlock
    for lot in sorted(lots, key=lambda p: (p[2].item, p[0])):
        ids.append(await _post_receipt(cmd, depot, lot, watch, key, data))
    return sorted(ids)


async def receive(ctx: Context, data: ReceiptCreate, key: str | None = None) -> MovementResult:
    """Stock arrives at a depot: one `receipt` movement per line."""
    async with command(ctx) as cmd:
        watch = Watch(cmd)
        ids = await _receipt(cmd, data, _idempotent_key(key), watch)
        await cmd.audit("stock.receive", "depot", data.depot, None, _lines_audit(data, ids))
        await watch.announce()
        depot = await _depot(cmd.connection, data.depot)
        cmd.emit(
            "stock.moved",
            {"kind": "receipt", "depot": data.depot, "movements": ids},
            street=depot["street"],  # so the street's leader hears it on the live feed
        )
        return MovementResult(await _movements(cmd.connection, ids))


def _lines_audit(data: Any, ids: Sequence[int]) -> dict[str, Any]:
    after: dict[str, Any] = msgspec.to_builtins(data)
    after["movements"] = list(ids)
    return after


async def issue(ctx: Context, data: IssueCreate, key: str | None = None) -> MovementResult:
    """Stock handed to a community; unnamed lots are picked earliest expiry first."""
    async with command(ctx) as cmd:
        conn = cmd.connection
        depot = await _depot(conn, data.depot)
        authorize(ctx.actor, "stock.issue", _depot_target(depot))
        community = await _community(conn, data.community, "community")
        if data.incident is None and not (data.purpose or "").strip():
            raise InvalidInput("an issue needs an incident or a purpose", field="purpose")
        await check_references(cmd, _cited(data, community["code"]))
        watch = Watch(cmd)
        await watch.touch_all(depot, [line.item for line in data.lines])
        picked = await pick_all(cmd, depot["code"], data.lines, watch)
        moves = [
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
        written = await post_out(cmd, depot["code"], moves, _idempotent_key(key))
        watch.moved(written)
        ids = [m.id for m in written]
        await cmd.audit("stock.issue", "depot", depot["code"], None, _lines_audit(data, ids))
        await watch.announce()
        cmd.emit(
            "stock.moved",
            {"kind": "issue", "depot": depot["code"], "movements": ids},
            street=depot["street"],
            community=community["code"],
        )
        return MovementResult(written)


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
        depot = await _depot(conn, data.depot)
        authorize(ctx.actor, "stock.adjust", _depot_target(depot))
        await _item(conn, data.item)
        lot = await _lot(conn, data.item, data.lot, "lot")
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
        movement = await post(cmd, move, _idempotent_key(key))
        await cmd.audit(
            "stock.adjust", "depot", depot["code"], None, _lines_audit(data, [movement])
        )
        await watch.announce()
        cmd.emit(
            "stock.moved",
            {"kind": "adjustment", "depot": depot["code"], "movements": [movement]},
            street=depot["street"],
        )
        return MovementResult(await _movements(conn, [movement]))


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
        depot = await _depot(conn, row["depot"])
        authorize(ctx.actor, "stock.reverse", _depot_target(depot))
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
            new = await post(cmd, move, _idempotent_key(key))
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(
                f"movement {movement_id} was already reversed", field="movement_id"
            ) from exc
        await cmd.audit(
            "stock.reverse",
            "stock_movement",
            movement_id,
            None,
            {"reversal": new, "note": data.note},
        )
        await watch.announce()
        cmd.emit(
            "stock.moved",
            {"kind": "reversal", "depot": row["depot"], "movements": [new]},
            street=depot["street"],
        )
        return MovementResult(await _movements(conn, [new]))


async def stocktake(ctx: Context, data: StocktakeCreate, key: str | None = None) -> StocktakeView:
    """A counted sheet: each difference becomes a `count` adjustment; the sheet is kept."""
    async with command(ctx) as cmd:
        conn = cmd.connection
        depot = await _depot(conn, data.depot)
        authorize(ctx.actor, "stock.count", _depot_target(depot))
        seen: set[tuple[str, str]] = set()
        lots = []
        for i, line in enumerate(data.lines):
            if (line.item, line.lot) in seen:
                raise InvalidInput(
                    f"lot {line.lot} of {line.item} is counted twice", field=f"lines[{i}].lot"
                )
            seen.add((line.item, line.lot))
            await _item(conn, line.item, f"lines[{i}].item")
            lots.append(await _lot(conn, line.item, line.lot, f"lines[{i}].lot"))
        held = {
            r["lot"]: r["qty"]
            for r in await conn.fetch(
                "SELECT lot, qty FROM stock_balance WHERE depot=$1 ORDER BY item, lot FOR UPDATE",
                depot["code"],
            )
        }
        sheet = [
            SheetLine(
                line.item,
                line.lot,
                held.get(lot["id"], 0),
                line.counted,
                line.counted - held.get(lot["id"], 0),
            )
            for line, lot in zip(data.lines, lots, strict=True)
        ]
        take_id: int = await conn.fetchval(
            "INSERT INTO stocktake (depot, at, actor, note, sheet) VALUES ($1, $2, $3, $4, $5) "
            "RETURNING id",
            depot["code"],
            cmd.now,
            ctx.actor.username,
            data.note,
            msgspec.json.encode(sheet).decode(),
        )
        watch = Watch(cmd)
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
                note=data.note,
            )
            ids.append(await post(cmd, move, _idempotent_key(key)))
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


async def get_stocktake(ctx: Context, take_id: int) -> StocktakeView:
    async with query(ctx) as conn:
        row = await conn.fetchrow("SELECT * FROM stocktake WHERE id=$1", take_id)
        if row is None:
            raise NotFound(f"no stocktake {take_id}", field="take_id")
        depot = await _depot(conn, row["depot"])
        authorize(ctx.actor, "stock.read", _depot_target(depot))
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


# --- transfers --------------------------------------------------------------------------


async def _transfer_row(conn: asyncpg.Connection, transfer_id: int) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM stock_transfer WHERE id=$1 FOR UPDATE", transfer_id)
    if row is None:
        raise NotFound(f"no transfer {transfer_id}", field="transfer_id")
    return row


async def _dest_target(conn: asyncpg.Connection, row: asyncpg.Record) -> Target:
    if row["dest_depot"] is not None:
        return _depot_target(await _depot(conn, row["dest_depot"], "dest_depot"))
    community = await _community(conn, row["dest_community"], "dest_community")
    return Target(street=community["street"], community=community["code"])


def _illegal(row: asyncpg.Record, wanted: str) -> Conflict:
    return Conflict(
        f"transfer {row['id']} is {row['status']}: it cannot be {wanted}", field="status"
    )


async def create_transfer(ctx: Context, data: TransferCreate) -> TransferView:
    """Plan a transfer; nothing moves until it is dispatched."""
    async with command(ctx) as cmd:
        conn = cmd.connection
        source = await _depot(conn, data.source, "source")
        authorize(ctx.actor, "stock.transfer.create", _depot_target(source))
        if (data.dest_depot is None) == (data.dest_community is None):
            raise InvalidInput(
                "name exactly one destination: dest_depot or dest_community", field="dest_depot"
            )
        if data.dest_depot is not None:
            await _depot(conn, data.dest_depot, "dest_depot")
            if data.dest_depot == data.source:
                raise InvalidInput("a transfer goes to another depot", field="dest_depot")
        if data.dest_community is not None:
            await _community(conn, data.dest_community, "dest_community")
        await check_references(cmd, _cited(data, data.dest_community))
        lots: list[int | None] = []
        for i, line in enumerate(data.lines):
            await _item(conn, line.item, f"lines[{i}].item")
            lot = await _lot(conn, line.item, line.lot, f"lines[{i}].lot") if line.lot else None
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
        view = await _transfer_view(conn, transfer_id)
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


async def dispatch_transfer(ctx: Context, transfer_id: int, key: str | None = None) -> TransferView:
    """planned -> dispatched: stock leaves the source (earliest expiry first) and is in transit."""
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await _transfer_row(conn, transfer_id)
        source = await _depot(conn, row["source"], "source")
        authorize(ctx.actor, "stock.transfer.dispatch", _depot_target(source))
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
                ids.append(await post(cmd, move, _idempotent_key(key), f"lines[{i}].qty"))
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
        await cmd.audit(
            "stock.transfer.dispatch",
            "stock_transfer",
            transfer_id,
            {"status": "planned"},
            {"status": "dispatched", "movements": ids},
        )
        await watch.announce()
        cmd.emit(
            "transfer.dispatched",
            {"transfer": transfer_id, "source": row["source"], "movements": ids},
            street=source["street"],
            community=row["dest_community"],
        )
        return await _transfer_view(conn, transfer_id)


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
        dest = await _depot(conn, row["dest_depot"]) if row["dest_depot"] else None
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
            ids.append(await post(cmd, move, _idempotent_key(key)))
        await conn.execute(
            "UPDATE stock_transfer SET status='received', received_at=$2, shortfall_reason=$3 "
            "WHERE id=$1",
            transfer_id,
            cmd.now,
            reason if shortfall else None,
        )
        await cmd.audit(
            "stock.transfer.receive",
            "stock_transfer",
            transfer_id,
            {"status": "dispatched"},
            {"status": "received", "shortfall": shortfall, "reason": reason, "movements": ids},
        )
        await watch.announce()
        cmd.emit(
            "transfer.received",
            {"transfer": transfer_id, "shortfall": shortfall, "movements": ids},
            street=target.street,
            community=row["dest_community"],
        )
        return await _transfer_view(conn, transfer_id)


async def cancel_transfer(
    ctx: Context, transfer_id: int, data: TransferCancel, key: str | None = None
) -> TransferView:
    """planned or dispatched -> cancelled; dispatched stock returns to the source."""
    async with command(ctx) as cmd:
        conn = cmd.connection
        row = await _transfer_row(conn, transfer_id)
        source = await _depot(conn, row["source"], "source")
        authorize(ctx.actor, "stock.transfer.cancel", _depot_target(source))
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
            ids.append(await post(cmd, move, _idempotent_key(key)))
        await conn.execute(
            "UPDATE stock_transfer SET status='cancelled', cancelled_at=$2, cancel_reason=$3 "
            "WHERE id=$1",
            transfer_id,
            cmd.now,
            data.reason,
        )
        await cmd.audit(
            "stock.transfer.cancel",
            "stock_transfer",
            transfer_id,
            {"status": row["status"]},
            {"status": "cancelled", "reason": data.reason, "movements": ids},
        )
        await watch.announce()
        cmd.emit(
            "transfer.cancelled",
            {"transfer": transfer_id, "movements": ids},
            street=source["street"],
            community=row["dest_community"],
        )
        return await _transfer_view(conn, transfer_id)


async def _transfer_view(conn: asyncpg.Connection, transfer_id: int) -> TransferView:
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


def read_street(actor: Actor, street: str | None = None) -> tuple[bool, str | None]:
    """(limited, street): a street leader reads only their street; district roles read all."""
    authorize(actor, "stock.read", Target(street=street) if street else None)
    if actor.role in STREET_SCOPED:
        return True, actor.street
    return False, street


async def _read_depot(conn: asyncpg.Connection, actor: Actor, code: str) -> asyncpg.Record:
    depot = await _depot(conn, code)
    authorize(actor, "stock.read", _depot_target(depot))
    return depot


SCOPED_DEPOTS = """
    ($1::boolean IS false OR d.street = $2) AND ($2::varchar IS NULL OR d.street = $2)
    AND ($3::varchar IS NULL OR d.code = $3)
"""


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
            await _read_depot(conn, ctx.actor, depot)
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
        await _read_depot(conn, ctx.actor, depot)
        await _item(conn, item)
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
        return [await _transfer_view(conn, r["id"]) for r in rows]


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
        return await _transfer_view(conn, transfer_id)


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
            await _read_depot(conn, ctx.actor, depot)
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
        found = await _movements(conn, [r["id"] for r in rows])
    return sorted(found, key=lambda m: -m.id)


async def _movements(conn: asyncpg.Connection, ids: Iterable[int]) -> list[MovementView]:
    rows = await conn.fetch(
        """
        SELECT m.*, l.lot_number, l.expires_on FROM stock_movement m JOIN lot l ON l.id = m.lot
        WHERE m.id = ANY($1::bigint[]) ORDER BY m.id
        """,
        list(ids),
    )
    return [_movement_view(r) for r in rows]


def _movement_view(r: asyncpg.Record) -> MovementView:
    return MovementView(
        id=r["id"],
        at=local(r["at"]) or r["at"],
        kind=MovementKind(r["kind"]),
        depot=r["depot"],
        item=r["item"],
        lot=r["lot_number"],
        expires_on=r["expires_on"],
        qty=r["qty"],
        reason=r["reason"],
        community=r["community"],
        purpose=r["purpose"],
        incident=r["incident_id"],
        task=r["task_id"],
        request=r["request_id"],
        transfer=r["transfer_id"],
        stocktake=r["stocktake_id"],
        reverses=r["reverses"],
        actor=r["actor"],
        idempotency_key=r["idempotency_key"],
        note=r["note"],
    )


# --- reserve standards and alerts -------------------------------------------------------


async def list_standards(
    ctx: Context, depot: str | None = None, street: str | None = None
) -> list[StandardView]:
    limited, street = read_street(ctx.actor, street)
    async with query(ctx) as conn:
        if depot is not None:
            await _read_depot(conn, ctx.actor, depot)
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
        row = await _depot(conn, depot)
        authorize(ctx.actor, "stock.standards", _depot_target(row))
        await _item(conn, item)
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
            await _read_depot(conn, ctx.actor, depot)
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


# --- catalogue loading ------------------------------------------------------------------


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def catalogue_rows(folder: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    items = [
        {
            "code": r["code"],
            "name_zh": r["name_zh"],
            "name_en": r["name_en"],
            "unit": r["unit"],
            "category": r["category"],
            "shelf_life_days": int(r["shelf_life_days"]) if r["shelf_life_days"] else None,
            "weight_kg": float(r["weight_kg"]),
            "volume_l": float(r["volume_l"]),
        }
        for r in _read_csv(folder / "items.csv")
    ]
    standards = [
        {"depot": r["depot"], "item": r["item"], "minimum": int(r["minimum"])}
        for r in _read_csv(folder / "reserve_standards.csv")
    ]
    return items, standards


async def load_catalogue(ctx: Context, folder: Path) -> LoadReport:
    """Items and reserve standards; idempotent, and a commander's edited standard is kept."""
    authorize(ctx.actor, "stock.load_catalogue")
    items, standards = catalogue_rows(folder)
    report = LoadReport(created={}, updated={}, unchanged={})
    async with command(ctx) as cmd:
        conn = cmd.connection
        created = updated = 0
        for row in items:
            current = await conn.fetchrow(
                "SELECT * FROM item WHERE code=$1 FOR UPDATE", row["code"]
            )
            columns = list(row)
            if current is None:
                marks = ", ".join(f"${i + 1}" for i in range(len(columns)))
                await conn.execute(
                    f"INSERT INTO item ({', '.join(columns)}) VALUES ({marks})", *row.values()
                )
                created += 1
            elif any(current[k] != v for k, v in row.items()):
                sets = ", ".join(f"{c}=${i + 2}" for i, c in enumerate(columns[1:]))
                await conn.execute(
                    f"UPDATE item SET {sets} WHERE code=$1", row["code"], *list(row.values())[1:]
                )
                updated += 1
        report.created["item"], report.updated["item"] = created, updated
        report.unchanged["item"] = len(items) - created - updated
        created = updated = 0
        for row in standards:
            current = await conn.fetchrow(
                "SELECT minimum, source FROM reserve_standard WHERE depot=$1 AND item=$2",
                row["depot"],
                row["item"],
            )
            if current is None:
                await conn.execute(
                    "INSERT INTO reserve_standard (depot, item, minimum, source) "
                    "VALUES ($1, $2, $3, 'reference')",
                    row["depot"],
                    row["item"],
                    row["minimum"],
                )
                created += 1
            elif current["source"] == "reference" and current["minimum"] != row["minimum"]:
                await conn.execute(
                    "UPDATE reserve_standard SET minimum=$3 WHERE depot=$1 AND item=$2",
                    row["depot"],
                    row["item"],
                    row["minimum"],
                )
                updated += 1
        report.created["reserve_standard"] = created
        report.updated["reserve_standard"] = updated
        report.unchanged["reserve_standard"] = len(standards) - created - updated
        if report.changes:
            await cmd.audit(
                "stock.load_catalogue",
                "catalogue",
                folder.name,
                None,
                {"created": report.created, "updated": report.updated},
            )
            cmd.emit("stock.catalogue_loaded", {"created": report.created})
    return report


# --- demo stock -------------------------------------------------------------------------

DEMO_SEED = 20261127


async def seed_demo_stock(ctx: Context, seed: int = DEMO_SEED) -> int:
    """Receipts giving every depot 60-140% of its standard, a few lots near expiry and a few
    lines below standard; only into an empty ledger. Returns the movements written."""
    authorize(ctx.actor, "stock.demo")
    rng = random.Random(seed)
    async with command(ctx) as cmd:
        conn = cmd.connection
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM stock_movement)"):
            return 0
        on = today(cmd.now)
        standards = await conn.fetch(
            "SELECT r.depot, r.item, r.minimum, i.shelf_life_days FROM reserve_standard r "
            "JOIN item i ON i.code = r.item WHERE r.minimum > 0 ORDER BY r.depot, r.item"
        )
        ids = []
        for r in standards:
            below = rng.random() < 0.08
            factor = rng.uniform(0.6, 0.95) if below else rng.uniform(1.0, 1.4)
            low, high = math.ceil(0.6 * r["minimum"]), math.floor(1.4 * r["minimum"])
            total = max(1, min(high, max(low, round(r["minimum"] * factor))))
            shelf = r["shelf_life_days"]
            parts = rng.randint(1, 3) if shelf else 1
            cuts = sorted(rng.sample(range(1, total), parts - 1)) if total > parts else []
            sizes = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
            for k, qty in enumerate(sizes):
                expires = None
                if shelf:
                    if k == 0 and rng.random() < 0.12:
                        expires = on + timedelta(days=rng.randint(3, 25))
                    else:
                        expires = on + timedelta(days=rng.randint(60, shelf))
                number = f"DEMO-{r['depot'][-3:]}-{k + 1}"
                lot = await conn.fetchval(
                    "INSERT INTO lot (item, lot_number, expires_on, created_at) "
                    "VALUES ($1, $2, $3, $4) ON CONFLICT (item, lot_number) DO UPDATE "
                    "SET expires_on = lot.expires_on RETURNING id",
                    r["item"],
                    number,
                    expires,
                    cmd.now,
                )
                move = Move(
                    MovementKind.RECEIPT, r["depot"], r["item"], lot, qty, note="demo stock"
                )
                ids.append(await post(cmd, move, None))
        await cmd.audit(
            "stock.demo", "stock_movement", None, None, {"seed": seed, "movements": len(ids)}
        )
        cmd.emit("stock.moved", {"kind": "receipt", "movements": len(ids), "demo": True})
    return len(ids)


# --- spreadsheets -----------------------------------------------------------------------

IMPORT_COLUMNS = ("depot", "item", "lot", "expires_on", "qty")
HEADER_ALIASES = {
    "depot": "depot",
    "储备点": "depot",
    "仓库": "depot",
    "item": "item",
    "物资编码": "item",
    "物资": "item",
    "lot": "lot",
    "批号": "lot",
    "expires_on": "expires_on",
    "有效期": "expires_on",
    "有效期至": "expires_on",
    "qty": "qty",
    "数量": "qty",
    "note": "note",
    "备注": "note",
}


@dataclass
class Sheet:
    header: list[str]
    rows: list[tuple[int, list[str]]] = field(default_factory=list)


async def _read_sheet(filename: str, content: bytes) -> Sheet:
    """A receipts list; Chinese column names are taken as their English ones."""
    header, rows = await spreadsheets.read_table_off_loop(content, filename, max_rows=5000)
    header = [HEADER_ALIASES.get(h, h) for h in header]
    missing = [c for c in IMPORT_COLUMNS if c not in header and c != "expires_on"]
    if missing:
        raise InvalidInput(
            f"missing column(s): {', '.join(missing)}; expected {', '.join(IMPORT_COLUMNS)}",
            field=missing[0],
        )
    return Sheet(header, rows)


def _cell_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip().replace("/", "-").replace(".", "-")
    return date.fromisoformat(text)


def _cell_qty(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(str(value).strip())


@dataclass
class RowError:
    row: int
    column: str
    message: str


async def import_receipts(
    ctx: Context, filename: str, content: bytes, key: str | None = None
) -> ImportResult:
    """Receipts from a delivery list; any bad row refuses the whole file, naming rows and
    columns, and nothing is written."""
    authorize(ctx.actor, "stock.receive")
    async with spreadsheets.import_slot(ctx.actor.username):
        return await _import_sheet(ctx, filename, await _read_sheet(filename, content), key)


async def _import_sheet(ctx: Context, filename: str, sheet: Sheet, key: str | None) -> ImportResult:
    if not sheet.rows:
        raise InvalidInput("the file has a header but no rows", field="file")
    if len(sheet.rows) > 5000:
        raise InvalidInput("at most 5000 rows per file", field="file")
    errors, parsed = _parse_rows(sheet)
    async with command(ctx) as cmd:
        conn = cmd.connection
        depots: dict[str, asyncpg.Record] = {}
        resolved = []
        for number, code, line in parsed:
            if code not in depots:
                row = await conn.fetchrow("SELECT code, street FROM depot WHERE code=$1", code)
                if row is None:
                    errors.append(RowError(number, "depot", f"no depot {code}"))
                    continue
                if not ctx.actor.covers(_depot_target(row)):
                    raise Forbidden(
                        f"row {number}: depot {code} is outside the scope of {ctx.actor.username}",
                        field="depot",
                        row=number,
                    )
                depots[code] = row
            await conn.execute("SAVEPOINT import_row")
            try:
                lot, expires_on = await _receive_line(cmd, depots[code], line, "row")
            except (InvalidInput, NotFound) as exc:
                await conn.execute("ROLLBACK TO SAVEPOINT import_row")
                column = (exc.field or "item").split(".")[-1]
                column = column if column in IMPORT_COLUMNS else "item"
                errors.append(RowError(number, column, exc.detail))
                continue
            await conn.execute("RELEASE SAVEPOINT import_row")
            resolved.append((code, lot, number, expires_on, line))
        if errors:
            raise _row_errors(errors)
        watch = Watch(cmd)
        ids = []
        by_street: dict[str | None, list[int]] = {}
        for code, lot, _, expires_on, line in sorted(resolved, key=lambda r: r[:3]):
            receipt = (lot, expires_on, line)
            ids.append(await _post_receipt(cmd, depots[code], receipt, watch, _idempotent_key(key)))
            by_street.setdefault(depots[code]["street"], []).append(ids[-1])
        await cmd.audit(
            "stock.import_receipts",
            "file",
            filename[:80] or None,
            None,
            {"rows": len(parsed), "movements": ids},
        )
        await watch.announce()
        for street, moved in by_street.items():  # each street's leader hears theirs
            data = {"kind": "receipt", "movements": moved, "import": filename[:80]}
            cmd.emit("stock.moved", data, street=street)
    return ImportResult(rows=len(parsed), movements=sorted(ids))


def _parse_rows(sheet: Sheet) -> tuple[list[RowError], list[tuple[int, str, ReceiptLine]]]:
    """Check each row's cells; every problem is named by row and column."""
    errors: list[RowError] = []
    parsed: list[tuple[int, str, ReceiptLine]] = []
    for number, values in sheet.rows:
        cells = {n: values[i] if i < len(values) else None for i, n in enumerate(sheet.header)}
        before = len(errors)
        text = {c: str(cells.get(c) or "").strip() for c in ("depot", "item", "lot")}
        for c, limit in (("depot", 16), ("item", 20), ("lot", 60)):
            if not text[c]:
                errors.append(RowError(number, c, "empty"))
            elif len(text[c]) > limit:
                errors.append(RowError(number, c, f"longer than {limit} characters"))
        qty = 0
        try:
            qty = _cell_qty(cells.get("qty"))
            if not 1 <= qty <= 10_000_000:
                errors.append(RowError(number, "qty", "must be between 1 and 10000000"))
        except (TypeError, ValueError):
            errors.append(RowError(number, "qty", f"not a whole number: {cells.get('qty')!r}"))
        expires_on = None
        try:
            expires_on = _cell_date(cells.get("expires_on"))
        except (TypeError, ValueError):
            shown = cells.get("expires_on")
            errors.append(RowError(number, "expires_on", f"not a date (YYYY-MM-DD): {shown!r}"))
        item = text["item"].upper()
        if text["item"] and not re.fullmatch(r"[A-Z0-9_]{1,20}", item):
            errors.append(RowError(number, "item", f"not an item code: {text['item']!r}"))
        if len(errors) == before:
            line = ReceiptLine(item=item, lot=text["lot"], qty=qty, expires_on=expires_on)
            parsed.append((number, text["depot"], line))
    return errors, parsed


def _row_errors(errors: list[RowError]) -> InvalidInput:
    errors.sort(
        key=lambda e: (e.row, IMPORT_COLUMNS.index(e.column) if e.column in IMPORT_COLUMNS else 9)
    )
    first = errors[0]
    return InvalidInput(
        f"{len(errors)} error(s); nothing was imported. Row {first.row}, column "
        f"{first.column}: {first.message}",
        field=first.column,
        row=first.row,
        errors=[{"row": e.row, "column": e.column, "message": e.message} for e in errors],
    )


@dataclass
class Export:
    filename: str
    media_type: str
    content: bytes


XLSX_TYPE = spreadsheets.XLSX_MEDIA


def render(
    name: str, header: Sequence[str], rows: Iterable[Sequence[Any]], fmt: ExportFormat
) -> Export:
    """A table as CSV (UTF-8 with BOM, so Excel shows Chinese) or XLSX."""
    table = list(rows)
    if fmt is ExportFormat.CSV:
        return Export(f"{name}.csv", spreadsheets.CSV_MEDIA, spreadsheets.write_csv(header, table))
    return Export(f"{name}.xlsx", XLSX_TYPE, spreadsheets.write_xlsx([(name, header, table)]))


async def export_stock(
    ctx: Context, fmt: ExportFormat, depot: str | None = None, street: str | None = None
) -> Export:
    lines = await list_stock(ctx, depot=depot, street=street)
    return render(
        "stock",
        ("depot", "street", "item", "lot", "expires_on", "qty", "status"),
        ((s.depot, s.street, s.item, s.lot, s.expires_on, s.qty, s.status.value) for s in lines),
        fmt,
    )


async def export_card(ctx: Context, fmt: ExportFormat, depot: str, item: str) -> Export:
    card = await stock_card(ctx, depot, item)
    return render(
        f"card-{depot}-{item}",
        (
            "id",
            "at",
            "kind",
            "lot",
            "expires_on",
            "qty",
            "balance",
            "reason",
            "community",
            "transfer",
            "reverses",
            "actor",
            "note",
        ),
        (
            (
                r.id,
                r.at,
                r.kind.value,
                r.lot,
                r.expires_on,
                r.qty,
                r.balance,
                r.reason,
                r.community,
                r.transfer,
                r.reverses,
                r.actor,
                r.note,
            )
            for r in card.rows
        ),
        fmt,
    )


async def export_summary(ctx: Context, fmt: ExportFormat, street: str | None = None) -> Export:
    rows = await summary(ctx, street)
    return render(
        "summary",
        ("street", "street_name", "item", "on_hand", "standard", "gap", "percent"),
        ((r.street, r.street_name, r.item, r.on_hand, r.standard, r.gap, r.percent) for r in rows),
        fmt,
    )
