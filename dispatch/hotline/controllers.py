"""HTTP edge of the 12345 tickets: parse, call one service function, return. Rules live in
the service; a request with an Idempotency-Key is made exactly once by the middleware."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post, put
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.response import Response

from dispatch.db import Ctx
from dispatch.fields import Id
from dispatch.guard import UPLOAD
from dispatch.hotline import service
from dispatch.hotline.figures import EXPORT_COLUMNS, export_rows
from dispatch.hotline.schemas import (
    Category,
    DeadlineRule,
    DeadlineSet,
    FiguresReport,
    ImportResult,
    Revealed,
    StepView,
    TicketAssign,
    TicketCreate,
    TicketLink,
    TicketMerge,
    TicketRate,
    TicketReply,
    TicketRequest,
    TicketReturn,
    TicketStatus,
    TicketStep,
    TicketTask,
    TicketUpdate,
    TicketView,
    Urgency,
)
from dispatch.spreadsheets import CSV_MEDIA, XLSX_MEDIA, import_slot, write_csv, write_xlsx
from dispatch.stock.controllers import uploaded_file

StreetQuery = Annotated[str | None, Parameter(pattern=r"^\d{9}$")]
CommunityQuery = Annotated[str | None, Parameter(pattern=r"^\d{12}$")]
IncidentQuery = Annotated[int | None, Parameter(ge=1, le=2**62)]
Limit = Annotated[int, Parameter(ge=1, le=1000)]
Offset = Annotated[int, Parameter(ge=0, le=10**9)]


class HotlineController(Controller):
    """Every step names the version it was built on; a stale version gets 412."""

    path = "/api/hotline/tickets"
    tags = ["hotline"]

    @get("/")
    async def list_tickets(
        self,
        ctx: Ctx,
        status: FromQuery[TicketStatus | None] = None,
        street: StreetQuery = None,
        community: CommunityQuery = None,
        category: FromQuery[Category | None] = None,
        urgency: FromQuery[Urgency | None] = None,
        incident: IncidentQuery = None,
        overdue: FromQuery[bool | None] = None,
        unplaced: FromQuery[bool | None] = None,
        received_from: FromQuery[datetime | None] = None,
        received_to: FromQuery[datetime | None] = None,
        limit: Limit = 200,
        offset: Offset = 0,
    ) -> list[TicketView]:
        """Tickets newest first, in the caller's scope (a street leader: their street's),
        with deadlines judged on the service's clock (a drill's: its simulated time)."""
        flt = service.TicketFilter(
            status,
            street,
            community,
            category.value if category else None,
            urgency.value if urgency else None,
            incident,
            overdue,
            unplaced,
            received_from,
            received_to,
            limit,
            offset,
        )
        return await service.list_tickets(ctx, flt)

    @post("/", status_code=201)
    async def create(self, ctx: Ctx, data: JSONBody[TicketCreate]) -> TicketView:
        """A call received: the community is matched from the address unless given."""
        return await service.create_ticket(ctx, data)

    @post("/import", status_code=201, opt={UPLOAD: True})
    async def import_tickets(self, ctx: Ctx, request: Request[Any, Any, Any]) -> ImportResult:
        """Tickets from the 12345 platform's CSV or XLSX export, uploaded as multipart
        field `data` (columns number, received_at, caller_name, caller_phone, address,
        community, street, category, urgency, content, or their Chinese names). One bad
        row refuses the file: 422 lists every bad row and column."""
        data = await uploaded_file(request)
        content = await data.read()
        async with import_slot(ctx.actor.username):
            name = (data.filename or "").replace("\x00", "")
            return await service.import_tickets(ctx, name, content)

    @get("/{ticket_id:int}")
    async def get_ticket(self, ctx: Ctx, ticket_id: Id) -> TicketView:
        return await service.get_ticket(ctx, ticket_id)

    @get("/{ticket_id:int}/steps")
    async def steps(self, ctx: Ctx, ticket_id: Id) -> list[StepView]:
        """The ticket's trail: who did which step when, and where it was."""
        return await service.ticket_steps(ctx, ticket_id)

    @patch("/{ticket_id:int}")
    async def update(self, ctx: Ctx, ticket_id: Id, data: JSONBody[TicketUpdate]) -> TicketView:
        return await service.update_ticket(ctx, ticket_id, data)

    @post("/{ticket_id:int}/assign", status_code=200)
    async def assign(self, ctx: Ctx, ticket_id: Id, data: JSONBody[TicketAssign]) -> TicketView:
        return await service.assign_ticket(ctx, ticket_id, data)

    @post("/{ticket_id:int}/start", status_code=200)
    async def start(self, ctx: Ctx, ticket_id: Id, data: JSONBody[TicketStep]) -> TicketView:
        """Taken up (the caller contacted): the response the deadline is judged on."""
        return await service.start_ticket(ctx, ticket_id, data)

    @post("/{ticket_id:int}/reply", status_code=200)
    async def reply(self, ctx: Ctx, ticket_id: Id, data: JSONBody[TicketReply]) -> TicketView:
        return await service.reply_ticket(ctx, ticket_id, data)

    @post("/{ticket_id:int}/rate", status_code=200)
    async def rate(self, ctx: Ctx, ticket_id: Id, data: JSONBody[TicketRate]) -> TicketView:
        """The caller's rating (满意 / 基本满意 / 不满意) and whether it was solved."""
        return await service.rate_ticket(ctx, ticket_id, data)

    @post("/{ticket_id:int}/close", status_code=200)
    async def close(self, ctx: Ctx, ticket_id: Id, data: JSONBody[TicketStep]) -> TicketView:
        return await service.close_ticket(ctx, ticket_id, data)

    @post("/{ticket_id:int}/return", status_code=200)
    async def return_(self, ctx: Ctx, ticket_id: Id, data: JSONBody[TicketReturn]) -> TicketView:
        """Wrong jurisdiction: back to the district, with the reason."""
        return await service.return_ticket(ctx, ticket_id, data)

    @post("/{ticket_id:int}/links", status_code=200)
    async def link(self, ctx: Ctx, ticket_id: Id, data: JSONBody[TicketLink]) -> TicketView:
        """A request or task the call gave rise to."""
        return await service.link_ticket(ctx, ticket_id, data)

    @post("/{ticket_id:int}/requests", status_code=201)
    async def request(self, ctx: Ctx, ticket_id: Id, data: JSONBody[TicketRequest]) -> TicketView:
        """A supply request prefilled from the ticket (its incident and community), linked."""
        return await service.request_from_ticket(ctx, ticket_id, data)

    @post("/{ticket_id:int}/tasks", status_code=201)
    async def task(self, ctx: Ctx, ticket_id: Id, data: JSONBody[TicketTask]) -> TicketView:
        """A door check or evacuation prefilled from the ticket, linked."""
        return await service.task_from_ticket(ctx, ticket_id, data)

    @post("/{ticket_id:int}/merge", status_code=200)
    async def merge(self, ctx: Ctx, ticket_id: Id, data: JSONBody[TicketMerge]) -> TicketView:
        """Confirm this call repeats the open ticket `into` (offered in `duplicates`): it
        is merged, both numbers kept."""
        return await service.merge_ticket(ctx, ticket_id, data)

    @post("/{ticket_id:int}/reveal", status_code=200)
    async def reveal(self, ctx: Ctx, ticket_id: Id) -> Response[Revealed]:
        """The caller's whole number, to call back; audited, not cached."""
        revealed = await service.reveal_caller(ctx, ticket_id)
        return Response(revealed, headers={"Cache-Control": "no-store"})


