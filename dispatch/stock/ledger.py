"""The ledger: the only writer of stock balances and movements.

Every change of stock is a movement row and a balance update in the same transaction.
A decrease is a guarded `UPDATE ... SET qty = qty - n WHERE ... AND qty >= n`, so two
concurrent issues can never take the same unit; the balance table's CHECK forbids a
negative quantity, and the movement table refuses UPDATE and DELETE. Balance rows are
locked in one order (depot, item, lot), so concurrent commands never deadlock.

Here: `post` (one movement), `post_out` (many out of one depot, in two statements),
`pick_all` (which lots, locked), the shortage refusal, `Watch` (reserve standards crossed
by a command) and the movement view."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from dispatch.clock import local
from dispatch.db import Command
from dispatch.errors import Conflict, NotFound
from dispatch.stock.lookups import today
from dispatch.stock.schemas import (
    AdjustmentReason,
    MovementKind,
    MovementView,
    PickLine,
)

MAX_KEY = 200


def idempotent_key(key: str | None) -> str | None:
    """The Idempotency-Key as the ledger keeps it on its rows: at most `MAX_KEY` characters."""
    return key[:MAX_KEY] if key else None


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


async def shortages(conn: asyncpg.Connection, depot: str, short: list[dict[str, Any]]) -> Shortage:
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
            raise await shortages(conn, move.depot, [{**short, "field": name}])
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
        idempotent_key(key),
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
        idempotent_key(key),
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
    return [movement_view(r) for r in rows]


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
    return await shortages(conn, depot, [{**short, "field": "lines"}])


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
        raise await shortages(conn, depot, short)
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


async def movements_of(conn: asyncpg.Connection, ids: Iterable[int]) -> list[MovementView]:
    rows = await conn.fetch(
        """
        SELECT m.*, l.lot_number, l.expires_on FROM stock_movement m JOIN lot l ON l.id = m.lot
        WHERE m.id = ANY($1::bigint[]) ORDER BY m.id
        """,
        list(ids),
    )
    return [movement_view(r) for r in rows]


def movement_view(r: asyncpg.Record) -> MovementView:
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
