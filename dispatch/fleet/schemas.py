"""Bodies of the fleet API: vehicles, their crews, what an import reports, and the fleet a
planner sees at a set of depots."""

from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum
from typing import Annotated

import msgspec

from dispatch.fields import TEXT, DepotCode, Note

VehicleCode = Annotated[
    str, msgspec.Meta(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_\-]+$")
]
# a user-defined kind ("electric_tricycle", "minibus") is a lower-case word, as the check says
KindCode = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{1,29}$")]
VehicleName = Annotated[str, msgspec.Meta(min_length=1, max_length=60, pattern=TEXT)]
PayloadKg = Annotated[float, msgspec.Meta(gt=0, le=100_000)]
VolumeM3 = Annotated[float, msgspec.Meta(gt=0, le=500)]
CrewNeeded = Annotated[int, msgspec.Meta(ge=1, le=10)]
PersonId = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]


class LaneClass(StrEnum):
    """The lanes a vehicle fits, as routing knows them (geo/vehicles.py): a tricycle fits
    hutong lanes, a truck only arterials."""

    TRICYCLE = "tricycle"
    CAR = "car"
    VAN = "van"
    TRUCK = "truck"


class VehicleStatus(StrEnum):
    AVAILABLE = "available"
    OUT = "out"  # on the road
    MAINTENANCE = "maintenance"


class CrewRole(StrEnum):
    DRIVER = "driver"  # needs the skill `driving`
    CREW = "crew"


class VehicleSource(StrEnum):
    ENTERED = "entered"
    IMPORT = "import"
    DEMO = "demo"  # the illustrative fleet `dispatch demo` seeds


class VehicleCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A vehicle; a built-in kind's capacity and crew default to illustrative figures
    (see `fleet.vehicles.DEFAULTS`), a user-defined kind names its lane class and capacity."""

    code: VehicleCode
    depot: DepotCode
    kind: KindCode
    lane_class: LaneClass | None = None
    name: VehicleName | None = None
    payload_kg: PayloadKg | None = None
    volume_m3: VolumeM3 | None = None
    crew_needed: CrewNeeded | None = None
    status: VehicleStatus = VehicleStatus.AVAILABLE
    shift_start: time | None = None
    shift_end: time | None = None
    note: Note | None = None


class VehicleUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Fields left out stay as they are; `null` clears a name, a note or the shift."""

    depot: DepotCode | msgspec.UnsetType = msgspec.UNSET
    kind: KindCode | msgspec.UnsetType = msgspec.UNSET
    lane_class: LaneClass | msgspec.UnsetType = msgspec.UNSET
    name: VehicleName | msgspec.UnsetType | None = msgspec.UNSET
    payload_kg: PayloadKg | msgspec.UnsetType = msgspec.UNSET
    volume_m3: VolumeM3 | msgspec.UnsetType = msgspec.UNSET
    crew_needed: CrewNeeded | msgspec.UnsetType = msgspec.UNSET
    status: VehicleStatus | msgspec.UnsetType = msgspec.UNSET
    shift_start: time | msgspec.UnsetType | None = msgspec.UNSET
    shift_end: time | msgspec.UnsetType | None = msgspec.UNSET
    note: Note | msgspec.UnsetType | None = msgspec.UNSET


class CrewAssign(msgspec.Struct, forbid_unknown_fields=True):
    person_id: PersonId
    role: CrewRole = CrewRole.CREW


class CrewMember(msgspec.Struct):
    person_id: int
    name: str
    role: CrewRole
    skills: list[str]


class VehicleView(msgspec.Struct):
    id: int
    code: str
    depot: str
    depot_name: str
    street: str | None
    kind: str
    lane_class: LaneClass
    name: str | None
    payload_kg: float
    volume_m3: float
    crew_needed: int
    status: VehicleStatus
    shift_start: time | None
    shift_end: time | None
    note: str | None
    source: VehicleSource
    illustrative: bool  # seeded by `dispatch demo`: not a real vehicle
    crew: list[CrewMember]
    crewed: bool  # a driver and as many people as the vehicle needs
    created_at: datetime
    updated_at: datetime | None
    retired_at: datetime | None


class FleetImportResult(msgspec.Struct):
    rows: int
    created: int
    updated: int
    vehicles: list[str]  # codes, in file order


class AvailableVehicle(msgspec.Struct):
    """What a planner needs of one vehicle that can go now: where from, which lanes, how
    much it carries and who drives it."""

    id: int
    code: str
    depot: str
    kind: str
    lane_class: LaneClass
    payload_kg: float
    volume_m3: float
    crew_needed: int
    shift_start: time | None
    shift_end: time | None
    crew: list[CrewMember]
    crewed: bool
