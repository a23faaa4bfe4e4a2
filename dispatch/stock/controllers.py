"""HTTP edge of stock: parse, call one service function, return. Rules live in the service.

Every command records the request's Idempotency-Key on its ledger movements (the
middleware already makes a resent request replay the first answer).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post, put
from litestar.datastructures import UploadFile
from litestar.params import FromQuery, JSONBody, Parameter, QueryParameter
from litestar.response import Response

from dispatch.db import Ctx
from dispatch.errors import InvalidInput
from dispatch.fields import CODE, DepotPath, Id, ItemPath, idempotency_key
from dispatch.guard import UPLOAD
from dispatch.spreadsheets import import_slot
from dispatch.stock import service
from dispatch.stock.schemas import (
    AdjustmentCreate,
    AlertKind,
    AlertView,
    ExportFormat,
    ImportResult,
    InTransitRow,
    IssueCreate,
    ItemView,
    LotView,
    MovementKind,
    MovementResult,
    MovementView,
    ReceiptCreate,
    ReversalCreate,
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
    TransferReceive,
    TransferStatus,
    TransferView,
)

Request_ = Request[Any, Any, Any]
DepotQuery = Annotated[str | None, Parameter(max_length=16, pattern=CODE)]
StreetQuery = Annotated[str | None, Parameter(max_length=9, pattern=CODE)]
ItemQuery = Annotated[str | None, Parameter(max_length=20, pattern=CODE)]
Depot = Annotated[str, Parameter(max_length=16, pattern=CODE)]
Item = Annotated[str, Parameter(max_length=20, pattern=CODE)]
Format = Annotated[ExportFormat, QueryParameter(name="format")]


def download(export: service.Export) -> Response[bytes]:
    return Response(
        export.content,
        media_type=export.media_type,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


async def uploaded_file(request: Request_) -> UploadFile:
    """The multipart field `data`, parsed here so a malformed upload is a 400 naming it
    (Litestar's own extractor fails with a 500 on some broken multipart bodies)."""
    try:
        form = await request.form()
    except Exception as exc:  # any parse failure is the client's malformed body
        raise InvalidInput(f"malformed multipart upload: {exc}", field="data") from exc
    upload = form.get("data")
    if not isinstance(upload, UploadFile):
        raise InvalidInput(
            "upload the spreadsheet as the multipart file field `data`", field="data"
        )
    return upload


class StockController(Controller):
    path = "/api/stock"
    tags = ["stock"]

    @get("/items")
    async def items(self, ctx: Ctx) -> list[ItemView]:
        """The catalogue."""
        return await service.list_items(ctx)

    @get("/lots")
    async def lots(self, ctx: Ctx, item: ItemQuery = None) -> list[LotView]:
        """Lots with expiry and status (ok, near_expiry, expired)."""
        return await service.list_lots(ctx, item)

    @get("/")
    async def stock(
        self,
        ctx: Ctx,
        depot: DepotQuery = None,
        street: StreetQuery = None,
        item: ItemQuery = None,
        include_empty: FromQuery[bool] = False,
    ) -> list[StockLine]:
        """Stock per lot, by depot, street or item, within the caller's scope."""
        return await service.list_stock(ctx, depot, street, item, include_empty)

    @get("/totals")
    async def totals(
        self,
        ctx: Ctx,
        by: FromQuery[TotalsBy] = TotalsBy.DEPOT,
        street: StreetQuery = None,
        item: ItemQuery = None,
    ) -> list[StockTotal]:
        """Quantities per depot, street or item: usable, near expiry, expired."""
        return await service.stock_totals(ctx, by, street, item)

    @get("/labels")
    async def labels(self, ctx: Ctx, depot: Depot) -> list[service.LotLabel]:
        """A printable label per lot the depot holds: its facts and a QR code (inline SVG)
        the tablet scans to pick the lot of an issue, receipt or count."""
        return await service.lot_labels(ctx, depot)

    @get("/card")
    async def card(
        self,
        ctx: Ctx,
        depot: Depot,
        item: Item,
    ) -> StockCard:
        """The stock card: every movement of one item at one depot, with running balance."""
        return await service.stock_card(ctx, depot, item)

    @get("/summary")
    async def summary(self, ctx: Ctx, street: StreetQuery = None) -> list[SummaryRow]:
        """On hand against reserve standard, per street and item."""
        return await service.summary(ctx, street)

    @get("/in-transit")
    async def in_transit(self, ctx: Ctx) -> list[InTransitRow]:
        """Stock dispatched on transfers and not yet received."""
        return await service.in_transit(ctx)

    @get("/alerts")
    async def alerts(
        self,
        ctx: Ctx,
        depot: DepotQuery = None,
        street: StreetQuery = None,
        kind: FromQuery[AlertKind | None] = None,
    ) -> list[AlertView]:
        """Below standard, near expiry and expired stock."""
        return await service.alerts(ctx, depot, street, kind)

    @get("/movements")
    async def movements(
        self,
        ctx: Ctx,
        depot: DepotQuery = None,
        item: ItemQuery = None,
        kind: FromQuery[MovementKind | None] = None,
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 100,
        before_id: Annotated[int | None, Parameter(ge=1, le=2**63 - 1)] = None,
    ) -> list[MovementView]:
        """The ledger, newest first."""
        return await service.list_movements(ctx, depot, item, kind, limit, before_id)

    @post("/receipts")
    async def receive(
        self, ctx: Ctx, request: Request_, data: JSONBody[ReceiptCreate]
    ) -> MovementResult:
        """Stock arrives at a depot (one receipt movement per line)."""
        return await service.receive(ctx, data, idempotency_key(request))

    @post("/issues")
    async def issue(
        self, ctx: Ctx, request: Request_, data: JSONBody[IssueCreate]
    ) -> MovementResult:
        """Stock handed to a community; without a lot, earliest expiry first. 409 on shortage."""
        return await service.issue(ctx, data, idempotency_key(request))

    @post("/adjustments")
    async def adjust(
        self, ctx: Ctx, request: Request_, data: JSONBody[AdjustmentCreate]
    ) -> MovementResult:
        """A correction with a reason: count, damaged, expired, lost or found."""
        return await service.adjust(ctx, data, idempotency_key(request))

    @post("/movements/{movement_id:int}/reversal")
    async def reverse(
        self, ctx: Ctx, request: Request_, movement_id: Id, data: JSONBody[ReversalCreate]
    ) -> MovementResult:
        """Undo a receipt, issue or adjustment with its opposite; once per movement."""
        return await service.reverse(ctx, movement_id, data, idempotency_key(request))

    @post("/stocktakes")
    async def stocktake(
        self, ctx: Ctx, request: Request_, data: JSONBody[StocktakeCreate]
    ) -> StocktakeView:
        """A counted sheet; the differences become count adjustments in one transaction."""
        return await service.stocktake(ctx, data, idempotency_key(request))

    @get("/stocktakes/{take_id:int}")
    async def get_stocktake(self, ctx: Ctx, take_id: Id) -> StocktakeView:
        return await service.get_stocktake(ctx, take_id)

    @get("/standards")
    async def standards(
        self, ctx: Ctx, depot: DepotQuery = None, street: StreetQuery = None
    ) -> list[StandardView]:
        """Reserve standards: the minimum of each item a depot must hold."""
        return await service.list_standards(ctx, depot, street)

    @put("/standards/{depot:str}/{item:str}")
    async def set_standard(
        self, ctx: Ctx, depot: DepotPath, item: ItemPath, data: JSONBody[StandardUpdate]
    ) -> StandardView:
        """A commander sets a minimum (audited; later catalogue loads keep it)."""
        return await service.set_standard(ctx, depot, item, data)

    @post("/imports/receipts", status_code=201, opt={UPLOAD: True})
    async def import_receipts(
        self,
        ctx: Ctx,
        request: Request_,
    ) -> ImportResult:
        """Receipts from a CSV or XLSX delivery list, uploaded as multipart field `data`
        (columns depot, item, lot, expires_on, qty). One bad row refuses the file: 422 lists
        every bad row and column."""
        data = await uploaded_file(request)
        content = await data.read()
        async with import_slot(ctx.actor.username):  # one upload at a time per user
            return await service.import_receipts(
                ctx, (data.filename or "").replace("\x00", ""), content, idempotency_key(request)
            )

    @get("/exports/stock")
    async def export_stock(
        self,
        ctx: Ctx,
        fmt: Format = ExportFormat.CSV,
        depot: DepotQuery = None,
        street: StreetQuery = None,
    ) -> Response[bytes]:
        """Stock per lot as CSV or XLSX."""
        return download(await service.export_stock(ctx, fmt, depot, street))

    @get("/exports/card")
    async def export_card(
        self,
        ctx: Ctx,
        depot: Depot,
        item: Item,
        fmt: Format = ExportFormat.CSV,
    ) -> Response[bytes]:
        """A stock card as CSV or XLSX."""
        return download(await service.export_card(ctx, fmt, depot, item))

    @get("/exports/summary")
    async def export_summary(
        self, ctx: Ctx, fmt: Format = ExportFormat.CSV, street: StreetQuery = None
    ) -> Response[bytes]:
        """The district summary as CSV or XLSX."""
        return download(await service.export_summary(ctx, fmt, street))


class TransferController(Controller):
    path = "/api/stock/transfers"
    tags = ["stock"]

    @get("/")
    async def list_transfers(
        self,
        ctx: Ctx,
        status: FromQuery[TransferStatus | None] = None,
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 100,
    ) -> list[TransferView]:
        """Transfers within scope, newest first; community workers see deliveries to them."""
        return await service.list_transfers(ctx, status, limit)

    @post("/")
    async def create(self, ctx: Ctx, data: JSONBody[TransferCreate]) -> TransferView:
        """Plan a transfer to a depot or a community (command center)."""
        return await service.create_transfer(ctx, data)

    @get("/{transfer_id:int}")
    async def get_transfer(self, ctx: Ctx, transfer_id: Id) -> TransferView:
        return await service.get_transfer(ctx, transfer_id)

    @post("/{transfer_id:int}/dispatch", status_code=200)
    async def dispatch(self, ctx: Ctx, request: Request_, transfer_id: Id) -> TransferView:
        """planned -> dispatched: stock leaves the source and is in transit."""
        return await service.dispatch_transfer(ctx, transfer_id, idempotency_key(request))

    @post("/{transfer_id:int}/receive", status_code=200)
    async def receive(
        self, ctx: Ctx, request: Request_, transfer_id: Id, data: JSONBody[TransferReceive]
    ) -> TransferView:
        """dispatched -> received, possibly partly; a shortfall needs a reason."""
        return await service.receive_transfer(ctx, transfer_id, data, idempotency_key(request))

    @post("/{transfer_id:int}/cancel", status_code=200)
    async def cancel(
        self, ctx: Ctx, request: Request_, transfer_id: Id, data: JSONBody[TransferCancel]
    ) -> TransferView:
        """planned or dispatched -> cancelled; dispatched stock returns to the source."""
        return await service.cancel_transfer(ctx, transfer_id, data, idempotency_key(request))
