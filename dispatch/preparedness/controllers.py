"""HTTP edge of preparedness: shelters under /api/shelters, community emergency plans under
/api/preparedness/plans (/api/plans is the supply plans'), call-outs under /api/callouts
(with the SMS gateway's webhook) and the one-time link's page under /ack/. Parse, call one
service function, return; rules and scope live in the service."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromQuery, HeaderParameter, JSONBody, Parameter
from litestar.response import Template

from dispatch.db import Ctx
from dispatch.errors import DomainError
from dispatch.fields import CODE, Id, SmallId
from dispatch.guard import UPLOAD
from dispatch.preparedness import links, service
from dispatch.preparedness.page import link_page, messages_of, read_link_answer
from dispatch.preparedness.schemas import (
    ActivationView,
    CalloutAck,
    CalloutDecline,
    CalloutLink,
    CalloutState,
    CalloutView,
    Coverage,
    InboundResult,
    IntakeCreate,
    IntakeResult,
    PlanCreate,
    PlanImportResult,
    PlanStatus,
    PlanView,
    RegistrationView,
    ShelterCreate,
    ShelterNeeds,
    ShelterRequestsCreate,
    ShelterRequestsResult,
    ShelterStatus,
    ShelterUpdate,
    ShelterView,
    SmsInbound,
)
from dispatch.preparedness.sms import TOKEN_HEADER
from dispatch.spreadsheets import CSV_MEDIA, XLSX_MEDIA, import_slot
from dispatch.stock.controllers import uploaded_file

StreetQuery = Annotated[str | None, Parameter(max_length=9, pattern=CODE)]
CommunityQuery = Annotated[str | None, Parameter(max_length=12, pattern=CODE)]
IncidentQuery = Annotated[int | None, Parameter(ge=1, le=2**63 - 1)]
LinkToken = Annotated[str, Parameter(max_length=200)]  # checked by `links.read`


class ShelterController(Controller):
    path = "/api/shelters"
    tags = ["preparedness"]

    @get("/")
    async def list_shelters(
        self, ctx: Ctx, street: StreetQuery = None, status: FromQuery[ShelterStatus | None] = None
    ) -> list[ShelterView]:
        """Every shelter with its occupancy and room, by street or status."""
        return await service.list_shelters(ctx, street, status)

    @post("/", status_code=201)
    async def create(self, ctx: Ctx, data: JSONBody[ShelterCreate]) -> ShelterView:
        """A shelter in a community of the caller's street (audited)."""
        return await service.create_shelter(ctx, data)

    @get("/{shelter_id:int}")
    async def get_shelter(self, ctx: Ctx, shelter_id: SmallId) -> ShelterView:
        return await service.get_shelter(ctx, shelter_id)

    @patch("/{shelter_id:int}")
    async def update(
        self, ctx: Ctx, shelter_id: SmallId, data: JSONBody[ShelterUpdate]
    ) -> ShelterView:
        """Change what is given; open, close or make ready (full follows occupancy)."""
        return await service.update_shelter(ctx, shelter_id, data)

    @post("/{shelter_id:int}/intake", status_code=201)
    async def intake(
        self, ctx: Ctx, shelter_id: SmallId, data: JSONBody[IntakeCreate]
    ) -> IntakeResult:
        """Register a household; 409 `shelter.full` names the nearest open shelter with room."""
        return await service.intake(ctx, shelter_id, data)

    @get("/{shelter_id:int}/registrations")
    async def registrations(
        self, ctx: Ctx, shelter_id: SmallId, present: FromQuery[bool] = True
    ) -> list[RegistrationView]:
        return await service.list_registrations(ctx, shelter_id, present)

    @post("/{shelter_id:int}/registrations/{registration_id:int}/leave", status_code=200)
    async def leave(self, ctx: Ctx, shelter_id: SmallId, registration_id: Id) -> IntakeResult:
        """The household leaves the shelter; its people no longer count."""
        return await service.discharge(ctx, shelter_id, registration_id)

    @get("/{shelter_id:int}/needs")
    async def needs(self, ctx: Ctx, shelter_id: SmallId) -> ShelterNeeds:
        """What the people there now need by the norms, and how much is already asked."""
        return await service.shelter_needs(ctx, shelter_id)

    @post("/{shelter_id:int}/requests", status_code=201)
    async def request_needs(
        self, ctx: Ctx, shelter_id: SmallId, data: JSONBody[ShelterRequestsCreate]
    ) -> ShelterRequestsResult:
        """The needs not yet asked for, as supply requests of the incident delivered at the
        shelter (one transaction); asking again asks for nothing more."""
        return await service.request_needs(ctx, shelter_id, data)


