"""Bodies of the preparedness API: shelters and their intake, community plans, coverage and
activations."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import msgspec

from dispatch.fields import TEXT, CommunityCode, ItemCode, Latitude, Longitude, Note, SkillCode
from dispatch.incidents.schemas import IncidentType, Level, Priority, RequestView, TaskKind

ShelterCode = Annotated[
    str, msgspec.Meta(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_\-]+$")
]
ShelterName = Annotated[str, msgspec.Meta(min_length=1, max_length=80, pattern=TEXT)]
Capacity = Annotated[int, msgspec.Meta(ge=1, le=100_000)]
HeadCount = Annotated[int, msgspec.Meta(ge=1, le=100)]
Needs = Annotated[str, msgspec.Meta(max_length=300, pattern=TEXT)]
RefId = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=TEXT)]
RoleName = Annotated[str, msgspec.Meta(min_length=1, max_length=60, pattern=TEXT)]


class ShelterStatus(StrEnum):
    READY = "ready"  # prepared, not yet taking people
    OPEN = "open"  # taking people
    FULL = "full"  # open, with no room left (set by intake and discharge)
    CLOSED = "closed"


class Source(StrEnum):
    ENTERED = "entered"
    DEMO = "demo"  # illustrative, seeded by `dispatch demo`


class ShelterCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A shelter in a community; its location is WGS-84."""

    code: ShelterCode
    name: ShelterName
    community: CommunityCode
    lat: Latitude
    lon: Longitude
    capacity: Capacity
    heating: bool = False
    accessible: bool = False
    medical: bool = False
    status: ShelterStatus = ShelterStatus.READY


class ShelterUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Fields left out stay; `status` may be ready, open or closed (full follows occupancy)."""

    name: ShelterName | msgspec.UnsetType = msgspec.UNSET
    capacity: Capacity | msgspec.UnsetType = msgspec.UNSET
    heating: bool | msgspec.UnsetType = msgspec.UNSET
    accessible: bool | msgspec.UnsetType = msgspec.UNSET
    medical: bool | msgspec.UnsetType = msgspec.UNSET
    status: ShelterStatus | msgspec.UnsetType = msgspec.UNSET


class ShelterView(msgspec.Struct):
    id: int
    code: str
    name: str
    community: str
    street: str
    lat: float
    lon: float
    capacity: int
    occupancy: int
    room: int  # capacity - occupancy
    heating: bool
    accessible: bool
    medical: bool
    status: ShelterStatus
    illustrative: bool
    created_at: datetime
    updated_at: datetime | None


class IntakeCreate(msgspec.Struct, forbid_unknown_fields=True):
    """One household arriving: a care household's id if it is one, how many people, needs."""

    people: HeadCount
    household_id: RefId | None = None
    needs: Needs | None = None


class RegistrationView(msgspec.Struct):
    id: int
    shelter_id: int
    household_id: int | None
    household_code: str | None  # never the head's name or phone: the register is shown
    people: int
    needs: str | None
    registered_at: datetime
    registered_by: str
    left_at: datetime | None


class IntakeResult(msgspec.Struct):
    registration: RegistrationView
    shelter: ShelterView


class ShelterNeed(msgspec.Struct):
    """One item a shelter needs for its present occupancy, by the norms
    (`shelter_needs.NORMS`), and how much of it is already asked for."""

    item: str
    item_name: str  # zh-CN
    item_name_en: str
    unit: str
    quantity: int  # by the norms, for the people there now
    requested: int  # already asked for this shelter (open, planned or delivered)
    to_request: int  # quantity - requested, never below 0


class ShelterNeeds(msgspec.Struct):
    shelter: int
    shelter_name: str
    occupancy: int
    heating: bool
    needs: list[ShelterNeed]


class ShelterRequestsCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Turn the shelter's needs into supply requests of this incident."""

    incident: Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
    priority: Priority = Priority.NORMAL
    need_by: datetime | None = None


class ShelterRequestsResult(msgspec.Struct):
    needs: ShelterNeeds  # as they were before these requests
    requests: list[RequestView]  # the ones made now (none when nothing more is needed)


class HolderKind(StrEnum):
    PERSON = "person"
    TEAM = "team"
    UNIT = "unit"  # a partner unit (结对共建单位)
    STREET_SQUAD = "street_squad"  # the street's squad (a team of kind street_squad)