class HotlineFiguresController(Controller):
    path = "/api/hotline/figures"
    tags = ["hotline"]

    @get("/")
    async def figures(
        self,
        ctx: Ctx,
        received_from: FromQuery[datetime | None] = None,
        received_to: FromQuery[datetime | None] = None,
    ) -> FiguresReport:
        """响应率、解决率、满意率 per street and community of the calls received in
        [received_from, received_to), judged on the service's clock; within scope."""
        return await service.hotline_figures(ctx, received_from, received_to)

    @get("/csv", media_type=CSV_MEDIA)
    async def figures_csv(
        self,
        ctx: Ctx,
        received_from: FromQuery[datetime | None] = None,
        received_to: FromQuery[datetime | None] = None,
    ) -> Response[bytes]:
        """The same figures as a sheet: the district, each street, each community."""
        report = await service.hotline_figures(ctx, received_from, received_to)
        content = write_csv(EXPORT_COLUMNS, export_rows(report))
        return _attachment(content, CSV_MEDIA, "hotline-figures.csv")

    @get("/xlsx", media_type=XLSX_MEDIA)
    async def figures_xlsx(
        self,
        ctx: Ctx,
        received_from: FromQuery[datetime | None] = None,
        received_to: FromQuery[datetime | None] = None,
    ) -> Response[bytes]:
        report = await service.hotline_figures(ctx, received_from, received_to)
        content = write_xlsx([("接诉即办", EXPORT_COLUMNS, export_rows(report))])
        return _attachment(content, XLSX_MEDIA, "hotline-figures.xlsx")


def _attachment(content: bytes, media_type: str, filename: str) -> Response[bytes]:
    disposition = f'attachment; filename="{filename}"'
    return Response(content, media_type=media_type, headers={"Content-Disposition": disposition})


class HotlineDeadlineController(Controller):
    path = "/api/hotline/deadlines"
    tags = ["hotline"]

    @get("/")
    async def list_rules(self, ctx: Ctx) -> list[DeadlineRule]:
        """Response and resolution minutes per urgency and category (`illustrative`: a
        default of this project, not an official figure)."""
        return await service.list_rules(ctx)

    @put("/{urgency:str}/{category:str}")
    async def set_rule(
        self,
        ctx: Ctx,
        urgency: FromPath[Urgency],
        category: FromPath[Category],
        data: JSONBody[DeadlineSet],
    ) -> DeadlineRule:
        """A commander's deadlines for tickets received from now on."""
        return await service.set_rule(ctx, urgency, category, data)
