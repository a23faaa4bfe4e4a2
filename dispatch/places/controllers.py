"""HTTP edge of places: read the geography; a commander corrects a community's point."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, put
from litestar.openapi.spec import Example
from litestar.params import FromQuery, JSONBody, Parameter

from dispatch.db import Ctx
from dispatch.places import service
from dispatch.places.schemas import (
    CommunityView,
    CoordinateCorrection,
    DepotView,
    DistrictView,
    RoadNetworkView,
    StreetView,
)

CommunityCode = Annotated[str, Parameter(max_length=12, examples=[Example(value="110101001001")])]
DepotCode = Annotated[str, Parameter(max_length=16, examples=[Example(value="D110101001")])]


class PlacesController(Controller):
    path = "/api"
    tags = ["places"]

    @get("/districts")
    async def districts(self, ctx: Ctx) -> list[DistrictView]:
        return await service.list_districts(ctx)

    @get("/streets")
    async def streets(
        self, ctx: Ctx, district: Annotated[str | None, Parameter(max_length=6)] = None
    ) -> list[StreetView]:
        return await service.list_streets(ctx, district)

    @get("/communities")
    async def communities(
        self,
        ctx: Ctx,
        street: Annotated[str | None, Parameter(max_length=9)] = None,
        approximate: FromQuery[bool | None] = None,
    ) -> list[CommunityView]:
        """All communities, or one street's; `approximate=true` lists points awaiting survey."""
        return await service.list_communities(ctx, street, approximate)

    @get("/communities/{code:str}")
    async def community(self, ctx: Ctx, code: CommunityCode) -> CommunityView:
        return await service.get_community(ctx, code)

    @put("/communities/{code:str}/coordinates")
    async def correct_coordinates(
        self, ctx: Ctx, code: CommunityCode, data: JSONBody[CoordinateCorrection]
    ) -> CommunityView:
        """Replace a community's point (WGS-84, or GCJ-02 from a Chinese map); audited."""
        return await service.correct_coordinates(ctx, code, data)

    @get("/depots")
    async def depots(
        self, ctx: Ctx, street: Annotated[str | None, Parameter(max_length=9)] = None
    ) -> list[DepotView]:
        return await service.list_depots(ctx, street)

    @get("/roads")
    async def roads(self, ctx: Ctx) -> RoadNetworkView:
        """The road network routing uses (the shipped one is synthetic: `synthetic: true`)."""
        return await service.road_network_info(ctx)

    @get("/depots/{code:str}")
    async def depot(self, ctx: Ctx, code: DepotCode) -> DepotView:
        return await service.get_depot(ctx, code)
