"""Bodies of the hotline API. The caller's phone is masked in every view (`138****5678`);
only the audited reveal returns it whole."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import msgspec

from dispatch.fields import TEXT, CommunityCode, ItemCode, SkillCode, StreetCode
from dispatch.incidents.schemas import Priority

Version = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
TicketNumber = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9-]{4,32}$")]
# digits with an optional leading +, spaces and dashes allowed (kept without them)
Phone = Annotated[str, msgspec.Meta(pattern=r"^\+?[0-9][0-9 \-]{4,22}$")]
CallerName = Annotated[str, msgspec.Meta(min_length=1, max_length=60, pattern=TEXT)]
Address = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=TEXT)]
Content = Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=TEXT)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=TEXT)]
RecordId = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
Minutes = Annotated[int, msgspec.Meta(ge=1, le=525_600)]


class Category(StrEnum):
    EMERGENCY_SUPPLIES = "emergency_supplies"  # 应急物资
    EVACUATION_SAFETY = "evacuation_safety"  # 疏散与安全
    UTILITIES = "utilities"  # 水电气热
    CARE_HOUSEHOLD = "care_household"  # 老人与困难家庭
    ROAD = "road"  # 道路
    OTHER = "other"  # 其他


class Urgency(StrEnum):
    """Most urgent first."""

    CRITICAL = "critical"  # 特急
    URGENT = "urgent"  # 紧急
    NORMAL = "normal"  # 一般


class TicketStatus(StrEnum):
    RECEIVED = "received"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    REPLIED = "replied"
    CLOSED = "closed"
    RETURNED = "returned"  # wrong jurisdiction: back to the district
    MERGED = "merged"  # a repeated call, merged into an open ticket (its number kept)


class PlaceSource(StrEnum):
    GIVEN = "given"  # the creator named the community (or street)
    ADDRESS = "address"  # matched from the address text
    PERSON = "person"  # chosen later by a person


class ReplyChannel(StrEnum):
    PHONE = "phone"
    SMS = "sms"
    VISIT = "visit"
    OTHER = "other"


class Rating(StrEnum):
    SATISFIED = "satisfied"  # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    DISSATISFIED = "dissatisfied"  # 不满意


class DeadlineState(StrEnum):
    """One deadline judged on the service's clock."""

    ON_TIME = "on_time"  # not met yet, more than a quarter of the time left
    NEARLY_DUE = "nearly_due"  # not met yet, a quarter of the time or less left
    OVERDUE = "overdue"  # not met, past due
    MET = "met"  # met in time
    LATE = "late"  # met after the deadline


class LinkKind(StrEnum):
    REQUEST = "request"
    TASK = "task"


class TicketCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A call as the 12345 platform passes it on. `number`: the platform's (else one is
    generated); `received_at`: when the call came in (else now; never in the future).
    Without `community` or `street`, the community is matched from the address."""

    category: Category
    content: Content
    urgency: Urgency = Urgency.NORMAL
    number: TicketNumber | None = None
    received_at: datetime | None = None
    caller_name: CallerName | None = None
    caller_phone: Phone | None = None
    address: Address | None = None
    community: CommunityCode | None = None
    street: StreetCode | None = None
    incident: RecordId | None = None


class TicketUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Fields left out stay; `community` is the person's choice when the address matched
    none (or the wrong one)."""

    version: Version
    caller_name: CallerName | None = None
    caller_phone: Phone | None = None
    address: Address | None = None
    community: CommunityCode | None = None
    category: Category | None = None
    urgency: Urgency | None = None
    content: Content | None = None
    incident: RecordId | None = None


class TicketAssign(msgspec.Struct, forbid_unknown_fields=True):
    """Dispatch to a street, or to a community (its street follows)."""

    version: Version
    street: StreetCode | None = None
    community: CommunityCode | None = None
    note: Content | None = None


class TicketStep(msgspec.Struct, forbid_unknown_fields=True):
    version: Version
    note: Content | None = None


class TicketReturn(msgspec.Struct, forbid_unknown_fields=True):
    version: Version
    reason: Reason


class TicketReply(msgspec.Struct, forbid_unknown_fields=True):
    """The answer given to the caller: how and what (when and by whom: the service's)."""

    version: Version
    channel: ReplyChannel
    content: Content


class TicketRate(msgspec.Struct, forbid_unknown_fields=True):
    """The caller's verdict on the return visit (回访)."""

    version: Version
    rating: Rating
    solved: bool


class TicketLink(msgspec.Struct, forbid_unknown_fields=True):
    kind: LinkKind
    id: RecordId


class DuplicateReason(StrEnum):
    PHONE = "phone"  # the same caller's number
    ADDRESS = "address"  # the same address and category


