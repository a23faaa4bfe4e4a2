"""HTTP edge of the fleet: parse, call one service function, return. Rules live in the
service; a request with an Idempotency-Key is made exactly once by the middleware."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromQuery, JSONBody, Parameter

from dispatch.db import Ctx
from dispatch.fields import CODE, Id, SmallId
from dispatch.fleet import service
from dispatch.fleet.schemas import (
    CrewAssign,
    FleetImportResult,
    VehicleCreate,
    VehicleStatus,
    VehicleUpdate,
    VehicleView,
)
from dispatch.guard import UPLOAD
from dispatch.spreadsheets import import_slot
from dispatch.stock.controllers import uploaded_file

DepotQuery = Annotated[str | None, Parameter(max_length=16, pattern=CODE)]
StreetQuery = Annotated[str | None, Parameter(max_length=9, pattern=CODE)]
KindQuery = Annotated[str | None, Parameter(max_length=30, pattern=r"^[a-z][a-z0-9_]*$")]


class FleetController(Controller):
    path = "/api/fleet/vehicles"
    tags = ["fleet"]

    @get("/")
    async def list_vehicles(
        self,
        ctx: Ctx,
        depot: DepotQuery = None,
        street: StreetQuery = None,
        status: FromQuery[VehicleStatus | None] = None,
        kind: KindQuery = None,
        include_retired: FromQuery[bool] = False,
    ) -> list[VehicleView]:
        """Vehicles with their crews, by depot, street, status or kind, within scope."""
        flt = service.FleetFilter(depot, street, status, kind, include_retired)
        return await service.list_vehicles(ctx, flt)

    @post("/", status_code=201)
    async def create(self, ctx: Ctx, data: JSONBody[VehicleCreate]) -> VehicleView:
        """A vehicle at a depot in the caller's scope (audited)."""
        return await service.create_vehicle(ctx, data)

    @get("/{vehicle_id:int}")
    async def get_vehicle(self, ctx: Ctx, vehicle_id: Id) -> VehicleView:
        return await service.get_vehicle(ctx, vehicle_id)

    @patch("/{vehicle_id:int}")
    async def update(self, ctx: Ctx, vehicle_id: Id, data: JSONBody[VehicleUpdate]) -> VehicleView:
        """Change what is given (the status too: available, out, maintenance)."""
        return await service.update_vehicle(ctx, vehicle_id, data)

    @delete("/{vehicle_id:int}", status_code=200)
    async def retire(self, ctx: Ctx, vehicle_id: Id) -> VehicleView:
        """Retire the vehicle: it leaves every list, its code stays taken, its crew is
        released."""
        return await service.retire_vehicle(ctx, vehicle_id)

    @post("/{vehicle_id:int}/crew", status_code=200)
    async def assign(self, ctx: Ctx, vehicle_id: Id, data: JSONBody[CrewAssign]) -> VehicleView:
        """Put a person on the crew; a driver needs the skill `driving` (422 naming them)."""
        return await service.assign_crew(ctx, vehicle_id, data)

    @delete("/{vehicle_id:int}/crew/{person_id:int}", status_code=200)
    async def unassign(self, ctx: Ctx, vehicle_id: Id, person_id: SmallId) -> VehicleView:
        return await service.unassign_crew(ctx, vehicle_id, person_id)

    @post("/import", status_code=201, opt={UPLOAD: True})
    async def import_vehicles(self, ctx: Ctx, request: Request[Any, Any, Any]) -> FleetImportResult:
        """Vehicles from a CSV or XLSX sheet, uploaded as multipart field `data` (columns
        code, depot, kind, lane_class, name, payload_kg, volume_m3, crew_needed, status,
        shift_start, shift_end, note). One bad row refuses the file: 422 lists every bad row
        and column. A row whose code exists redefines that vehicle."""
        data = await uploaded_file(request)
        content = await data.read()
        async with import_slot(ctx.actor.username):
            return await service.import_vehicles(
                ctx, (data.filename or "").replace("\x00", ""), content
            )
