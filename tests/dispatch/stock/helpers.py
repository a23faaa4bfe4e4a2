"""Stock test helpers: a fresh item per test (so lots and balances never mix across tests)
and ledger facts read straight from the database."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from dispatch.accounts.policy import SYSTEM
from dispatch.clock import FixedClock, WallClock
from dispatch.db import Context
from dispatch.stock import service
from dispatch.stock.schemas import ReceiptCreate, ReceiptLine
from tests.support import run, sql

HOME = "110101001"
HOME_DEPOT = "D110101001"
OTHER_DEPOT = "D110101002"
RESERVE = "D110101000"


def new_item(shelf_life_days: int | None = 365) -> str:
    """A catalogue item of this test's own; its name is unique too (`item_name`), as real
    items' names are, so pages name it without its code."""
    code = "T" + uuid.uuid4().hex[:12].upper()
    sql(
        "INSERT INTO item (code, name_zh, name_en, unit, category, shelf_life_days, weight_kg, "
        "volume_l) VALUES ($1, $2, $3, 'piece', 'test', $4, 1, 1)",
        code,
        item_name(code),
        f"test item {item_number(code)}",
        shelf_life_days,
    )
    return code


def item_number(code: str) -> str:
    return f"{int(code[1:], 16) % 10**6:06d}"


def item_name(code: str) -> str:
    """The Chinese name `new_item` gave the item of this code."""
    return f"测试物资{item_number(code)}"


def community_of(street: str) -> str:
    return str(sql("SELECT min(code) AS c FROM community WHERE street=$1", street)[0]["c"])


def ctx_at(moment: datetime | None = None) -> Context:
    return Context(SYSTEM, FixedClock(moment) if moment else WallClock())


def receive(
    depot: str,
    item: str,
    lot: str,
    qty: int,
    expires_on: date | None = None,
    at: datetime | None = None,
) -> list[int]:
    """Stock in through the service, as the system (optionally on an earlier clock)."""
    data = ReceiptCreate(
        depot=depot, lines=[ReceiptLine(item=item, lot=lot, qty=qty, expires_on=expires_on)]
    )
    result = run(service.receive(ctx_at(at), data))
    return [m.id for m in result.movements]


def beijing_today() -> date:
    """Today where the district is: the service judges expiry on Beijing's date, which is
    a day ahead of UTC's from 16:00 UTC."""
    from dispatch.clock import WallClock
    from dispatch.stock.service import today

    return today(WallClock().now())


def in_days(days: int) -> date:
    return beijing_today() + timedelta(days=days)


def balances(item: str) -> dict[tuple[str, str], int]:
    rows = sql(
        "SELECT b.depot, l.lot_number, b.qty FROM stock_balance b JOIN lot l ON l.id=b.lot "
        "WHERE b.item=$1",
        item,
    )
    return {(r["depot"], r["lot_number"]): r["qty"] for r in rows}


def ledger_sums(item: str) -> dict[tuple[str, str], int]:
    rows = sql(
        "SELECT m.depot, l.lot_number, sum(m.qty)::int AS qty FROM stock_movement m "
        "JOIN lot l ON l.id=m.lot WHERE m.item=$1 GROUP BY 1, 2",
        item,
    )
    return {(r["depot"], r["lot_number"]): r["qty"] for r in rows}


def assert_ledger_matches(item: str) -> None:
    held = balances(item)
    assert all(q >= 0 for q in held.values()), held
    assert held == ledger_sums(item)


def movements(item: str, **where: Any) -> list[dict[str, Any]]:
    clauses = ["item=$1"]
    args: list[Any] = [item]
    for column, value in where.items():
        args.append(value)
        clauses.append(f"{column}=${len(args)}")
    return sql(f"SELECT * FROM stock_movement WHERE {' AND '.join(clauses)} ORDER BY id", *args)
