"""Bodies of the stock API: catalogue, ledger commands, transfers, stocktakes and views."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

import msgspec

from dispatch.fields import TEXT, CommunityCode, DepotCode, ItemCode, Note

LotNumber = Annotated[str, msgspec.Meta(min_length=1, max_length=60, pattern=TEXT)]
Quantity = Annotated[int, msgspec.Meta(ge=1, le=10_000_000)]
Count = Annotated[int, msgspec.Meta(ge=0, le=10_000_000)]
Delta = Annotated[int, msgspec.Meta(ge=-10_000_000, le=10_000_000)]
RefId = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]


class MovementKind(StrEnum):
    RECEIPT = "receipt"
    ISSUE = "issue"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    ADJUSTMENT = "adjustment"
    REVERSAL = "reversal"


class AdjustmentReason(StrEnum):
    COUNT = "count"
    DAMAGED = "damaged"
    EXPIRED = "expired"
    LOST = "lost"
    FOUND = "found"


class TransferStatus(StrEnum):
    PLANNED = "planned"
    DISPATCHED = "dispatched"
    RECEIVED = "received"
    CANCELLED = "cancelled"


class LotStatus(StrEnum):
    OK = "ok"
    NEAR_EXPIRY = "near_expiry"
    EXPIRED = "expired"


class AlertKind(StrEnum):
    BELOW_STANDARD = "below_standard"
    NEAR_EXPIRY = "near_expiry"
    EXPIRED = "expired"


class TotalsBy(StrEnum):
    DEPOT = "depot"
    STREET = "street"
    ITEM = "item"


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


# --- commands ---------------------------------------------------------------------------


class ReceiptLine(msgspec.Struct, forbid_unknown_fields=True):
    item: ItemCode
    lot: LotNumber
    qty: Quantity
    expires_on: date | None = None


class ReceiptCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Stock arriving at a depot; a new lot needs its expiry when the item has a shelf life."""

    depot: DepotCode
    lines: Annotated[list[ReceiptLine], msgspec.Meta(min_length=1, max_length=1000)]
    task: RefId | None = None
    request: RefId | None = None
    note: Note | None = None


class PickLine(msgspec.Struct, forbid_unknown_fields=True):
    """A quantity of an item; without `lot` the earliest-expiring usable lots are taken."""

    item: ItemCode
    qty: Quantity
    lot: LotNumber | None = None


class IssueCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Stock handed to a community, for an incident or a stated purpose."""

    depot: DepotCode
    community: CommunityCode
    lines: Annotated[list[PickLine], msgspec.Meta(min_length=1, max_length=200)]
    incident: RefId | None = None
    purpose: Note | None = None
    task: RefId | None = None
    request: RefId | None = None
    note: Note | None = None


class AdjustmentCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A signed correction: damaged, expired and lost take stock out, found puts it in."""

    depot: DepotCode
    item: ItemCode
    lot: LotNumber
    qty: Delta
    reason: AdjustmentReason
    note: Note | None = None


class ReversalCreate(msgspec.Struct, forbid_unknown_fields=True):
    note: Note | None = None


class StocktakeLine(msgspec.Struct, forbid_unknown_fields=True):
    item: ItemCode
    lot: LotNumber
    counted: Count


class StocktakeCreate(msgspec.Struct, forbid_unknown_fields=True):
    """The counted sheet of a depot; differences become `count` adjustments."""

    depot: DepotCode
    lines: Annotated[list[StocktakeLine], msgspec.Meta(min_length=1, max_length=2000)]
    note: Note | None = None


class TransferCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A planned movement from a depot to another depot or to a community."""

    source: DepotCode
    lines: Annotated[list[PickLine], msgspec.Meta(min_length=1, max_length=200)]
    dest_depot: DepotCode | None = None
    dest_community: CommunityCode | None = None
    incident: RefId | None = None
    task: RefId | None = None
    request: RefId | None = None
    note: Note | None = None


class ReceivedLine(msgspec.Struct, forbid_unknown_fields=True):
    item: ItemCode
    qty: Count
    lot: LotNumber | None = None


class TransferReceive(msgspec.Struct, forbid_unknown_fields=True):
    """What arrived; without `lines` everything sent arrived. A shortfall needs a reason."""

    lines: Annotated[list[ReceivedLine], msgspec.Meta(max_length=400)] | None = None
    shortfall_reason: Note | None = None


class TransferCancel(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=TEXT)]


class StandardUpdate(msgspec.Struct, forbid_unknown_fields=True):
    minimum: Count
    note: Note | None = None


# --- views ------------------------------------------------------------------------------


class ItemView(msgspec.Struct):
    code: str
    name_zh: str
    name_en: str
    unit: str
    category: str
    shelf_life_days: int | None
    weight_kg: float
    volume_l: float


class LotView(msgspec.Struct):
    id: int
    item: str
    lot_number: str
    expires_on: date | None
    status: LotStatus


class MovementView(msgspec.Struct):
    id: int
    at: datetime
    kind: MovementKind
    depot: str
    item: str
    lot: str
    expires_on: date | None
    qty: int
    reason: str | None
    community: str | None
    purpose: str | None
    incident: int | None
    task: int | None
    request: int | None
    transfer: int | None
    stocktake: int | None
    reverses: int | None
    actor: str
    idempotency_key: str | None
    note: str | None


class MovementResult(msgspec.Struct):
    """The movements one command wrote (an issue may span several lots)."""

    movements: list[MovementView]


class StockLine(msgspec.Struct):
    depot: str
    street: str | None
    item: str
    lot: str
    expires_on: date | None
    qty: int
    status: LotStatus


class StockTotal(msgspec.Struct):
    depot: str | None
    street: str | None
    item: str
    usable: int
    near_expiry: int
    expired: int
    total: int


class CardRow(msgspec.Struct):
    id: int
    at: datetime
    kind: MovementKind
    lot: str
    expires_on: date | None
    qty: int
    balance: int
    reason: str | None
    community: str | None
    transfer: int | None
    reverses: int | None
    actor: str
    note: str | None


class StockCard(msgspec.Struct):
    depot: str
    item: str
    balance: int
    rows: list[CardRow]


class SummaryRow(msgspec.Struct):
    street: str | None
    street_name: str
    item: str
    on_hand: int
    standard: int
    gap: int
    percent: float | None


class PickView(msgspec.Struct):
    item: str
    lot: str
    expires_on: date | None
    qty_sent: int
    qty_received: int | None


class TransferLineView(msgspec.Struct):
    item: str
    lot: str | None
    qty: int


class TransferView(msgspec.Struct):
    id: int
    source: str
    dest_depot: str | None
    dest_community: str | None
    status: TransferStatus
    lines: list[TransferLineView]
    picks: list[PickView]
    shortfall: int
    shortfall_reason: str | None
    cancel_reason: str | None
    incident: int | None
    task: int | None
    request: int | None
    note: str | None
    created_at: datetime
    created_by: str
    dispatched_at: datetime | None
    received_at: datetime | None
    cancelled_at: datetime | None


class InTransitRow(msgspec.Struct):
    transfer: int
    source: str
    dest_depot: str | None
    dest_community: str | None
    item: str
    lot: str
    expires_on: date | None
    qty: int
    dispatched_at: datetime | None


class AlertView(msgspec.Struct):
    kind: AlertKind
    depot: str
    street: str | None
    item: str
    qty: int
    lot: str | None = None
    expires_on: date | None = None
    days_left: int | None = None
    minimum: int | None = None


class SheetLine(msgspec.Struct):
    item: str
    lot: str
    expected: int
    counted: int
    difference: int


class StocktakeView(msgspec.Struct):
    id: int
    depot: str
    at: datetime
    actor: str
    note: str | None
    sheet: list[SheetLine]
    movements: list[int]


class StandardView(msgspec.Struct):
    depot: str
    item: str
    minimum: int
    source: str
    updated_at: datetime | None


class ImportResult(msgspec.Struct):
    rows: int
    movements: list[int]
