"""A keyed issue holds its stock statement back to the end of the request (the hot row is
held for that statement and the commit only). Its answer is known before it runs: what it
writes is exactly what it answered; should the stock change under its choice before the
end, it writes nothing and says so (`Replan`), and a careful run decides on locked rows."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from dispatch.accounts.policy import SYSTEM
from dispatch.clock import WallClock
from dispatch.db import Context, Replan, detached, unit_of_work
from dispatch.stock import service
from dispatch.stock.schemas import IssueCreate, PickLine, ReceiptCreate, ReceiptLine
from tests.dispatch.stock.helpers import (
    HOME,
    HOME_DEPOT,
    assert_ledger_matches,
    balances,
    community_of,
    in_days,
    new_item,
    receive,
)
from tests.support import sql

T = TypeVar("T")


def _issue(item: str, qty: int, community: str) -> IssueCreate:
    return IssueCreate(
        depot=HOME_DEPOT,
        community=community,
        purpose="held back",
        lines=[PickLine(item=item, qty=qty)],
    )


async def _elsewhere(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command in a transaction of its own, as another request would, while this
    task's unit of work is open."""
    return await asyncio.create_task(coro, context=detached())


async def _held_back_issue(item: str, qty: int, meanwhile: int) -> list[dict[str, Any]]:
    """Issue `qty` in a unit of work; before the unit's end, another command takes
    `meanwhile` of the same lot. The answer, as movements."""
    ctx = Context(SYSTEM, WallClock())
    community = community_of(HOME)
    async with unit_of_work() as unit:
        answer = await service.issue(ctx, _issue(item, qty, community), key=f"held-back-{item}")
        assert unit.last, "the stock statement waits for the end of the unit"
        written = await unit.connection.fetchval(
            "SELECT count(*) FROM stock_movement WHERE item = $1 AND kind = 'issue'", item
        )
        assert written == 0  # not even in the unit's own transaction, yet
        if meanwhile:
            await _elsewhere(service.issue(ctx, _issue(item, meanwhile, community)))
        await unit.run_last()
    return [{"id": m.id, "lot": m.lot, "qty": m.qty, "at": m.at} for m in answer.movements]


def test_what_a_held_back_issue_writes_is_what_it_answered() -> None:
    item = new_item()
    receive(HOME_DEPOT, item, "HB1", 10, in_days(30))
    views = asyncio.run(_held_back_issue(item, 3, 0))
    rows = sql(
        "SELECT m.id, l.lot_number AS lot, m.qty, m.at, m.key_seq FROM stock_movement m "
        "JOIN lot l ON l.id = m.lot WHERE m.item = $1 AND m.kind = 'issue'",
        item,
    )
    written = [{"id": r["id"], "lot": r["lot"], "qty": r["qty"], "at": r["at"]} for r in rows]
    assert written == views  # ids, lot, quantity and time as answered
    assert [r["key_seq"] for r in rows] == [1]
    assert balances(item) == {(HOME_DEPOT, "HB1"): 7}
    assert_ledger_matches(item)


def test_a_held_back_issue_whose_stock_went_meanwhile_writes_nothing() -> None:
    item = new_item()
    receive(HOME_DEPOT, item, "HB2", 5, in_days(30))
    with pytest.raises(Replan):
        asyncio.run(_held_back_issue(item, 4, 3))  # 3 taken meanwhile: 2 left, 4 asked
    assert balances(item) == {(HOME_DEPOT, "HB2"): 2}  # only the other command's 3 went
    assert not sql("SELECT 1 FROM stock_movement WHERE idempotency_key = $1", f"held-back-{item}")
    assert_ledger_matches(item)


def test_a_new_lot_meanwhile_also_sends_the_issue_to_a_careful_run() -> None:
    """The choice was made on the lots then known: an earlier-expiring lot received before
    the end would change it, so the held-back write refuses rather than ignore it."""
    item = new_item()
    receive(HOME_DEPOT, item, "HB3", 5, in_days(30))

    community = community_of(HOME)
    early = ReceiptCreate(
        depot=HOME_DEPOT,
        lines=[ReceiptLine(item=item, lot="HB3-EARLY", qty=5, expires_on=in_days(3))],
    )

    async def scenario() -> None:
        ctx = Context(SYSTEM, WallClock())
        async with unit_of_work() as unit:
            await service.issue(ctx, _issue(item, 1, community), key=f"held-back-{item}")
            await _elsewhere(service.receive(ctx, early))
            await unit.run_last()

    with pytest.raises(Replan):
        asyncio.run(scenario())
    assert balances(item) == {(HOME_DEPOT, "HB3"): 5, (HOME_DEPOT, "HB3-EARLY"): 5}
