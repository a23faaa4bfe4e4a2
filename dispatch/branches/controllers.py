"""HTTP edge of Party branches and community activities: parse, call one service function,
return. Rules and scope live in the service; a request with an Idempotency-Key is made
exactly once by the middleware."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromQuery, JSONBody, Parameter

from dispatch.branches import service
from dispatch.branches.imports import BranchImportResult, ImportKind
from dispatch.branches.schemas import (
    ActivityCreate,
    ActivityKind,
    ActivityView,
    AssistanceCreate,
    AssistanceEnd,
    AssistanceView,
    AttendanceMark,
    BranchCreate,
    BranchKind,
    BranchUpdate,
    BranchView,
    CommunityMembers,
    HouseholdCover,
    ReportBy,
    ServiceReport,
    SignupCreate,
    SignupView,
    StreetCoverage,
    VisitCreate,
    VisitView,
)
from dispatch.db import Ctx
from dispatch.fields import CODE, SmallId
from dispatch.guard import UPLOAD
from dispatch.spreadsheets import CSV_MEDIA, XLSX_MEDIA, import_slot
from dispatch.stock.controllers import uploaded_file

StreetQuery = Annotated[str | None, Parameter(max_length=9, pattern=CODE)]
CommunityQuery = Annotated[str | None, Parameter(max_length=12, pattern=CODE)]
IdQuery = Annotated[int | None, Parameter(ge=1, le=2**31 - 1)]
Limit = Annotated[int, Parameter(ge=1, le=2000)]
Offset = Annotated[int, Parameter(ge=0, le=10_000_000)]


class BranchController(Controller):
    path = "/api/branches"
    tags = ["branches"]

    @get("/")
    async def list_branches(
        self,
        ctx: Ctx,
        street: StreetQuery = None,
        community: CommunityQuery = None,
        kind: FromQuery[BranchKind | None] = None,
        unit_id: IdQuery = None,
        limit: Limit = 200,
        offset: Offset = 0,
    ) -> list[BranchView]:
        """Branches lying in a street (a member lives there or a household it assists),
        with a member in a community, by kind or unit; within the reader's scope."""
        flt = service.BranchFilter(street, community, kind, unit_id, limit, offset)
        return await service.list_branches(ctx, flt)

    @post("/", status_code=201)
    async def create(self, ctx: Ctx, data: JSONBody[BranchCreate]) -> BranchView:
        """A branch with its members (Party members, each in one branch; audited)."""
        return await service.create_branch(ctx, data)

    @get("/{branch_id:int}")
    async def get_branch(self, ctx: Ctx, branch_id: SmallId) -> BranchView:
        return await service.get_branch(ctx, branch_id)

    @patch("/{branch_id:int}")
    async def update(
        self, ctx: Ctx, branch_id: SmallId, data: JSONBody[BranchUpdate]
    ) -> BranchView:
        """Change what is given; `members` replaces the member list."""
        return await service.update_branch(ctx, branch_id, data)

    @get("/{branch_id:int}/members")
    async def members(
        self, ctx: Ctx, branch_id: SmallId, community: CommunityQuery = None
    ) -> list[CommunityMembers]:
        """The branch's members by home community (双报到), phones masked."""
        return await service.branch_members(ctx, branch_id, community)

    @get("/coverage")
    async def coverage(self, ctx: Ctx, street: StreetQuery = None) -> list[StreetCoverage]:
        """Per street: low-income households, with a student, assisted, and the share."""
        return await service.street_coverage(ctx, street)

    @get("/households")
    async def households(
        self,
        ctx: Ctx,
        street: StreetQuery = None,
        community: CommunityQuery = None,
        unassisted: FromQuery[bool] = False,
        limit: Limit = 500,
        offset: Offset = 0,
    ) -> list[HouseholdCover]:
        """Care households with their assisting branch (`assisted` false: flagged), masked;
        the read is audited."""
        flt = service.CoverFilter(street, community, unassisted, limit, offset)
        return await service.household_cover(ctx, flt)

    @get("/reports")
    async def report(
        self,
        ctx: Ctx,
        by: FromQuery[ReportBy] = ReportBy.STREET,
        date_from: FromQuery[date | None] = None,
        date_to: FromQuery[date | None] = None,
        street: StreetQuery = None,
    ) -> ServiceReport:
        """Hours (tasks done and visits), people active, visits and households reached, per
        person, community, street, branch or unit; the last 30 days unless told."""
        return await service.service_report(ctx, by, date_from, date_to, street)

    @get("/reports/csv", media_type=CSV_MEDIA)
    async def report_csv(
        self,
        ctx: Ctx,
        by: FromQuery[ReportBy] = ReportBy.STREET,
        date_from: FromQuery[date | None] = None,
        date_to: FromQuery[date | None] = None,
        street: StreetQuery = None,
    ) -> Response[bytes]:
        return await _export(ctx, by, "csv", date_from, date_to, street)

    @get("/reports/xlsx", media_type=XLSX_MEDIA)
    async def report_xlsx(
        self,
        ctx: Ctx,
        by: FromQuery[ReportBy] = ReportBy.STREET,
        date_from: FromQuery[date | None] = None,
        date_to: FromQuery[date | None] = None,
        street: StreetQuery = None,
    ) -> Response[bytes]:
        return await _export(ctx, by, "xlsx", date_from, date_to, street)

    @post("/import/{what:str}", status_code=201, opt={UPLOAD: True})
    async def import_sheet(
        self,
        ctx: Ctx,
        what: Annotated[ImportKind, Parameter(description="branches, assistance or visits")],
        request: Request[Any, Any, Any],
    ) -> BranchImportResult:
        """Branches, assistance pairings or visits from a CSV or XLSX sheet (multipart field
        `data`); one bad row refuses the file: 422 lists every bad row and column."""
        data = await uploaded_file(request)
        content = await data.read()
        async with import_slot(ctx.actor.username):
            name = (data.filename or "").replace("\x00", "")
            return await service.import_sheet(ctx, what, name, content)