class Holder(msgspec.Struct, forbid_unknown_fields=True):
    kind: HolderKind
    id: RefId


class HazardSpec(msgspec.Struct, forbid_unknown_fields=True):
    """The plan is for incidents of `type` at `min_level` or graver (I is the gravest)."""

    type: IncidentType
    min_level: Level


AckMinutes = Annotated[int, msgspec.Meta(ge=1, le=1440)]
DEFAULT_ACK_MINUTES = 10  # a call-out unanswered this long escalates (service clock)


class RoleSpec(msgspec.Struct, forbid_unknown_fields=True):
    """`ack_minutes`: how long the role's call-out waits for an answer before it escalates
    to the deputy, then to the street squad leader (None: 10 minutes)."""

    role: RoleName
    holder: Holder
    deputy: Holder
    ack_minutes: AckMinutes | None = None


class TaskTemplate(msgspec.Struct, forbid_unknown_fields=True):
    kind: TaskKind
    people: Annotated[int, msgspec.Meta(ge=1, le=500)]
    minutes: Annotated[int, msgspec.Meta(ge=1, le=10080)] = 60
    skills: Annotated[list[SkillCode], msgspec.Meta(max_length=9)] = []
    note: Note | None = None


class AssemblyPoint(msgspec.Struct, forbid_unknown_fields=True):
    """Where the community's people gather when the plan starts (集合点)."""

    name: ShelterName
    lat: Latitude
    lon: Longitude
    note: Note | None = None


class PledgeSpec(msgspec.Struct, forbid_unknown_fields=True):
    """Supplies a partner unit paired with the community pledges to bring (承诺物资)."""

    unit: RefId
    item: ItemCode
    quantity: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]


class PledgeView(msgspec.Struct):
    unit: int
    unit_name: str
    item: str
    item_name: str  # in zh-CN; item_name_en beside it
    item_name_en: str
    measure: str  # the item's unit of measure (件, 箱, ...)
    quantity: int


class PlanCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A new version of a community's plan (a draft until approved)."""

    community: CommunityCode
    title: Title
    hazards: Annotated[list[HazardSpec], msgspec.Meta(min_length=1, max_length=8)]
    roles: Annotated[list[RoleSpec], msgspec.Meta(max_length=30)] = []
    shelters: Annotated[list[RefId], msgspec.Meta(max_length=10)] = []
    tasks: Annotated[list[TaskTemplate], msgspec.Meta(max_length=30)] = []
    assembly_points: Annotated[list[AssemblyPoint], msgspec.Meta(max_length=10)] = []
    pledges: Annotated[list[PledgeSpec], msgspec.Meta(max_length=50)] = []


class PlanImportResult(msgspec.Struct):
    rows: int
    plans: list[int]  # the new draft plans' ids, one per community of the file


class PlanStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SUPERSEDED = "superseded"


class HolderView(msgspec.Struct):
    kind: HolderKind
    id: int
    name: str
    phone: str | None  # masked


class RoleView(msgspec.Struct):
    role: str
    holder: HolderView
    deputy: HolderView
    ack_minutes: int  # the role's limit, or the default


class PlanView(msgspec.Struct):
    id: int
    community: str
    street: str
    version: int
    title: str
    status: PlanStatus
    illustrative: bool
    hazards: list[HazardSpec]
    roles: list[RoleView]
    shelters: list[int]
    tasks: list[TaskTemplate]
    assembly_points: list[AssemblyPoint]
    pledges: list[PledgeView]
    created_at: datetime
    created_by: str
    approved_at: datetime | None
    approved_by: str | None


class StreetCoverage(msgspec.Struct):
    street: str
    name: str
    communities: int
    with_plan: int  # communities with an approved plan (any hazard)
    by_hazard: dict[str, int]  # incident type -> communities whose approved plan covers it


class Coverage(msgspec.Struct):
    communities: int
    with_plan: int
    by_hazard: dict[str, int]
    streets: list[StreetCoverage]


class ActivationView(msgspec.Struct):
    id: int
    plan_id: int
    incident: int
    community: str
    street: str
    tasks: list[int]
    shelters: list[int]
    activated_at: datetime
    activated_by: str


