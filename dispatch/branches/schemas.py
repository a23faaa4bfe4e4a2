"""Bodies of the branches API: branches and their members, assistance pairings (结对帮扶)
and visits, coverage per street, community activities with sign-up and attendance, and the
service-record report."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

import msgspec

from dispatch.fields import TEXT, CommunityCode, Note

BranchCode = Annotated[str, msgspec.Meta(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_\-]+$")]
BranchName = Annotated[str, msgspec.Meta(min_length=1, max_length=120, pattern=TEXT)]
PersonId = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
RowId = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
Members = Annotated[list[PersonId], msgspec.Meta(max_length=500)]
Hours = Annotated[float, msgspec.Meta(gt=0, le=24)]
Visitors = Annotated[list[PersonId], msgspec.Meta(min_length=1, max_length=50)]


class BranchKind(StrEnum):
    EMPLOYER = "employer"  # 机关企事业单位在职党支部: its partner unit is the employer
    TWO_NEW = "two_new"  # 两新组织党支部


class BranchSource(StrEnum):
    ENTERED = "entered"
    IMPORT = "import"
    DEMO = "demo"  # synthetic, seeded by `dispatch demo`


class VisitKind(StrEnum):
    VISIT = "visit"  # 走访
    SUPPLIES = "supplies"  # 送物资
    TUTORING = "tutoring"  # 学业辅导 (a student in the household)
    REPAIR = "repair"  # 维修
    OTHER = "other"


class BranchCreate(msgspec.Struct, forbid_unknown_fields=True):
    """An employer's branch names its partner unit; a two-new branch its organisation (or a
    partner unit of kind two_new). Members are Party members of the registry."""

    code: BranchCode
    name: BranchName
    kind: BranchKind
    unit_id: RowId | None = None
    organisation: BranchName | None = None
    secretary_id: PersonId | None = None
    members: Members = msgspec.field(default_factory=list)


class BranchUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Fields left out stay; `members` given replaces the member list (the secretary must
    stay among them)."""

    name: BranchName | msgspec.UnsetType = msgspec.UNSET
    unit_id: RowId | msgspec.UnsetType | None = msgspec.UNSET
    organisation: BranchName | msgspec.UnsetType | None = msgspec.UNSET
    secretary_id: PersonId | msgspec.UnsetType | None = msgspec.UNSET
    members: Members | msgspec.UnsetType = msgspec.UNSET


class BranchMemberView(msgspec.Struct):
    person_id: int
    code: str
    name: str
    phone: str | None  # masked
    street: str
    community: str | None  # home community (双报到)
    community_name: str | None


class CommunityMembers(msgspec.Struct):
    community: str | None
    community_name: str | None
    street: str | None
    members: list[BranchMemberView]


class BranchView(msgspec.Struct):
    id: int
    code: str
    name: str
    kind: BranchKind
    unit_id: int | None
    unit_name: str | None
    organisation: str | None
    secretary_id: int | None
    secretary_name: str | None
    members: int
    households: int  # assisted now
    streets: list[str]  # where its members live and its households are: its scope
    source: BranchSource
    illustrative: bool
    created_at: datetime
    updated_at: datetime | None


class AssistanceCreate(msgspec.Struct, forbid_unknown_fields=True):
    branch_id: RowId
    household_id: RowId
    starts_on: date
    ends_on: date | None = None
    pledge: Note | None = None


class AssistanceEnd(msgspec.Struct, forbid_unknown_fields=True):
    ends_on: date


class HouseholdBrief(msgspec.Struct):
    """What a pairing shows of its household: never the name; the phone and address masked
    as everywhere (`people.lookups`), and only to those who may read care households (a
    street leader gets none); the whole record is `/api/care-households`'."""

    id: int
    code: str
    kind: str
    has_student: bool
    community: str
    street: str
    phone: str | None
    address: str | None


class AssistanceView(msgspec.Struct):
    id: int
    branch_id: int
    branch_name: str
    household: HouseholdBrief
    starts_on: date
    ends_on: date | None
    pledge: str | None
    in_force: bool
    visits: int
    hours: float


