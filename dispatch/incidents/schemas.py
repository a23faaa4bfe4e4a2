"""Bodies of the incidents API: incidents, closures, outages, requests and tasks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import msgspec

from dispatch.fields import (
    TEXT,
    CommunityCode,
    DepotCode,
    ItemCode,
    Latitude,
    Longitude,
    Note,
    SkillCode,
)
from dispatch.places.schemas import CoordinateSystem

Version = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
Quantity = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=300, pattern=TEXT)]
ShelterId = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]


class IncidentType(StrEnum):
    RAINSTORM = "rainstorm"
    FIRE = "fire"
    EARTHQUAKE = "earthquake"
    HEATWAVE = "heatwave"
    SNOW_ICE = "snow_ice"
    PUBLIC_HEALTH = "public_health"
    UTILITY_OUTAGE = "utility_outage"
    BUILDING_COLLAPSE = "building_collapse"


class Level(StrEnum):
    I = "I"  # noqa: E741  (the national scale's own name)
    II = "II"
    III = "III"
    IV = "IV"


class IncidentStatus(StrEnum):
    DECLARED = "declared"
    RESPONDING = "responding"
    STOOD_DOWN = "stood_down"
    CLOSED = "closed"


class Priority(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"


class RequestStatus(StrEnum):
    OPEN = "open"
    PLANNED = "planned"
    PARTIALLY_FULFILLED = "partially_fulfilled"
    FULFILLED = "fulfilled"
    UNMET = "unmet"
    CANCELLED = "cancelled"


# requests still waiting for stock: the ones a plan is made for and the map shows as need
OPEN_REQUEST = (RequestStatus.OPEN, RequestStatus.PLANNED, RequestStatus.PARTIALLY_FULFILLED)


class RequestSource(StrEnum):
    COMMUNITY = "community"
    HOTLINE = "hotline"  # 12345, entered by a worker


class TaskKind(StrEnum):
    DELIVERY = "delivery"
    DOOR_CHECK = "door_check"
    EVACUATION = "evacuation"
    GUARD = "guard"
    DELIVERY_SUPPORT = "delivery_support"


class TaskStatus(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    EN_ROUTE = "en_route"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class IncidentCreate(msgspec.Struct, forbid_unknown_fields=True):
    type: IncidentType
    level: Level
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    communities: Annotated[list[CommunityCode], msgspec.Meta(min_length=1, max_length=200)]
    door_checks: bool = False  # create door-check tasks for the communities' care households


class IncidentView(msgspec.Struct):
    id: int
    type: IncidentType
    level: Level
    title: str
    status: IncidentStatus
    communities: list[str]
    declared_at: datetime
    responding_at: datetime | None
    stood_down_at: datetime | None
    closed_at: datetime | None
    declared_by: str
    summary: dict[str, Any] | None


class LevelRaise(msgspec.Struct, forbid_unknown_fields=True):
    """Raise an incident's response level (IV is the lowest, I the gravest)."""

    level: Level


class IncidentAdvance(msgspec.Struct, forbid_unknown_fields=True):
    """Standing down or closing: with deliveries on their way or tasks in progress, the
    caller says what becomes of them (`cancel_open`: each is cancelled with `reason`, its
    stock returned to its depot); without, it is refused (409) listing them."""

    cancel_open: bool = False
    reason: Reason | None = None


class ClosureCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A circle (`near` [lat, lon] with `radius_m`) or one road (`edge` [node, node])."""

    near: Annotated[list[float], msgspec.Meta(min_length=2, max_length=2)] | None = None
    radius_m: Annotated[float, msgspec.Meta(gt=0, le=5000)] | None = None
    edge: Annotated[list[int], msgspec.Meta(min_length=2, max_length=2)] | None = None
    note: Annotated[str, msgspec.Meta(max_length=300)] | None = None


class ClosureView(msgspec.Struct):
    id: int
    incident: int | None
    kind: str
    lat: float | None
    lon: float | None
    radius_m: float | None
    u: int | None
    v: int | None
    note: str | None
    closed_at: datetime
    opened_at: datetime | None
    rerouted_tasks: list[int] = []
    # One-road closures: the road as [[lon, lat], [lon, lat]], for maps.
    line: list[list[float]] | None = None


class DepotOutageCreate(msgspec.Struct, forbid_unknown_fields=True):
    depot: DepotCode
    reason: Annotated[str, msgspec.Meta(max_length=300)] | None = None


class DepotOutageView(msgspec.Struct):
    id: int
    incident: int | None
    depot: str
    reason: str | None
    out_at: datetime
    back_at: datetime | None


class RequestCreate(msgspec.Struct, forbid_unknown_fields=True):
    community: CommunityCode
    item: ItemCode
    quantity: Quantity
    priority: Priority = Priority.NORMAL
    need_by: datetime | None = None
    source: RequestSource = RequestSource.COMMUNITY
    note: Note | None = None
    shelter: ShelterId | None = None  # for a shelter (安置点) of the community: delivered there


class ShelterRef(msgspec.Struct):
    """The shelter a request (or a plan line, a stop) is for: its id and name (zh-CN)."""

    id: int
    name: str


class RequestView(msgspec.Struct):
    id: int
    incident: int
    community: str
    street: str
    item: str
    quantity: int
    priority: Priority
    need_by: datetime | None
    source: RequestSource
    note: str | None
    status: RequestStatus
    planned_qty: int
    delivered_qty: int
    unmet_reason: str | None
    created_at: datetime
    created_by: str
    fulfilled_at: datetime | None
    shelter: ShelterRef | None = None


class RequestCancel(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=300)]


class TaskCreate(msgspec.Struct, forbid_unknown_fields=True):
    kind: TaskKind
    community: CommunityCode
    people: Annotated[int, msgspec.Meta(ge=1, le=500)]
    minutes: Annotated[int, msgspec.Meta(ge=1, le=10080)] = 60
    skills: Annotated[list[SkillCode], msgspec.Meta(max_length=9)] = []
    note: Note | None = None
    concurrent: bool = False  # its people may be on other tasks at the same time (a watch)
    # an evacuation's shelter; left out, the nearest open shelter with room is named
    shelter: Annotated[int, msgspec.Meta(ge=1, le=2147483647)] | None = None


class StopLot(msgspec.Struct):
    lot_number: str
    expires_on: str | None
    quantity: int


class StopLine(msgspec.Struct):
    """One transfer unloaded at a stop: what, how many, from which lots, for which request."""

    transfer: int
    request: int | None
    item: str
    item_name: str
    unit: str
    quantity: int
    lots: list[StopLot]
    status: str  # the transfer's: dispatched, received or cancelled
    received: int | None = None


class StopView(msgspec.Struct):
    """A run task's stop, in driving order, with what to unload and who signed for it."""

    id: int
    seq: int
    trip: int
    community: str
    community_name: str
    street: str
    eta_at: datetime
    depart_at: datetime
    kg: float
    m3: float
    status: str  # pending or done
    lines: list[StopLine]
    receiver: str | None = None
    shortfall_reason: str | None = None
    done_at: datetime | None = None
    done_by: str | None = None
    # why a reroute round a closure could not reach it (road_closed), else None
    unreachable: str | None = None
    shelter: ShelterRef | None = None  # unloaded at this shelter, not the committee


class RunVehicle(msgspec.Struct):
    id: int
    code: str
    kind: str
    name: str | None
    depot: str
    depot_name: str


class TaskShelter(msgspec.Struct):
    """Where an evacuation takes its people: the shelter, its place and the room left."""

    id: int
    code: str
    name: str
    community: str
    lat: float
    lon: float
    status: str
    room: int