class DuplicateView(msgspec.Struct):
    """An open ticket this call may repeat: offered, merged only when a person confirms."""

    id: int
    number: str
    received_at: datetime
    status: TicketStatus
    reason: DuplicateReason


class TicketMerge(msgspec.Struct, forbid_unknown_fields=True):
    """Merge this ticket (a repeated call) into the open ticket `into`."""

    version: Version
    into: RecordId


class LinkView(msgspec.Struct):
    kind: LinkKind
    id: int
    status: str  # the request's or task's own status
    finished: bool  # fulfilled, unmet, done, failed or cancelled


class TicketRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A supply request prefilled from the ticket: its incident and community unless
    given; source `hotline`, the note names the ticket."""

    item: ItemCode
    quantity: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
    priority: Priority = Priority.NORMAL
    incident: RecordId | None = None
    community: CommunityCode | None = None


class ActionKind(StrEnum):
    DOOR_CHECK = "door_check"
    EVACUATION = "evacuation"


class TicketTask(msgspec.Struct, forbid_unknown_fields=True):
    """A door check or evacuation task prefilled from the ticket (incident, community)."""

    kind: ActionKind
    people: Annotated[int, msgspec.Meta(ge=1, le=500)] = 2
    minutes: Annotated[int, msgspec.Meta(ge=1, le=10080)] = 60
    skills: Annotated[list[SkillCode], msgspec.Meta(max_length=9)] = []
    incident: RecordId | None = None
    community: CommunityCode | None = None


class DeadlineView(msgspec.Struct):
    due: datetime
    state: DeadlineState
    minutes_left: int | None  # negative when past due; None once met


class TicketView(msgspec.Struct):
    id: int
    number: str
    received_at: datetime
    caller_name: str | None
    caller_phone: str | None  # masked
    address: str | None
    community: str | None
    community_name: str | None
    street: str | None
    street_name: str | None
    place_source: PlaceSource | None
    category: Category
    urgency: Urgency
    content: str
    incident: int | None
    status: TicketStatus
    version: int
    response: DeadlineView
    resolution: DeadlineView
    overdue: bool
    nearly_due: bool
    assigned_at: datetime | None
    responded_at: datetime | None
    replied_at: datetime | None
    reply_channel: ReplyChannel | None
    reply_content: str | None
    replied_by: str | None
    rating: Rating | None
    solved: bool | None
    rated_at: datetime | None
    closed_at: datetime | None
    returned_at: datetime | None
    return_reason: str | None
    links: list[LinkView]
    reply_reminder: bool  # every request and task it gave rise to is finished: reply now
    duplicates: list[DuplicateView]  # open tickets this call may repeat (in the reader's scope)
    merged_into: int | None
    merged_numbers: list[str]  # the numbers of the repeated calls merged into this one
    created_at: datetime
    created_by: str


class StepView(msgspec.Struct):
    id: int
    at: datetime
    actor: str
    step: str
    from_status: TicketStatus | None
    to_status: TicketStatus
    street: str | None
    community: str | None
    note: str | None


class Revealed(msgspec.Struct):
    """The caller's whole phone number; every reveal is audited."""

    id: int
    number: str
    caller_name: str | None
    caller_phone: str | None


class DeadlineRule(msgspec.Struct):
    urgency: Urgency
    category: Category
    response_minutes: int
    resolution_minutes: int
    illustrative: bool  # a default of this project, not an official figure
    updated_at: datetime | None
    updated_by: str | None


class DeadlineSet(msgspec.Struct, forbid_unknown_fields=True):
    response_minutes: Minutes
    resolution_minutes: Minutes


class Figures(msgspec.Struct):
    """接诉即办 figures of one street, one community or the district, for a period.

    响应率: tickets responded within the response deadline, of those whose response is
    decided (responded, or past due on the clock); 解决率: solved, of those rated; 满意率:
    满意 or 基本满意, of those rated. None when nothing counts yet. Merged calls count in
    the ticket they joined, not again."""

    tickets: int
    responded_in_time: int
    response_decided: int
    response_rate: float | None
    rated: int
    solved: int
    resolution_rate: float | None
    satisfied: int
    satisfaction_rate: float | None
    median_response_minutes: float | None
    median_resolution_minutes: float | None
    overdue_now: int


class PlaceFigures(msgspec.Struct):
    code: str | None  # None: held by the district (not dispatched, or returned)
    name: str
    street: str | None
    figures: Figures


class FiguresReport(msgspec.Struct):
    received_from: datetime | None
    received_to: datetime | None
    at: datetime  # the clock's moment the figures were judged on
    district: Figures
    streets: list[PlaceFigures]
    communities: list[PlaceFigures]


class ImportResult(msgspec.Struct):
    rows: int
    numbers: list[str]  # the tickets' numbers, in the file's order
    unplaced: int  # how many no street could be found for (a person places them)
