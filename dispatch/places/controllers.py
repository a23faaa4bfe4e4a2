"""HTTP edge of places: read the geography; a commander corrects a community's point."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, put
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery, JSONBody, Parameter
from litestar.response import Response

from dispatch.db import Ctx
from dispatch.fields import CommunityPath, DepotPath
from dispatch.places import service
from dispatch.places.schemas import (
    CommunityView,
    CoordinateCorrection,
    DepotView,
    DistrictView,
    RoadNetworkView,
    RoadsMap,
    StreetView,
)
from dispatch.settings import get_settings


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
    async def community(self, ctx: Ctx, code: CommunityPath) -> CommunityView:
        return await service.get_community(ctx, code)

    @put("/communities/{code:str}/coordinates")
    async def correct_coordinates(
        self, ctx: Ctx, code: CommunityPath, data: JSONBody[CoordinateCorrection]
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

    @get("/map/boundary", media_type="application/geo+json")
    async def map_boundary(self, ctx: Ctx) -> dict[str, Any]:
        """The district outline as GeoJSON (WGS-84), for maps drawn without tiles."""
        return await service.map_boundary(ctx, get_settings().reference_dir)

    @get(
        "/map/roads",
        media_type="application/geo+json",
        responses={
            200: ResponseSpec(
                RoadsMap,
                description="one MultiLineString per class",
                media_type="application/geo+json",
            )
        },
    )
    async def map_roads(self, request: Request[Any, Any, Any], ctx: Ctx) -> Response[bytes]:
        """The active road network as GeoJSON lines per road class, with `network.synthetic`
        (gzip when the client takes it; the same ETag until another network is loaded)."""
        encoded = await service.map_roads(ctx)
        headers = {
            "ETag": encoded.etag,
            "Cache-Control": "private, no-cache",  # revalidated: a 304 until the network changes
            "Vary": "Accept-Encoding",
        }
        if request.headers.get("if-none-match") == encoded.etag:
            return Response(b"", status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(encoded.gzipped, headers=headers, media_type="application/geo+json")
        return Response(encoded.body, headers=headers, media_type="application/geo+json")

    @get("/depots/{code:str}")
    async def depot(self, ctx: Ctx, code: DepotPath) -> DepotView:
        return await service.get_depot(ctx, code)