class CalloutState(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"  # the recipient's tablet, phone or link showed it
    ACKNOWLEDGED = "acknowledged"  # coming, with an ETA
    DECLINED = "declined"  # with a reason
    NO_ANSWER = "no_answer"


OPEN_STATES = (CalloutState.SENT, CalloutState.DELIVERED)  # still waiting for an answer


class Via(StrEnum):
    """How a call-out was delivered or answered."""

    APP = "app"  # a logged-in page or the squad tablet, through the API
    SMS = "sms"  # the SMS gateway (a delivery report, a reply)
    LINK = "link"  # the recipient's one-time link
    SWEEP = "sweep"  # the service clock: unanswered in time


class CalloutAck(msgspec.Struct, forbid_unknown_fields=True):
    eta_minutes: Annotated[int, msgspec.Meta(ge=0, le=1440)]


Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=300, pattern=TEXT)]


class CalloutDecline(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason


class SmsStatus(StrEnum):
    PENDING = "pending"  # waiting for its (next) try
    SENT = "sent"  # the gateway took it
    FAILED = "failed"  # the gateway refused it for good (a bad number)


class SmsView(msgspec.Struct):
    """A call-out step's SMS as the log shows it: the phone masked, never the text (it
    holds the recipient's one-time link)."""

    id: int
    phone: str | None  # masked
    status: SmsStatus
    attempts: int
    next_attempt_at: datetime | None  # while pending
    last_error: str | None
    sent_at: datetime | None
    delivered_at: datetime | None


class ReplyOutcome(StrEnum):
    ACKNOWLEDGED = "acknowledged"  # `1` (optionally with minutes): coming
    DECLINED = "declined"  # `2` (optionally with a reason): cannot come
    UNKNOWN = "unknown"  # not understood: kept and shown, nothing done
    LATE = "late"  # understood, but the call-out was answered or escalated already
    UNMATCHED = "unmatched"  # from a phone no call-out went to


class ReplyView(msgspec.Struct):
    id: int
    text: str  # as sent, any phone number in it masked
    outcome: ReplyOutcome
    received_at: datetime


class CalloutView(msgspec.Struct):
    """One recipient of a role's call-out. The steps of one role share `origin_id` (the
    first step's id): step 0 the holder, 1 the deputy, 2 the street squad leader."""

    id: int
    activation_id: int
    incident: int
    community: str
    street: str
    role: str
    recipient: HolderView
    state: CalloutState
    eta_minutes: int | None
    reason: str | None
    sent_at: datetime
    answered_at: datetime | None
    answered_by: str | None
    step: int
    origin_id: int
    escalated_from: int | None
    ack_minutes: int
    due_at: datetime  # unanswered by then, it escalates
    delivered_at: datetime | None
    delivered_via: Via | None
    answered_via: Via | None
    escalated_at: datetime | None
    sms: SmsView | None
    replies: list[ReplyView]


class CalloutLink(msgspec.Struct):
    """The recipient's one-time link: whoever holds it may answer this step once."""

    callout: int
    url: str
    expires_at: datetime


class InboundKind(StrEnum):
    REPLY = "reply"  # a recipient's answer
    DELIVERY = "delivery"  # the gateway's delivery report for one of our messages


GatewayRef = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[!-~]+$")]
SenderPhone = Annotated[str, msgspec.Meta(min_length=5, max_length=24, pattern=r"^\+?[0-9 \-]+$")]


class SmsInbound(msgspec.Struct, forbid_unknown_fields=True):
    """What the gateway posts to the webhook. A reply has its own `id` (a replayed webhook
    is recognised by it), the sender's `phone` and `text`; `reference` names the message
    it answers when the gateway knows it (otherwise the phone's latest open call-out). A
    delivery report names the message by `reference`."""

    kind: InboundKind
    id: GatewayRef
    reference: Annotated[str, msgspec.Meta(max_length=36)] | None = None
    phone: SenderPhone | None = None
    text: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    delivered: bool = True  # a delivery report: False when the gateway could not deliver


class InboundResult(msgspec.Struct):
    kind: InboundKind
    callout: int | None
    outcome: ReplyOutcome | None  # a reply's
    replayed: bool  # the same gateway id came before: nothing was done again
