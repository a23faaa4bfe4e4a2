"""Stock as stored. Balances change only with a ledger movement, in the same transaction.

`stock_movement` refuses UPDATE, DELETE and TRUNCATE (a trigger in the stock migration);
a correction is a `reversal` movement pointing at the one it undoes.
"""

from piccolo.columns import (
    JSONB,
    BigInt,
    BigSerial,
    Date,
    DoublePrecision,
    Integer,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class Item(Table, tablename="item"):
    code = Varchar(length=20, primary_key=True)
    name_zh = Varchar(length=50)
    name_en = Varchar(length=80)
    unit = Varchar(length=20)
    category = Varchar(length=20)
    shelf_life_days = Integer(null=True, default=None)
    weight_kg = DoublePrecision()
    volume_l = DoublePrecision()


class Lot(Table, tablename="lot"):
    id = BigSerial(primary_key=True)
    item = Varchar(length=20)
    lot_number = Varchar(length=60)
    expires_on = Date(null=True, default=None)
    created_at = Timestamptz()


class StockBalance(Table, tablename="stock_balance"):
    id = BigSerial(primary_key=True)
    depot = Varchar(length=16)
    item = Varchar(length=20)
    lot = BigInt()
    qty = Integer(default=0)


class ReserveStandard(Table, tablename="reserve_standard"):
    id = BigSerial(primary_key=True)
    depot = Varchar(length=16)
    item = Varchar(length=20)
    minimum = Integer()
    source = Varchar(length=20)
    updated_at = Timestamptz(null=True, default=None)


class StockTransfer(Table, tablename="stock_transfer"):
    id = BigSerial(primary_key=True)
    source = Varchar(length=16)
    dest_depot = Varchar(length=16, null=True, default=None)
    dest_community = Varchar(length=12, null=True, default=None)
    status = Varchar(length=12)
    incident_id = BigInt(null=True, default=None)
    task_id = BigInt(null=True, default=None)
    request_id = BigInt(null=True, default=None)
    note = Varchar(length=500, null=True, default=None)
    shortfall_reason = Varchar(length=500, null=True, default=None)
    cancel_reason = Varchar(length=500, null=True, default=None)
    created_at = Timestamptz()
    created_by = Varchar(length=64)
    dispatched_at = Timestamptz(null=True, default=None)
    received_at = Timestamptz(null=True, default=None)
    cancelled_at = Timestamptz(null=True, default=None)
    stop_id = BigInt(null=True, default=None)  # the run task's stop that unloads it


class StockTransferLine(Table, tablename="stock_transfer_line"):
    id = BigSerial(primary_key=True)
    transfer = BigInt()
    item = Varchar(length=20)
    lot = BigInt(null=True, default=None)
    qty = Integer()


class StockTransferPick(Table, tablename="stock_transfer_pick"):
    id = BigSerial(primary_key=True)
    transfer = BigInt()
    line = BigInt()
    item = Varchar(length=20)
    lot = BigInt()
    qty_sent = Integer()
    qty_received = Integer(null=True, default=None)


class Stocktake(Table, tablename="stocktake"):
    id = BigSerial(primary_key=True)
    depot = Varchar(length=16)
    at = Timestamptz()
    actor = Varchar(length=64)
    note = Varchar(length=500, null=True, default=None)
    sheet = JSONB()


class StockMovement(Table, tablename="stock_movement"):
    id = BigSerial(primary_key=True)
    at = Timestamptz()
    kind = Varchar(length=20)
    depot = Varchar(length=16)
    item = Varchar(length=20)
    lot = BigInt()
    qty = Integer()
    reason = Varchar(length=20, null=True, default=None)
    community = Varchar(length=12, null=True, default=None)
    purpose = Varchar(length=500, null=True, default=None)
    incident_id = BigInt(null=True, default=None)
    task_id = BigInt(null=True, default=None)
    request_id = BigInt(null=True, default=None)
    transfer_id = BigInt(null=True, default=None)
    stocktake_id = BigInt(null=True, default=None)
    reverses = BigInt(null=True, default=None)
    actor = Varchar(length=64)
    actor_id = Integer(null=True, default=None)
    idempotency_key = Varchar(length=200, null=True, default=None)
    key_seq = Integer(null=True, default=None)  # n-th row of its keyed request: unique per key
    note = Varchar(length=500, null=True, default=None)


STOCK_TABLES = [
    Item,
    Lot,
    StockBalance,
    ReserveStandard,
    StockTransfer,
    StockTransferLine,
    StockTransferPick,
    Stocktake,
    StockMovement,
]
