"""HTTP edge of people: partner units and pairings, people, teams, duty, care households,
suggestions for a need, spreadsheets. Phones and addresses come back masked."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, Response, get, patch, post, put
from litestar.openapi.spec import Example
from litestar.params import FromQuery, JSONBody, Parameter, RawBody

from dispatch.db import Context, Ctx
from dispatch.fields import CommunityPath, SmallId
from dispatch.guard import UPLOAD
from dispatch.people import service
from dispatch.people.schemas import (
    CareHouseholdCreate,
    CareHouseholdView,
    CareKind,
    CheckInRequest,
    CheckInView,
    CheckOutRequest,
    CommunityOnDuty,
    CommunityPairings,
    ExportKind,
    ImportKind,
    ImportReport,
    OnDutyPerson,
    PairingCreate,
    PairingStatusChange,
    PairingView,
    PersonCreate,
    PersonKind,
    PersonUpdate,
    PersonView,
    Revealed,
    ShiftCreate,
    ShiftView,
    SkillCreate,
    SkillView,
    StreetOnDuty,
    SuggestRequest,
    SuggestResponse,
    TeamCreate,
    TeamKind,
    TeamMembers,
    TeamView,
    UnitCreate,
    UnitKind,
    UnitView,
)
from dispatch.spreadsheets import CSV_MEDIA, XLSX_MEDIA, import_slot

StreetQuery = Annotated[str | None, Parameter(max_length=9)]
CommunityQuery = Annotated[str | None, Parameter(max_length=12)]
Limit = Annotated[int, Parameter(ge=1, le=1000)]
Offset = Annotated[int, Parameter(ge=0, le=1_000_000)]


class SkillController(Controller):
    path = "/api/skills"
    tags = ["people"]

    @get("/")
    async def list_skills(self, ctx: Ctx) -> list[SkillView]:
        return await service.list_skills(ctx)

    @post("/")
    async def create_skill(self, ctx: Ctx, data: JSONBody[SkillCreate]) -> SkillView:
        """A commander adds a skill to the fixed list."""
        return await service.create_skill(ctx, data)


class PartnerUnitController(Controller):
    path = "/api/partner-units"
    tags = ["people"]

    @get("/")
    async def list_units(self, ctx: Ctx, kind: FromQuery[UnitKind | None] = None) -> list[UnitView]:
        """Partner units with the communities they are paired with now (contacts masked)."""
        return await service.list_units(ctx, kind)

    @post("/")
    async def create_unit(self, ctx: Ctx, data: JSONBody[UnitCreate]) -> UnitView:
        return await service.create_unit(ctx, data)

    @get("/{unit_id:int}")
    async def get_unit(self, ctx: Ctx, unit_id: SmallId) -> UnitView:
        return await service.get_unit(ctx, unit_id)


class PairingController(Controller):
    path = "/api/pairings"
    tags = ["people"]

    @get("/")
    async def list_pairings(
        self,
        ctx: Ctx,
        community: CommunityQuery = None,
        street: StreetQuery = None,
        unit_id: Annotated[int | None, Parameter(ge=1, le=2**31 - 1)] = None,
        counting: FromQuery[bool | None] = None,
    ) -> list[PairingView]:
        """Agreements; `effective_status` is `expired` past `valid_until`, and then it stops
        counting (`counts: false`)."""
        return await service.list_pairings(ctx, community, street, unit_id, counting)

    @get("/by-community")
    async def by_community(self, ctx: Ctx, street: StreetQuery = None) -> list[CommunityPairings]:
        """Every community (in scope) with its agreements in force: coverage at a glance."""
        return await service.pairings_by_community(ctx, street)

    @post("/")
    async def create_pairing(self, ctx: Ctx, data: JSONBody[PairingCreate]) -> PairingView:
        return await service.create_pairing(ctx, data)

    @get("/{pairing_id:int}")
    async def get_pairing(self, ctx: Ctx, pairing_id: SmallId) -> PairingView:
        return await service.get_pairing(ctx, pairing_id)

    @put("/{pairing_id:int}/status")
    async def change_status(
        self, ctx: Ctx, pairing_id: SmallId, data: JSONBody[PairingStatusChange]
    ) -> PairingView:
        """Suspend, reactivate or terminate an agreement (a terminated one stays terminated)."""
        return await service.change_pairing_status(ctx, pairing_id, data)


class PeopleController(Controller):
    path = "/api/people"
    tags = ["people"]

    @get("/")
    async def list_people(
        self,
        ctx: Ctx,
        street: StreetQuery = None,
        community: CommunityQuery = None,
        kind: FromQuery[PersonKind | None] = None,
        skill: Annotated[str | None, Parameter(max_length=40)] = None,
        on_duty: FromQuery[bool | None] = None,
        unit_id: Annotated[int | None, Parameter(ge=1, le=2**31 - 1)] = None,
        q: Annotated[str | None, Parameter(max_length=50)] = None,
        limit: Limit = 200,
        offset: Offset = 0,
    ) -> list[PersonView]:
        """People in the caller's scope (or the street/community asked for, if in scope)."""
        flt = service.PeopleFilter(
            street, community, kind, skill, on_duty, unit_id, q, limit, offset
        )
        return await service.list_people(ctx, flt)

    @post("/")
    async def create_person(self, ctx: Ctx, data: JSONBody[PersonCreate]) -> PersonView:
        return await service.create_person(ctx, data)

    @get("/{person_id:int}")
    async def get_person(self, ctx: Ctx, person_id: SmallId) -> PersonView:
        return await service.get_person(ctx, person_id)

    @patch("/{person_id:int}")
    async def update_person(
        self, ctx: Ctx, person_id: SmallId, data: JSONBody[PersonUpdate]
    ) -> PersonView:
        """Change the fields given; an empty phone or address clears it."""
        return await service.update_person(ctx, person_id, data)

    @post("/{person_id:int}/reveal", status_code=200)
    async def reveal(self, ctx: Ctx, person_id: SmallId) -> Response[Revealed]:
        """The full phone and address, for commanders and the person's street or community
        staff; audited. Not cached."""
        revealed = await service.reveal_person(ctx, person_id)
        return Response(revealed, headers={"Cache-Control": "no-store"})

    @post("/suggest", status_code=200)
    async def suggest(self, ctx: Ctx, data: JSONBody[SuggestRequest]) -> SuggestResponse:
        """Suggest people for a need (community, how many, skills, hours): exact matching on
        the road network, paired units and residents first; the reason for any shortfall."""
        return await service.suggest_people(ctx, data)


