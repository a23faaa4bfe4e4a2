"""The ledger: the only writer of stock balances and movements.

Every change of stock is a movement row and a balance update in the same transaction.
A decrease is a guarded `UPDATE ... SET qty = qty - n WHERE ... AND qty >= n`, so two
concurrent issues can never take the same unit; the balance table's CHECK forbids a
negative quantity, and the movement table refuses UPDATE and DELETE. Balance rows are
locked in one order (depot, item, lot), so concurrent commands never deadlock.

Here: `post` (one movement), `post_out` (many out of one depot whose rows the command
holds, one statement), `take_out` (choose, lock, check and write in one statement while
the rows are held), `Watch` (reserve standards crossed by a command) and the movement
view. Which lots a line takes is `picking`'s; the shortage refusal is `shortages`'."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from dispatch.clock import local
from dispatch.db import Command, Replan
from dispatch.stock.lookups import standard_of, today, usable_sum
from dispatch.stock.picking import Taken, named_lots, pick_all, plan_lines, read_lots
from dispatch.stock.schemas import (
    AdjustmentReason,
    MovementKind,
    MovementView,
    PickLine,
)
from dispatch.stock.shortages import Shortage, shortages

__all__ = [
    "MAX_KEY",
    "Move",
    "Watch",
    "idempotent_key",
    "movement_view",
    "movements_of",
    "post",
    "post_out",
    "take_out",
]

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


def _written(ids: str = "") -> str:
    """The ledger rows of the movements ($5-$20 as columns), written only if every balance
    gave (`taken` has a row per lot of $21); their ids drawn, or given (`ids`, an array)."""
    id_column, id_value = ("id, ", f"({ids})[m.n], ") if ids else ("", "")
    return f"""
written AS (
    INSERT INTO stock_movement
        ({id_column}at, kind, depot, item, lot, qty, reason, community, purpose, incident_id,
         task_id, request_id, transfer_id, stocktake_id, reverses, actor, actor_id,
         idempotency_key, key_seq, note)
    SELECT {id_value}$1, m.kind, m.depot, m.item, m.lot, m.qty, m.reason, m.community,
        m.purpose, m.incident, m.task, m.request, m.transfer, m.stocktake, m.reverses, $2, $3,
        $4, m.key_seq, m.note
    FROM unnest($5::varchar[], $6::varchar[], $7::varchar[], $8::bigint[], $9::integer[],
                $10::varchar[], $11::varchar[], $12::varchar[], $13::bigint[], $14::bigint[],
                $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[], $19::integer[],
                $20::varchar[])
        WITH ORDINALITY AS m(kind, depot, item, lot, qty, reason, community, purpose, incident,
                             task, request, transfer, stocktake, reverses, key_seq, note, n)
    WHERE (SELECT count(*) FROM taken) = cardinality($21::bigint[])
    ORDER BY m.n
    RETURNING *
)"""


# the guarded updates of rows the command already holds (`pick_all`), and the ledger rows
MOVEMENTS_OUT = f"""
WITH taken AS (
    UPDATE stock_balance b SET qty = b.qty - t.qty
    FROM unnest($21::bigint[], $22::integer[]) AS t(lot, qty)
    WHERE b.depot = $23 AND b.lot = t.lot AND b.qty >= t.qty
    RETURNING b.lot
), {_written()}
SELECT w.*, l.lot_number, l.expires_on FROM written w JOIN lot l ON l.id = w.lot ORDER BY w.id
"""


def _checked_out(ids: str = "") -> str:
    """Guarded updates and ledger rows as `MOVEMENTS_OUT`, locking the rows first in
    (depot, item, lot) order and moving only if the choice made on a plain read still holds
    ($27: the same lots; each with enough); with it, the usable stock of each item as held
    (before this command), for the reserve standards."""
    return f"""
