"""Bodies of the places API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import msgspec

Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]


class DistrictView(msgspec.Struct):
    code: str
    name: str
    lat: float
    lon: float


class StreetView(msgspec.Struct):
    code: str
    name: str
    district: str
    lat: float
    lon: float
    coord_source: str
    communities: int


class CommunityView(msgspec.Struct):
    code: str
    name: str
    official_name: str
    street: str
    district: str
    lat: float
    lon: float
    lat_gcj02: float | None
    lon_gcj02: float | None
    coord_source: str
    approximate: bool
    updated_at: datetime | None


class DepotView(msgspec.Struct):
    code: str
    name: str
    kind: str
    district: str
    street: str | None
    community: str | None
    lat: float
    lon: float


class CoordinateSystem(StrEnum):
    WGS84 = "wgs84"
    GCJ02 = "gcj02"


class CoordinateCorrection(msgspec.Struct, forbid_unknown_fields=True):
    """A commander's corrected point; GCJ-02 input (from Chinese maps) is converted on entry."""

    lat: Latitude
    lon: Longitude
    system: CoordinateSystem = CoordinateSystem.WGS84
    note: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class LoadReport(msgspec.Struct):
    created: dict[str, int]
    updated: dict[str, int]
    unchanged: dict[str, int]

    @property
    def changes(self) -> int:
        return sum(self.created.values()) + sum(self.updated.values())


class MapNetwork(msgspec.Struct):
    """Which road network a map draws: a synthetic one must be labelled as such."""

    name: str
    source: str
    synthetic: bool
    graph_id: str
    nodes: int
    edges: int


class RoadNetworkView(MapNetwork):
    """The road network in use, as its record says (`GET /api/roads`)."""

    id: int
    loaded_at: datetime


class RoadClassGeometry(msgspec.Struct):
    type: str  # "MultiLineString"
    coordinates: list[list[tuple[float, float]]]


class RoadClassProperties(msgspec.Struct):
    road_class: str
    segments: int  # road segments (both directions of a two-way road count once)


class RoadClassFeature(msgspec.Struct):
    type: str  # "Feature"
    properties: RoadClassProperties
    geometry: RoadClassGeometry


class RoadsMap(msgspec.Struct):
    """GeoJSON FeatureCollection: one MultiLineString per road class (minor classes first,
    so they draw beneath), with the network it came from as a foreign member."""

    type: str  # "FeatureCollection"
    network: MapNetwork
    features: list[RoadClassFeature]