class PreparednessPlanController(Controller):
    path = "/api/preparedness"
    tags = ["preparedness"]

    @get("/plans")
    async def list_plans(
        self,
        ctx: Ctx,
        community: CommunityQuery = None,
        street: StreetQuery = None,
        status: FromQuery[PlanStatus | None] = None,
    ) -> list[PlanView]:
        return await service.list_plans(ctx, community, street, status)

    @post("/plans", status_code=201)
    async def create(self, ctx: Ctx, data: JSONBody[PlanCreate]) -> PlanView:
        """A new version of a community's plan (draft); every reference is checked."""
        return await service.create_plan(ctx, data)

    @get("/plans/coverage")
    async def coverage(self, ctx: Ctx) -> Coverage:
        """Communities with an approved plan, per hazard and per street."""
        return await service.coverage(ctx)

    @get("/plans/csv", media_type=CSV_MEDIA)
    async def plans_csv(self, ctx: Ctx, street: StreetQuery = None) -> Response[bytes]:
        """The approved plans in scope, one row per part (hazard, role, task, shelter,
        assembly point, pledge); the sheet imports again."""
        return await _export(ctx, "csv", street)

    @get("/plans/xlsx", media_type=XLSX_MEDIA)
    async def plans_xlsx(self, ctx: Ctx, street: StreetQuery = None) -> Response[bytes]:
        return await _export(ctx, "xlsx", street)

    @post("/plans/import", status_code=201, opt={UPLOAD: True})
    async def import_plans(self, ctx: Ctx, request: Request[Any, Any, Any]) -> PlanImportResult:
        """A CSV or XLSX sheet of plans (multipart field `data`): one new draft per community
        named; one bad row refuses the file, 422 lists every bad row and column."""
        data = await uploaded_file(request)
        content = await data.read()
        async with import_slot(ctx.actor.username):
            name = (data.filename or "").replace("\x00", "")
            return await service.import_plans(ctx, name, content)

    @get("/plans/{plan_id:int}")
    async def get_plan(self, ctx: Ctx, plan_id: SmallId) -> PlanView:
        return await service.get_plan(ctx, plan_id)

    @post("/plans/{plan_id:int}/approve", status_code=200)
    async def approve(self, ctx: Ctx, plan_id: SmallId) -> PlanView:
        """Approve a draft (a street leader of its street, or a commander); the version
        approved before is superseded."""
        return await service.approve_plan(ctx, plan_id)

    @get("/activations")
    async def activations(self, ctx: Ctx, incident: IncidentQuery = None) -> list[ActivationView]:
        return await service.list_activations(ctx, incident)