WITH held AS (
    SELECT b.item, b.lot, b.qty, (l.expires_on IS NULL OR l.expires_on >= $24) AS usable
    FROM stock_balance b JOIN lot l ON l.id = b.lot
    WHERE b.depot = $23 AND (b.item = ANY($25::varchar[]) OR b.lot = ANY($26::bigint[]))
    ORDER BY b.depot, b.item, b.lot FOR UPDATE OF b
), fine AS (
    SELECT (SELECT coalesce(array_agg(lot ORDER BY lot), '{{}}') FROM held) = $27::bigint[]
        AND NOT EXISTS (
            SELECT 1 FROM unnest($21::bigint[], $22::integer[]) AS t(lot, qty)
            LEFT JOIN held h ON h.lot = t.lot WHERE h.qty IS NULL OR h.qty < t.qty
        ) AS ok
), taken AS (
    UPDATE stock_balance b SET qty = b.qty - t.qty
    FROM unnest($21::bigint[], $22::integer[]) AS t(lot, qty), fine
    WHERE fine.ok AND b.depot = $23 AND b.lot = t.lot AND b.qty >= t.qty
    RETURNING b.lot
), {_written(ids)}, usable_of AS (
    SELECT array_agg(item ORDER BY item) AS items, array_agg(total ORDER BY item) AS totals
    FROM (SELECT item, coalesce(sum(qty) FILTER (WHERE usable), 0) AS total FROM held
          WHERE item = ANY($25::varchar[]) GROUP BY item) s
)
SELECT w.*, l.lot_number, l.expires_on, u.items AS usable_items, u.totals AS usable_totals
FROM written w JOIN lot l ON l.id = w.lot CROSS JOIN usable_of u ORDER BY w.id
"""


CHECKED_OUT = _checked_out()
CHECKED_OUT_AS = _checked_out("$28::bigint[]")  # the movements' ids drawn before


def _out_args(
    cmd: Command, depot: str, moves: Sequence[Move], key: str | None, seqs: Sequence[int | None]
) -> list[Any]:
    """Parameters $1-$23 of the statements above: who, the movements as columns, the
    quantity out of each lot, the depot."""
    out: dict[int, int] = {}
    for move in moves:
        out[move.lot] = out.get(move.lot, 0) - move.qty
    lots = sorted(out)

    def column(name: str) -> list[Any]:
        return [getattr(m, name) for m in moves]

    actor = cmd.ctx.actor
    return [
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
        list(seqs),
        column("note"),
        lots,
        [out[lot] for lot in lots],
        depot,
    ]


async def post_out(
    cmd: Command, depot: str, moves: Sequence[Move], key: str | None
) -> list[MovementView]:
    """Write movements out of one depot (each qty negative) whose balance rows the command
    holds locked (`pick_all`): the balances and the ledger rows of every line in one
    statement (one round trip while the rows are held, whatever the number of lines).
    The movements as written, in the order given."""
    seqs = [cmd.next_keyed() if key else None for _ in moves]
    rows = await cmd.connection.fetch(MOVEMENTS_OUT, *_out_args(cmd, depot, moves, key, seqs))
    if len(rows) != len(moves):  # a balance could not give: only if not locked first
        raise await _short_of(cmd.connection, depot, moves)
    return [movement_view(r) for r in rows]


async def _short_of(conn: asyncpg.Connection, depot: str, moves: Sequence[Move]) -> Shortage:
    out: dict[int, int] = {}
    for move in moves:
        out[move.lot] = out.get(move.lot, 0) - move.qty
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


async def take_out(
    cmd: Command,
    depot: str,
    lines: Sequence[PickLine],
    moves_of: Callable[[list[Taken]], list[Move]],
    key: str | None,
    watch: Watch,
    *,
    known: Collection[str] | None = None,
) -> list[MovementView]:
    """Lines out of one depot, holding the balance rows as briefly as raw guarded updates
    would: the lots are chosen on a plain read, then one statement (`CHECKED_OUT`) locks
    them in (depot, item, lot) order, checks the choice still holds, moves and writes the
    ledger. Inside a request's unit of work that statement is held back to just before the
    commit (`Command.at_end`), its movements' ids drawn first so the answer is known;
    should the stock have changed under the choice, it changes nothing and the request runs
    again (`Replan`). Outside one, or when running again, the locked path decides
    (`pick_all`, `post_out`), refusing every shortage at once. `moves_of` turns the lots
    each line takes into the movements to write; `known`, the items the catalogue is
    known to hold (already read)."""
    on = today(cmd.now)
    named = await named_lots(cmd, lines, on, known=known)
    if not cmd.careful:
        drawn = len(lines) if not named and cmd.unit is not None else 0
        rows = await read_lots(cmd.connection, depot, lines, named, lock=False, draw=drawn)
        picked = plan_lines(rows, lines, named, on)
        if not picked.short:
            checks = [on, sorted(picked.usable), sorted({lot for lot, _ in named.values()})]
            out = _Out(cmd, depot, moves_of(picked.taken), key, watch, [*checks, picked.lots])
            if not named and cmd.unit is not None:
                return await _held_back(out, rows)
            written = await _checked(out)
            if written is not None:
                return written
    locked = await pick_all(cmd, depot, lines, watch, named=named)
    return await post_out(cmd, depot, moves_of(locked), key)


@dataclass
class _Out:
    """Movements out of one depot chosen on a plain read, and what `CHECKED_OUT` checks
    ($24-$27: the day, the items picked by expiry, the lots named, the lots read)."""

    cmd: Command
    depot: str
    moves: list[Move]
    key: str | None
    watch: Watch
    checks: list[Any]

    def args(self) -> list[Any]:
        """The statement's parameters, with the next key ordinals (taken by `take_keys`
        once the rows are sure to be written)."""
        n = len(self.moves)
        seqs: list[int | None] = list(self.cmd.key_seqs(n)) if self.key else [None] * n
        return [*_out_args(self.cmd, self.depot, self.moves, self.key, seqs), *self.checks]

    def take_keys(self) -> None:
        self.cmd.keep_keyed(len(self.moves) if self.key else 0)

    def held(self, row: asyncpg.Record) -> None:
        """The usable stock the statement held, told to the watch (none: all lots named)."""
        items, totals = row["usable_items"] or [], row["usable_totals"] or []
        for item, usable in zip(items, totals, strict=True):
            self.watch.held(self.depot, item, int(usable))


async def _checked(out: _Out) -> list[MovementView] | None:
    """`CHECKED_OUT` now: the movements written, or None when the choice did not hold (and
    the locked path writes the same key ordinals)."""
    written = await out.cmd.connection.fetch(CHECKED_OUT, *out.args())
    if not written:
        return None
    out.take_keys()
    out.held(written[0])
    return [movement_view(r) for r in written]


async def _held_back(out: _Out, rows: Sequence[asyncpg.Record]) -> list[MovementView]:
    """Take the movements' ids (drawn with the lots) and answer them as they will be
    written (their time, key ordinals and ids fixed now); the statement itself runs at
    the end of the unit, and the reserve standards are judged then, on the stock it held."""
    cmd = out.cmd
    ids = list(rows[0]["ids"])[: len(out.moves)]  # drawn with the lots: one per line
    if len(ids) < len(out.moves):  # a line takes more than one lot
        more = await cmd.connection.fetch(
            "SELECT nextval(pg_get_serial_sequence('stock_movement', 'id')) "
            "FROM generate_series(1, $1)",
            len(out.moves) - len(ids),
        )
        ids += [r[0] for r in more]
    args = [*out.args(), ids]
    out.take_keys()
    out.watch.pending = True

    async def write(conn: asyncpg.Connection) -> None:
        written = await conn.fetch(CHECKED_OUT_AS, *args)
        if not written:
            raise Replan(f"the stock of depot {out.depot} changed under the choice of its lots")
        out.held(written[0])
        out.watch.pending = False
        await out.watch.announce()

    held_back = cmd.at_end(write)
    assert held_back, "a unit of work, not running again"
    lots = {r["lot"]: r for r in rows}
    return [
        _planned_view(cmd, move, movement_id, lots[move.lot], out.key, args[0])
        for move, movement_id in zip(out.moves, ids, strict=True)
    ]


def _planned_view(
    cmd: Command,
    move: Move,
    movement_id: int,
    lot: asyncpg.Record,
    key: str | None,
    at: datetime,
) -> MovementView:
    """The movement as the ledger will hold it once written (what `movement_view` of its
    row reads back)."""
    return MovementView(
        id=movement_id,
        at=local(at) or at,
        kind=move.kind,
        depot=move.depot,
        item=move.item,
        lot=lot["lot_number"],
        expires_on=lot["expires_on"],
        qty=move.qty,
        reason=move.reason.value if move.reason else None,
        community=move.community,
        purpose=move.purpose,
        incident=move.incident,
        task=move.task,
        request=move.request,
        transfer=move.transfer,
        stocktake=move.stocktake,
        reverses=move.reverses,
        actor=cmd.ctx.actor.username,
        idempotency_key=idempotent_key(key),
        note=move.note,
    )


USABLE_OF = f"""
SELECT w.depot, w.item, {usable_sum("w.depot", "w.item", "$3")} AS usable,
    {standard_of("w.depot", "w.item")} AS minimum
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
        self.pending = False  # the movements wait for the end of the unit: judged then
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

    def know(self, depot: asyncpg.Record, items: Iterable[asyncpg.Record]) -> None:
        """The usable stock and standard of items at the depot, read already (rows with
        `code`, `usable`, `minimum`, as `lookups.issue_facts` gives them)."""
        self.streets[depot["code"]] = depot["street"]
        for row in items:
            key = (depot["code"], row["code"])
            self.before.setdefault(key, int(row["usable"]))
            self.minimum.setdefault(key, row["minimum"])

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
        if self.pending:
            return
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