class TeamController(Controller):
    path = "/api/teams"
    tags = ["people"]

    @get("/")
    async def list_teams(
        self,
        ctx: Ctx,
        street: StreetQuery = None,
        community: CommunityQuery = None,
        kind: FromQuery[TeamKind | None] = None,
    ) -> list[TeamView]:
        return await service.list_teams(ctx, street, community, kind)

    @post("/")
    async def create_team(self, ctx: Ctx, data: JSONBody[TeamCreate]) -> TeamView:
        return await service.create_team(ctx, data)

    @get("/{team_id:int}")
    async def get_team(self, ctx: Ctx, team_id: SmallId) -> TeamView:
        return await service.get_team(ctx, team_id)

    @put("/{team_id:int}/members")
    async def set_members(
        self, ctx: Ctx, team_id: SmallId, data: JSONBody[TeamMembers]
    ) -> TeamView:
        """Replace the members and the leader (who is always a member)."""
        return await service.set_team_members(ctx, team_id, data)


class DutyController(Controller):
    path = "/api/duty"
    tags = ["people"]

    @get("/shifts")
    async def list_shifts(
        self,
        ctx: Ctx,
        community: CommunityQuery = None,
        street: StreetQuery = None,
        day: FromQuery[date | None] = None,
    ) -> list[ShiftView]:
        return await service.list_shifts(ctx, community, street, day)

    @post("/shifts")
    async def create_shift(self, ctx: Ctx, data: JSONBody[ShiftCreate]) -> ShiftView:
        """Put people on a community's roster from a time to a time."""
        return await service.create_shift(ctx, data)

    @post("/check-in")
    async def check_in(self, ctx: Ctx, data: JSONBody[CheckInRequest]) -> CheckInView:
        """A person reports for duty now, in a community, with an optional position."""
        return await service.check_in(ctx, data)

    @post("/check-out", status_code=200)
    async def check_out(self, ctx: Ctx, data: JSONBody[CheckOutRequest]) -> CheckInView:
        return await service.check_out(ctx, data)

    @get("/on-duty")
    async def on_duty(self, ctx: Ctx, street: StreetQuery = None) -> list[CommunityOnDuty]:
        """How many are on duty now in each community, with their skills."""
        return await service.on_duty_by_community(ctx, street)

    @get("/on-duty/streets")
    async def on_duty_streets(self, ctx: Ctx) -> list[StreetOnDuty]:
        return await service.on_duty_by_street(ctx)

    @get("/on-duty/{code:str}/people")
    async def on_duty_people(self, ctx: Ctx, code: CommunityPath) -> list[OnDutyPerson]:
        """Who is on duty in one community now, with hours worked today."""
        return await service.on_duty_people(ctx, code)