class CalloutController(Controller):
    path = "/api/callouts"
    tags = ["preparedness"]

    @get("/")
    async def list_callouts(self, ctx: Ctx, incident: IncidentQuery = None) -> list[CalloutView]:
        """The call-out board: every step (holder, deputy, squad leader) of the plan roles'
        call-outs (of one incident), with its state, SMS (phone masked) and replies."""
        return await service.list_callouts(ctx, incident)

    @get("/mine")
    async def mine(self, ctx: Ctx, answered: FromQuery[bool] = False) -> list[CalloutView]:
        """The steps that reach the caller's person, open ones only unless `answered`: the
        tablet's alerts."""
        return await service.my_callouts(ctx, open_only=not answered)

    @get("/{callout_id:int}")
    async def get_callout(self, ctx: Ctx, callout_id: Id) -> CalloutView:
        return await service.get_callout(ctx, callout_id)

    @get("/{callout_id:int}/link")
    async def link(self, ctx: Ctx, callout_id: Id) -> CalloutLink:
        """The recipient's one-time link, to pass on (whoever holds it may answer once)."""
        return await service.callout_link(ctx, callout_id)

    @post("/{callout_id:int}/delivered", status_code=200)
    async def delivered(self, ctx: Ctx, callout_id: Id) -> CalloutView:
        """The recipient's tablet showed the call-out: `sent → delivered` (repeats are fine)."""
        return await service.mark_delivered(ctx, callout_id)

    @post("/{callout_id:int}/acknowledge", status_code=200)
    async def acknowledge(
        self, ctx: Ctx, callout_id: Id, data: JSONBody[CalloutAck]
    ) -> CalloutView:
        """Coming, in `eta_minutes`; 409 `callout.answered` if it was answered already."""
        return await service.answer_callout(
            ctx, callout_id, CalloutState.ACKNOWLEDGED, eta_minutes=data.eta_minutes
        )

    @post("/{callout_id:int}/decline", status_code=200)
    async def decline(
        self, ctx: Ctx, callout_id: Id, data: JSONBody[CalloutDecline]
    ) -> CalloutView:
        """Cannot come; the call-out escalates to the next recipient at once."""
        return await service.answer_callout(
            ctx, callout_id, CalloutState.DECLINED, reason=data.reason
        )

    @post("/{callout_id:int}/no-answer", status_code=200)
    async def no_answer(self, ctx: Ctx, callout_id: Id) -> CalloutView:
        """Nobody answered (a phone call that went unanswered); escalates at once."""
        return await service.answer_callout(ctx, callout_id, CalloutState.NO_ANSWER)

    @post("/sms/inbound", status_code=200, exclude_from_auth=True, security=[])
    async def sms_inbound(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[SmsInbound],
        token: Annotated[str | None, HeaderParameter(name=TOKEN_HEADER, max_length=200)] = None,
    ) -> InboundResult:
        """The SMS gateway's webhook (its token in `X-Gateway-Token`): a reply (`1` coming,
        `2` cannot, anything else kept and shown) or a delivery report; a replay of the
        same gateway id changes nothing."""
        return await service.sms_inbound(request.app.state.clock, token, data)


async def _export(ctx: Ctx, fmt: str, street: str | None) -> Response[bytes]:
    export = await service.export_plans(ctx, fmt, street)
    return Response(
        export.content,
        media_type=export.media_type,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


class CalloutLinkPage(Controller):
    """The one-time link's minimal page: no account, no script; a form posts the answer."""

    path = links.PATH.rstrip("/")
    include_in_schema = False

    @get("/{token:str}", exclude_from_auth=True)
    async def open(self, request: Request[Any, Any, Any], token: LinkToken) -> Template:
        try:
            step = await service.open_link(request.app.state.clock, token)
        except DomainError as exc:
            return link_page(request, None, error=exc)
        return link_page(request, step)

    @post("/{token:str}", exclude_from_auth=True, status_code=200)
    async def answer(self, request: Request[Any, Any, Any], token: LinkToken) -> Template:
        try:
            service.check_link(request.app.state.clock, token)  # the link before the form
            answer = read_link_answer(await request.form(), messages_of(request))
            step = await service.answer_by_link(
                request.app.state.clock, token, answer.state, answer.eta_minutes, answer.reason
            )
        except DomainError as exc:
            return await self._refused(request, token, exc)
        return link_page(request, step, answered=True)

    async def _refused(
        self, request: Request[Any, Any, Any], token: str, error: DomainError
    ) -> Template:
        """The refusal, with the step when the link is genuine (answered already, or a field
        to correct)."""
        try:
            step = await service.open_link(request.app.state.clock, token)
        except DomainError:
            step = None
        return link_page(request, step, error=error)


CONTROLLERS = [ShelterController, PreparednessPlanController, CalloutController, CalloutLinkPage]