async def _export(
    ctx: Ctx, by: ReportBy, fmt: str, first: date | None, last: date | None, street: str | None
) -> Response[bytes]:
    export = await service.export_report(ctx, by, fmt, first, last, street)
    return Response(
        export.content,
        media_type=export.media_type,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


class AssistanceController(Controller):
    path = "/api/assistance"
    tags = ["branches"]

    @get("/")
    async def list_assistances(
        self,
        ctx: Ctx,
        branch_id: IdQuery = None,
        street: StreetQuery = None,
        community: CommunityQuery = None,
        in_force: FromQuery[bool | None] = None,
        limit: Limit = 200,
        offset: Offset = 0,
    ) -> list[AssistanceView]:
        """Pairings (结对帮扶) of households in the reader's scope, masked; audited."""
        flt = service.AssistanceFilter(branch_id, street, community, in_force, limit, offset)
        return await service.list_assistances(ctx, flt)

    @post("/", status_code=201)
    async def create(self, ctx: Ctx, data: JSONBody[AssistanceCreate]) -> AssistanceView:
        """Pair a branch with a care household (409 while another branch assists it)."""
        return await service.create_assistance(ctx, data)

    @post("/{assistance_id:int}/end", status_code=200)
    async def end(
        self, ctx: Ctx, assistance_id: SmallId, data: JSONBody[AssistanceEnd]
    ) -> AssistanceView:
        return await service.end_assistance(ctx, assistance_id, data.ends_on)

    @get("/{assistance_id:int}/visits")
    async def visits(self, ctx: Ctx, assistance_id: SmallId) -> list[VisitView]:
        return await service.list_visits(ctx, assistance_id)

    @post("/{assistance_id:int}/visits", status_code=201)
    async def add_visit(
        self, ctx: Ctx, assistance_id: SmallId, data: JSONBody[VisitCreate]
    ) -> VisitView:
        """A visit: the day, who went, what was done (tutoring: a household with a
        student), hours."""
        return await service.add_visit(ctx, assistance_id, data)


class ActivityController(Controller):
    path = "/api/activities"
    tags = ["activities"]

    @get("/")
    async def list_activities(
        self,
        ctx: Ctx,
        street: StreetQuery = None,
        community: CommunityQuery = None,
        kind: FromQuery[ActivityKind | None] = None,
        date_from: FromQuery[date | None] = None,
        date_to: FromQuery[date | None] = None,
        limit: Limit = 200,
        offset: Offset = 0,
    ) -> list[ActivityView]:
        """Activities under way or to come (today and the next 30 days unless told) in the
        reader's area, each with the reader's own sign-up and whether they take attendance."""
        flt = service.ActivityFilter(street, community, kind, date_from, date_to, limit, offset)
        return await service.list_activities(ctx, flt)

    @post("/", status_code=201)
    async def create(self, ctx: Ctx, data: JSONBody[ActivityCreate]) -> ActivityView:
        """An activity in a community of the actor's scope (audited)."""
        return await service.create_activity(ctx, data)

    @get("/{activity_id:int}")
    async def get_activity(self, ctx: Ctx, activity_id: SmallId) -> ActivityView:
        return await service.get_activity(ctx, activity_id)

    @get("/{activity_id:int}/signups")
    async def signups(self, ctx: Ctx, activity_id: SmallId) -> list[SignupView]:
        """The attendance list (organiser and the community's managers): names, no phones."""
        return await service.list_signups(ctx, activity_id)

    @post("/{activity_id:int}/signups", status_code=201)
    async def sign_up(
        self, ctx: Ctx, activity_id: SmallId, data: JSONBody[SignupCreate]
    ) -> SignupView:
        """A place for a person (oneself unless told): 409 when full, over, or signed up."""
        return await service.sign_up(ctx, activity_id, data)

    @post("/{activity_id:int}/signups/{person_id:int}/cancel", status_code=200)
    async def cancel(self, ctx: Ctx, activity_id: SmallId, person_id: SmallId) -> SignupView:
        """Give the place back (not after checking in)."""
        return await service.cancel_signup(ctx, activity_id, person_id)

    @post("/{activity_id:int}/signups/{person_id:int}/check-in", status_code=200)
    async def check_in(
        self,
        ctx: Ctx,
        activity_id: SmallId,
        person_id: SmallId,
        data: JSONBody[AttendanceMark],
    ) -> SignupView:
        """The person came (`at`: the moment of the tap, default now)."""
        return await service.check_in(ctx, activity_id, person_id, data)

    @post("/{activity_id:int}/signups/{person_id:int}/check-out", status_code=200)
    async def check_out(
        self,
        ctx: Ctx,
        activity_id: SmallId,
        person_id: SmallId,
        data: JSONBody[AttendanceMark],
    ) -> SignupView:
        """The person left (`at`: the moment of the tap, default now)."""
        return await service.check_out(ctx, activity_id, person_id, data)


CONTROLLERS = [BranchController, AssistanceController, ActivityController]