class TaskView(msgspec.Struct):
    id: int
    incident: int
    kind: TaskKind
    community: str
    street: str
    people_needed: int
    skills: list[str]
    minutes: int
    status: TaskStatus
    version: int
    transfer: int | None
    request: int | None
    route: dict[str, Any] | None
    households: list[int]
    households_checked: int
    delivered_qty: int | None
    failed_reason: str | None
    note: str | None
    assignees: list[int]
    created_at: datetime
    assigned_at: datetime | None
    accepted_at: datetime | None
    en_route_at: datetime | None
    finished_at: datetime | None
    position: PositionView | None = None  # the latest GPS fix of a task on its way
    concurrent: bool = False  # its people may be on other tasks at the same time
    vehicle: RunVehicle | None = None  # a run task: the vehicle driving it
    stops: list[StopView] = msgspec.field(default_factory=list)  # a run task's, in order
    shelter: TaskShelter | None = None  # an evacuation's: where its people are taken


class TaskAssign(msgspec.Struct, forbid_unknown_fields=True):
    version: Version
    people: Annotated[
        list[Annotated[int, msgspec.Meta(ge=1)]], msgspec.Meta(min_length=1, max_length=500)
    ]
    note: Note | None = None
    # a commander's stated reason to assign people the rules refuse (audited)
    override_reason: Reason | None = None


class TaskStep(msgspec.Struct, forbid_unknown_fields=True):
    """accept / pick up (en route): only the version the client saw."""

    version: Version
    note: Note | None = None


class TaskComplete(msgspec.Struct, forbid_unknown_fields=True):
    """Done: a delivery says how much arrived (the transfer is received with it); a door
    check says how many households were checked."""

    version: Version
    delivered: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] | None = None
    shortfall_reason: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    households_checked: Annotated[int, msgspec.Meta(ge=0, le=10_000)] | None = None
    note: Note | None = None


class StopDelivered(msgspec.Struct, forbid_unknown_fields=True):
    transfer: Annotated[int, msgspec.Meta(ge=1, le=2**62)]
    delivered: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]


class StopComplete(msgspec.Struct, forbid_unknown_fields=True):
    """A stop unloaded: who received it and, per transfer, how much arrived when less than
    was sent (a transfer not named arrived in full); anything short needs a reason."""

    version: Version
    receiver: Annotated[str, msgspec.Meta(min_length=1, max_length=60, pattern=TEXT)]
    lines: Annotated[list[StopDelivered], msgspec.Meta(max_length=200)] = msgspec.field(
        default_factory=list
    )
    shortfall_reason: Reason | None = None
    note: Note | None = None


class TaskFail(msgspec.Struct, forbid_unknown_fields=True):
    version: Version
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class TaskNote(msgspec.Struct, forbid_unknown_fields=True):
    version: Version
    note: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class PositionReport(msgspec.Struct, forbid_unknown_fields=True):
    """Where the team on its way is: a GPS fix from the tablet (browsers give WGS-84;
    Chinese map apps give GCJ-02, converted on entry). `at` defaults to now."""

    lat: Latitude
    lon: Longitude
    accuracy_m: Annotated[float, msgspec.Meta(ge=0, le=10_000)] | None = None
    at: datetime | None = None
    system: CoordinateSystem = CoordinateSystem.WGS84


class PositionView(msgspec.Struct):
    task: int
    at: datetime
    lat: float  # WGS-84
    lon: float
    accuracy_m: float | None
    next_node: int | None  # index in the task's route of the junction it reaches next
    off_route_m: float | None  # how far the fix is from the route


class ProgressView(msgspec.Struct):
    id: int
    at: datetime
    actor: str
    event: str
    from_status: str | None
    to_status: str | None
    quantity: int | None
    note: str | None


class Summary(msgspec.Struct):
    """The after-action figures of an incident (and of a replay)."""

    requests: int
    requested_units: int
    delivered_units: int
    fill_rate: float
    fill_rate_by_priority: dict[str, float]
    first_delivery_minutes: float | None
    delivery_minutes: dict[str, float]
    tasks: int
    tasks_staffed: int
    tasks_done: int
    people_hours: float
    unmet: list[dict[str, Any]]