class VisitCreate(msgspec.Struct, forbid_unknown_fields=True):
    visited_on: date
    kind: VisitKind
    hours: Hours
    people: Visitors
    note: Note | None = None


class VisitView(msgspec.Struct):
    id: int
    assistance_id: int
    visited_on: date
    kind: VisitKind
    hours: float
    people: list[int]
    note: str | None


class HouseholdCover(msgspec.Struct):
    """A care household and whether a branch assists it (False: flagged)."""

    household: HouseholdBrief
    assisted: bool
    branch_id: int | None
    branch_name: str | None


class StreetCoverage(msgspec.Struct):
    street: str
    street_name: str
    low_income: int
    students: int
    assisted: int
    coverage_pct: float  # assisted low-income households / low-income households


class ReportBy(StrEnum):
    PERSON = "person"
    COMMUNITY = "community"
    STREET = "street"
    BRANCH = "branch"
    UNIT = "unit"


class ReportRow(msgspec.Struct):
    key: str | None
    name: str | None
    people: int
    hours: float  # tasks done, visits and activities attended
    task_hours: float
    visit_hours: float
    activity_hours: float
    duty_hours: float  # on duty (check-in to check-out); not in `hours`: tasks overlap it
    visits: int
    households: int
    activities: int  # distinct activities someone attended


class ServiceReport(msgspec.Struct):
    by: ReportBy
    date_from: date
    date_to: date
    street: str | None
    rows: list[ReportRow]
    total: ReportRow


# --- community activities (社区活动) ----------------------------------------------------

ActivityTitle = Annotated[str, msgspec.Meta(min_length=1, max_length=120, pattern=TEXT)]
ActivityPlace = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=TEXT)]
Capacity = Annotated[int, msgspec.Meta(ge=1, le=1000)]


class ActivityKind(StrEnum):
    CLEAN_UP = "clean_up"  # 周末卫生大扫除
    WASTE_SORTING = "waste_sorting"  # 垃圾分类值守
    PATROL = "patrol"  # 巡逻
    OTHER = "other"


class ActivitySource(StrEnum):
    ENTERED = "entered"
    DEMO = "demo"  # synthetic, seeded by `dispatch demo`


class SignupStatus(StrEnum):
    SIGNED_UP = "signed_up"
    CANCELLED = "cancelled"
    CHECKED_IN = "checked_in"
    CHECKED_OUT = "checked_out"


class ActivityCreate(msgspec.Struct, forbid_unknown_fields=True):
    """An activity in a community, at most 24 hours long; the organiser is a person of the
    registry (by default the person the creating user is)."""

    community: CommunityCode
    title: ActivityTitle
    kind: ActivityKind
    starts_at: datetime
    ends_at: datetime
    place: ActivityPlace
    capacity: Capacity
    organiser_id: PersonId | None = None
    note: Note | None = None


class ActivityView(msgspec.Struct):
    id: int
    community: str
    community_name: str
    street: str
    street_name: str
    title: str
    kind: ActivityKind
    starts_at: datetime
    ends_at: datetime
    place: str
    capacity: int
    signed_up: int  # sign-ups in force
    places_left: int
    attended: int  # checked in
    organiser_id: int
    organiser_name: str
    note: str | None
    source: ActivitySource
    illustrative: bool
    mine: SignupStatus | None  # the reader's own sign-up (None: not signed up)
    takes_attendance: bool  # the reader may check people in and out
    created_at: datetime


class SignupCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Who signs up: by default the person the user is; another person only by the
    organiser or a manager of the activity's community."""

    person_id: PersonId | None = None


class AttendanceMark(msgspec.Struct, forbid_unknown_fields=True):
    """When the person came or left: by default now; a tablet sends the moment of the tap,
    which may reach the service later (offline)."""

    at: datetime | None = None


class SignupView(msgspec.Struct):
    """A person on an activity's list: name and code, never a phone."""

    activity_id: int
    person_id: int
    person_code: str
    person_name: str
    community: str | None  # home community (双报到)
    status: SignupStatus
    signed_up_at: datetime
    cancelled_at: datetime | None
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    hours: float  # counted so far (see dispatch/branches/activities.py)
