"""Which lots the lines of a command take their stock from: a named lot, or usable lots by
earliest expiry (FEFO). Read either locked (`pick_all`: every balance row of the items held
in the one order (depot, item, lot), so crossed line orders wait instead of deadlocking)
or plain (`plan_lines` on `read_lots(lock=False)`: the ledger then locks, checks and writes
in one statement, see `ledger.take_out`). A shortage of several lines is one refusal."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import asyncpg

from dispatch.db import Command
from dispatch.errors import Conflict, NotFound
from dispatch.stock.lookups import today
from dispatch.stock.schemas import PickLine
from dispatch.stock.shortages import shortages

__all__ = ["LotOf", "Picked", "Taken", "named_lots", "pick_all", "plan_lines", "read_lots"]

LotOf = tuple[int, date | None]  # a lot and its expiry
Taken = list[tuple[int, int, date | None]]  # (lot, qty, expires_on) a line takes

DRAWN = (
    "SELECT array_agg(nextval(pg_get_serial_sequence('stock_movement', 'id'))) "
    "FROM generate_series(1, $4)"
)
LOTS_OF = """
SELECT b.item, b.lot, b.qty, l.expires_on, l.lot_number{drawn}
FROM stock_balance b JOIN lot l ON l.id = b.lot
WHERE b.depot = $1 AND (b.item = ANY($2::varchar[]) OR b.lot = ANY($3::bigint[]))
ORDER BY b.depot, b.item, b.lot
"""


@dataclass
class Picked:
    """A choice of lots for every line: `taken` per line in the lines' order, the lines
    short (empty when all can be had), the usable stock of each item picked by expiry,
    and the balance rows the choice was made on (what `take_out` checks under the lock)."""

    taken: list[Taken]
    short: list[dict[str, Any]] = field(default_factory=list)
    usable: dict[str, int] = field(default_factory=dict)
    lots: list[int] = field(default_factory=list)


def picked_items(lines: Sequence[PickLine], named: dict[int, LotOf]) -> list[str]:
    """The items picked by expiry (lines that name no lot): every lot of them is read."""
    return sorted({line.item for i, line in enumerate(lines) if i not in named})


async def read_lots(
    conn: asyncpg.Connection,
    depot: str,
    lines: Sequence[PickLine],
    named: dict[int, LotOf],
    *,
    lock: bool,
    draw: int = 0,
) -> list[asyncpg.Record]:
    """The balance rows a choice is made on, in (depot, item, lot) order; locked in that
    order when `lock`. `draw`: as many ids of ledger rows drawn with them (each row's
    `ids`), for movements answered before they are written (`ledger.take_out`)."""
    args = [depot, picked_items(lines, named), sorted({lot for lot, _ in named.values()})]
    drawn = f", ({DRAWN}) AS ids" if draw else ""
    sql = LOTS_OF.format(drawn=drawn) + (" FOR UPDATE OF b" if lock else "")
    return list(await conn.fetch(sql, *args, *([draw] if draw else [])))


def plan_lines(
    rows: Sequence[asyncpg.Record], lines: Sequence[PickLine], named: dict[int, LotOf], on: date
) -> Picked:
    """Choose each line's lots out of `rows`: the named lot, or usable lots by earliest
    expiry, each lot's quantity shared out in the lines' order."""
    left = {r["lot"]: r["qty"] for r in rows}
    usable: dict[str, list[LotOf]] = {}
    for r in sorted(rows, key=lambda r: (r["expires_on"] is None, r["expires_on"], r["lot"])):
        if r["expires_on"] is None or r["expires_on"] >= on:
            usable.setdefault(r["item"], []).append((r["lot"], r["expires_on"]))
    picked = Picked([], lots=sorted(left))
    for item in picked_items(lines, named):
        picked.usable[item] = sum(left[lot] for lot, _ in usable.get(item, []))
    for i, line in enumerate(lines):
        candidates = [named[i]] if i in named else usable.get(line.item, [])
        have = sum(left.get(lot, 0) for lot, _ in candidates)
        if have < line.qty:
            picked.short.append(
                {"line": i, "item": line.item, "asked": line.qty, "available": have}
            )
            picked.taken.append([])
            continue
        picked.taken.append(_take(candidates, left, line.qty))
    return picked


async def pick_all(
    cmd: Command,
    depot: str,
    lines: Sequence[PickLine],
    watch: Any = None,
    *,
    named: dict[int, LotOf] | None = None,
) -> list[Taken]:
    """Which lots each line takes its quantity from, every balance row of the depot's items
    locked in one statement, in the one order (depot, item, lot) every command follows, so
    the choice stays true until commit. A shortage on several lines is one refusal listing
    each. An item whose every lot is now held is told to the `watch` (a `ledger.Watch`) with
    its usable stock, so the reserve standard is judged on that exact figure."""
    on = today(cmd.now)
    if named is None:
        named = await named_lots(cmd, lines, on)
    rows = await read_lots(cmd.connection, depot, lines, named, lock=True)
    picked = plan_lines(rows, lines, named, on)
    if watch is not None:
        for item, usable in picked.usable.items():
            watch.held(depot, item, usable)
    if picked.short:
        raise await shortages(cmd.connection, depot, picked.short)
    return picked.taken


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


async def named_lots(
    cmd: Command, lines: Sequence[PickLine], on: date, *, known: Collection[str] | None = None
) -> dict[int, LotOf]:
    """The lot each line names (checked: it exists and has not expired), by line index;
    every item and lot looked up in one query each, whatever the number of lines (the
    items not at all when the caller read them already: `known`)."""
    conn = cmd.connection
    if known is None:
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