class CareHouseholdController(Controller):
    """Only commanders and the community's workers; every read is audited."""

    path = "/api/care-households"
    tags = ["people"]

    @get("/")
    async def list_households(
        self,
        ctx: Ctx,
        community: CommunityQuery = None,
        kind: FromQuery[CareKind | None] = None,
        limit: Limit = 500,
        offset: Offset = 0,
    ) -> list[CareHouseholdView]:
        return await service.list_care_households(ctx, community, kind, limit, offset)

    @post("/")
    async def create_household(
        self, ctx: Ctx, data: JSONBody[CareHouseholdCreate]
    ) -> CareHouseholdView:
        return await service.create_care_household(ctx, data)

    @get("/{household_id:int}")
    async def get_household(self, ctx: Ctx, household_id: SmallId) -> CareHouseholdView:
        return await service.get_care_household(ctx, household_id)

    @post("/{household_id:int}/reveal", status_code=200)
    async def reveal(self, ctx: Ctx, household_id: SmallId) -> Response[Revealed]:
        revealed = await service.reveal_care_household(ctx, household_id)
        return Response(revealed, headers={"Cache-Control": "no-store"})


class SpreadsheetController(Controller):
    tags = ["people"]

    @post("/api/imports/{what:str}", status_code=200, opt={UPLOAD: True})
    async def import_file(
        self,
        ctx: Ctx,
        what: Annotated[ImportKind, Parameter(examples=[Example(value="people")])],
        body: RawBody,
        dry_run: FromQuery[bool] = False,
    ) -> ImportReport:
        """Import people, partner units or pairings: the request body is the CSV (UTF-8) or
        XLSX file itself. All rows or none: a bad cell refuses the file, listing each error's
        row and column (rows numbered as a spreadsheet shows them, the header is row 1).
        One upload at a time per user (429 meanwhile); a drill's own imports are not uploads."""
        async with import_slot(ctx.actor.username):
            return await service.import_table(ctx, what, body, None, dry_run)

    @get("/api/exports/{what:str}/csv", media_type=CSV_MEDIA)
    async def export_csv(
        self,
        ctx: Ctx,
        what: Annotated[ExportKind, Parameter(examples=[Example(value="people")])],
    ) -> Response[bytes]:
        """Phones and addresses masked; care households only for commanders (audited)."""
        return await _export(ctx, what, "csv")

    @get("/api/exports/{what:str}/xlsx", media_type=XLSX_MEDIA)
    async def export_xlsx(
        self,
        ctx: Ctx,
        what: Annotated[ExportKind, Parameter(examples=[Example(value="people")])],
    ) -> Response[bytes]:
        return await _export(ctx, what, "xlsx")


async def _export(ctx: Context, what: ExportKind, fmt: str) -> Response[bytes]:
    export = await service.export_table(ctx, what, fmt)
    return Response(
        export.content,
        media_type=export.media_type,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


CONTROLLERS = [
    SkillController,
    PartnerUnitController,
    PairingController,
    PeopleController,
    TeamController,
    DutyController,
    CareHouseholdController,
    SpreadsheetController,
]
