"""A stateful property test of the ledger: random receipts, issues, transfers (partly
received, cancelled), counts, write-offs, reversals and the passing of time, across depots
and lots, against a model. After every step: balance = sum of ledger per line, nothing
negative, stock conserved (in transit included); every pick follows FEFO (the model
predicts each pick, earliest expiry first)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from dispatch.accounts.policy import SYSTEM
from dispatch.clock import FixedClock
from dispatch.db import Context, engine
from dispatch.errors import Conflict, DomainError, InvalidInput, NotFound
from dispatch.stock import service
from dispatch.stock.schemas import (
    AdjustmentCreate,
    AdjustmentReason,
    IssueCreate,
    PickLine,
    ReceiptCreate,
    ReceiptLine,
    ReceivedLine,
    ReversalCreate,
    StocktakeCreate,
    StocktakeLine,
    TransferCancel,
    TransferCreate,
    TransferReceive,
)
from dispatch.stock.service import Shortage
from tests.dispatch.stock.helpers import new_item
from tests.support import run

DEPOTS = ["D110101000", "D110101001", "D110101002"]
COMMUNITY = "110101001001"
START = datetime(2030, 1, 1, 4, tzinfo=UTC)  # noon in Beijing
LOTS = {"L10": 10, "L40": 40, "L200": 200}  # lot number -> days from START to expiry
Line = tuple[str, str]  # (depot, lot)


def attempt(coro: Any) -> tuple[Any, DomainError | None]:
    try:
        return run(coro), None
    except DomainError as exc:
        return None, exc


async def _facts(item: str) -> dict[str, Any]:
    async with engine().transaction() as txn:
        conn = txn.connection
        held = await conn.fetch(
            "SELECT b.depot, l.lot_number, b.qty FROM stock_balance b JOIN lot l ON l.id=b.lot "
            "WHERE b.item=$1",
            item,
        )
        ledger = await conn.fetch(
            "SELECT m.depot, l.lot_number, sum(m.qty)::int AS qty FROM stock_movement m "
            "JOIN lot l ON l.id=m.lot WHERE m.item=$1 GROUP BY 1, 2",
            item,
        )
        outside = await conn.fetchrow(
            """
            SELECT
              coalesce(sum(qty) FILTER (WHERE kind IN
                ('receipt', 'issue', 'adjustment', 'reversal')), 0)::int AS external,
              coalesce(sum(qty) FILTER (WHERE kind IN ('transfer_out', 'transfer_in')), 0)::int
                AS transfers
            FROM stock_movement WHERE item=$1
            """,
            item,
        )
        transit = await conn.fetchrow(
            """
            SELECT
              coalesce(sum(p.qty_sent) FILTER (WHERE t.status='dispatched'), 0)::int AS transit,
              coalesce(sum(p.qty_received) FILTER (WHERE t.status='received'
                AND t.dest_community IS NOT NULL), 0)::int AS delivered,
              coalesce(sum(p.qty_sent - p.qty_received) FILTER (WHERE t.status='received'),
                0)::int AS shortfall
            FROM stock_transfer_pick p JOIN stock_transfer t ON t.id = p.transfer
            WHERE p.item=$1
            """,
            item,
        )
    return {
        "held": {(r["depot"], r["lot_number"]): r["qty"] for r in held},
        "ledger": {(r["depot"], r["lot_number"]): r["qty"] for r in ledger},
        **dict(outside),
        **dict(transit),
    }


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.item = new_item(365)
        self.clock = FixedClock(START)
        self.ctx = Context(SYSTEM, self.clock)
        self.stock: dict[Line, int] = defaultdict(int)
        self.made_lots: set[str] = set()
        self.external = 0  # units that entered (+) or left (-) through non-transfer movements
        self.gone = 0  # delivered to communities, or short on arrival
        self.transfers: dict[int, dict[str, Any]] = {}
        self.reversible: dict[int, tuple[Line, int]] = {}
        self.reversed: set[int] = set()

    # --- the model ---------------------------------------------------------------------

    def today(self) -> date:
        return service.today(self.clock.now())

    def expires(self, lot: str) -> date:
        return START.date() + timedelta(days=LOTS[lot])

    def expired(self, lot: str) -> bool:
        return self.expires(lot) < self.today()

    def fefo(self, depot: str, qty: int) -> list[tuple[str, int]] | None:
        usable = sorted(
            (lot for (d, lot), q in self.stock.items() if d == depot and q > 0),
            key=self.expires,
        )
        usable = [lot for lot in usable if not self.expired(lot)]
        if sum(self.stock[(depot, lot)] for lot in usable) < qty:
            return None
        picks = []
        for lot in usable:
            n = min(qty, self.stock[(depot, lot)])
            if n:
                picks.append((lot, n))
                qty -= n
        return picks

    def remember(self, movements: list[Any]) -> None:
        for m in movements:
            if m.kind in ("receipt", "issue", "adjustment"):
                self.reversible[m.id] = ((m.depot, m.lot), m.qty)

    # --- rules -------------------------------------------------------------------------

    @rule(depot=st.sampled_from(DEPOTS), lot=st.sampled_from(sorted(LOTS)), qty=st.integers(1, 30))
    def receipt(self, depot: str, lot: str, qty: int) -> None:
        line = ReceiptLine(item=self.item, lot=lot, qty=qty, expires_on=self.expires(lot))
        result, error = attempt(service.receive(self.ctx, ReceiptCreate(depot=depot, lines=[line])))
        if self.expired(lot):
            assert isinstance(error, InvalidInput), error
            return
        assert error is None, error
        self.stock[(depot, lot)] += qty
        self.external += qty
        self.made_lots.add(lot)
        self.remember(result.movements)

    @rule(
        depot=st.sampled_from(DEPOTS),
        qty=st.integers(1, 40),
        named=st.none() | st.sampled_from(sorted(LOTS)),
    )
    def issue(self, depot: str, qty: int, named: str | None) -> None:
        body = IssueCreate(
            depot=depot,
            community=COMMUNITY,
            purpose="property test",
            lines=[PickLine(item=self.item, qty=qty, lot=named)],
        )
        result, error = attempt(service.issue(self.ctx, body))
        if named is not None and named not in self.made_lots:
            assert isinstance(error, NotFound), error
            return
        if named is None:
            expected = self.fefo(depot, qty)
        elif self.expired(named):
            expected = None
        else:
            expected = [(named, qty)] if self.stock[(depot, named)] >= qty else None
        if expected is None:
            assert isinstance(error, Conflict), error  # a shortage, or an expired lot
            return
        assert error is None, error
        assert [(m.lot, -m.qty) for m in result.movements] == expected  # FEFO
        for lot, n in expected:
            self.stock[(depot, lot)] -= n
        self.external -= qty
        self.remember(result.movements)

    @rule(
        source=st.sampled_from(DEPOTS),
        dest=st.sampled_from([*DEPOTS, COMMUNITY]),
        qty=st.integers(1, 40),
    )
    def transfer(self, source: str, dest: str, qty: int) -> None:
        if dest == source:
            return
        to_community = dest == COMMUNITY
        plan = TransferCreate(
            source=source,
            lines=[PickLine(item=self.item, qty=qty)],
            dest_depot=None if to_community else dest,
            dest_community=dest if to_community else None,
        )
        planned = run(service.create_transfer(self.ctx, plan))
        sent, error = attempt(service.dispatch_transfer(self.ctx, planned.id))
        expected = self.fefo(source, qty)
        if expected is None:
            assert isinstance(error, Shortage), error
            self.transfers[planned.id] = {"status": "planned", "source": source, "picks": []}
            return
        assert error is None, error
        picks = [(p.lot, p.qty_sent) for p in sent.picks]
        assert picks == expected  # FEFO
        for lot, n in picks:
            self.stock[(source, lot)] -= n
        self.transfers[planned.id] = {
            "status": "dispatched",
            "source": source,
            "dest": None if to_community else dest,
            "picks": picks,
        }

    def _open(self, status: str) -> list[int]:
        return sorted(t for t, v in self.transfers.items() if v["status"] == status)

    @precondition(lambda self: self._open("dispatched"))
    @rule(data=st.data())
    def receive_transfer(self, data: st.DataObject) -> None:
        transfer_id = data.draw(st.sampled_from(self._open("dispatched")))
        known = self.transfers[transfer_id]
        sent = sum(n for _, n in known["picks"])
        got = data.draw(st.integers(0, sent))
        short = got < sent
        body = TransferReceive(
            lines=[ReceivedLine(item=self.item, qty=got)] if short else None,
            shortfall_reason="lost on the way" if short else None,
        )
        view, error = attempt(service.receive_transfer(self.ctx, transfer_id, body))
        assert error is None, error
        left = got
        for lot, n in sorted(known["picks"], key=lambda p: self.expires(p[0])):
            arrived = min(left, n)
            left -= arrived
            if known["dest"] is not None:
                self.stock[(known["dest"], lot)] += arrived
            else:
                self.gone += arrived
        self.gone += sent - got
        assert view.shortfall == sent - got
        known["status"] = "received"

    @precondition(lambda self: self._open("dispatched") or self._open("planned"))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        transfer_id = data.draw(st.sampled_from(self._open("dispatched") + self._open("planned")))
        known = self.transfers[transfer_id]
        _, error = attempt(
            service.cancel_transfer(self.ctx, transfer_id, TransferCancel(reason="changed plan"))
        )
        assert error is None, error
        for lot, n in known["picks"]:
            self.stock[(known["source"], lot)] += n
        known["status"] = "cancelled"

    @precondition(lambda self: self.made_lots)
    @rule(depot=st.sampled_from(DEPOTS), data=st.data(), counted=st.integers(0, 40))
    def count(self, depot: str, data: st.DataObject, counted: int) -> None:
        lot = data.draw(st.sampled_from(sorted(self.made_lots)))
        body = StocktakeCreate(
            depot=depot, lines=[StocktakeLine(item=self.item, lot=lot, counted=counted)]
        )
        take, error = attempt(service.stocktake(self.ctx, body))
        assert error is None, error
        difference = counted - self.stock[(depot, lot)]
        assert take.sheet[0].difference == difference
        assert len(take.movements) == (1 if difference else 0)
        self.stock[(depot, lot)] = counted
        self.external += difference
        for movement in take.movements:
            self.reversible[movement] = ((depot, lot), difference)

    @rule(depot=st.sampled_from(DEPOTS), lot=st.sampled_from(sorted(LOTS)))
    def write_off(self, depot: str, lot: str) -> None:
        held = self.stock[(depot, lot)]
        if not (self.expired(lot) and held > 0):
            return
        body = AdjustmentCreate(
            depot=depot, item=self.item, lot=lot, qty=-held, reason=AdjustmentReason.EXPIRED
        )
        result, error = attempt(service.adjust(self.ctx, body))
        assert error is None, error
        self.stock[(depot, lot)] = 0
        self.external -= held
        self.remember(result.movements)

    @precondition(lambda self: self.reversible)
    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        movement = data.draw(st.sampled_from(sorted(self.reversible)))
        line, qty = self.reversible[movement]
        result, error = attempt(service.reverse(self.ctx, movement, ReversalCreate()))
        if self.stock[line] - qty < 0:
            assert isinstance(error, Shortage), error
            return
        assert error is None, error
        assert result.movements[0].reverses == movement
        self.stock[line] -= qty
        self.external -= qty
        del self.reversible[movement]
        self.reversed.add(movement)
        _, again = attempt(service.reverse(self.ctx, movement, ReversalCreate()))
        assert isinstance(again, Conflict)  # once only

    @rule(days=st.integers(1, 45))
    def time_passes(self, days: int) -> None:
        self.clock.advance(timedelta(days=days))

    # --- invariants ----------------------------------------------------------------------

    @invariant()
    def ledger_balances_and_conservation(self) -> None:
        facts = run(_facts(self.item))
        held, ledger = facts["held"], facts["ledger"]
        assert all(q >= 0 for q in held.values()), held
        assert held == ledger  # balance = sum of the ledger, per line
        assert {k: v for k, v in held.items() if v} == {k: v for k, v in self.stock.items() if v}
        # conserved: what entered less what left equals what is held plus what is in transit
        assert facts["external"] == self.external
        assert facts["delivered"] + facts["shortfall"] == self.gone
        assert sum(held.values()) + facts["transit"] == self.external - self.gone
        assert facts["transfers"] == -(facts["transit"] + self.gone)


LedgerMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLedgerProperties = LedgerMachine.TestCase
